"""Acceptance on the embedded model: both SDKs against the proxies with `local:smollm2`."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.api.conftest import APP_KEY, Serve

QUESTION = [{"role": "user", "content": "Name one fruit that is yellow."}]


@pytest.mark.slow
def test_both_sdks_plain_and_streaming_on_the_embedded_model(serve: Serve) -> None:
    """OpenAI plain + stream and Anthropic plain + stream all return supervised text."""
    with serve() as served:
        chat = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0)
        plain = chat.chat.completions.with_raw_response.create(
            model="local:smollm2", messages=QUESTION, max_tokens=24)
        streamed = "".join(c.choices[0].delta.content or "" for c in chat.chat.completions.create(
            model="local:smollm2", messages=QUESTION, max_tokens=24, stream=True)
            if c.choices)
        messages = anthropic.Anthropic(base_url=served.url, api_key=APP_KEY, max_retries=0)
        reply = messages.messages.create(model="local:smollm2", max_tokens=24,
                                         messages=QUESTION)
        with messages.messages.stream(model="local:smollm2", max_tokens=24,
                                      messages=QUESTION) as stream:
            final = stream.get_final_text()
    completion = plain.parse()
    assert completion.choices[0].message.content.strip()
    assert plain.headers["x-supervisor-action"] in ("allow", "revise")
    assert streamed.strip() and reply.content[0].text.strip() and final.strip()
    # the model is deterministic at temperature 0: a stream is the same answer, held whole
    assert streamed == completion.choices[0].message.content
