"""Bad input is a clear 4xx naming what to fix, and a refused supervision is still recorded.

A lone surrogate (`"\\ud800"` sent as a JSON escape) used to reach the ledger's hashing
and answer 500 with no record; a body that is not UTF-8 or nests too deeply got a vague
"error parsing the body". Every text the service refuses leaves an `error` decision.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import AUDITOR_KEY, Serve, Served

SURROGATE = "\\ud800"  # the six characters of the JSON escape, not the code point


def _record(served: Served, record_id: str) -> dict[str, Any]:
    response = served.client(AUDITOR_KEY).get(f"/v1/audit/records/{record_id}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()["record"]
    return record


def _message(response: Any) -> str:
    """The error message in OpenAI's body, or in Anthropic's on /v1/messages."""
    return str(response.json()["error"]["message"])


CASES = [
    ("/v1/moderations", f'{{"input": ["A fine text.", "bad {SURROGATE} text"]}}', "input[1]"),
    ("/v1/moderations", f'{{"input": [{{"type": "text", "text": "{SURROGATE}"}}]}}',
     "input[0].text"),
    ("/v1/moderations", f'{{"input": "tail {SURROGATE}"}}', "input"),
    ("/v1/supervise", f'{{"prompt": "Hi", "output": "x{SURROGATE}"}}', "output"),
    ("/v1/supervise", f'{{"messages": [{{"role": "user", "content": "{SURROGATE}"}}], '
                      '"output": "Fine."}', "messages[0].content"),
    ("/v1/supervise", f'{{"output": "Fine.", "context": {{"user_ref": "{SURROGATE}"}}}}',
     "context.user_ref"),
    ("/v1/chat/completions", '{"model": "fake:primary", "messages": [{"role": "user", '
                             f'"content": "hi {SURROGATE}"}}]}}', "messages[0].content"),
    ("/v1/chat/completions", '{"model": "fake:primary", "messages": [{"role": "user", '
                             f'"content": "hi"}}], "user": "{SURROGATE}"}}', "user"),
    ("/v1/messages", '{"model": "fake:primary", "max_tokens": 10, "messages": [{"role": '
                     f'"user", "content": [{{"type": "text", "text": "{SURROGATE}"}}]}}]}}',
     "messages[0].content[0].text"),
    ("/v1/messages", '{"model": "fake:primary", "max_tokens": 10, "system": '
                     f'"{SURROGATE}", "messages": [{{"role": "user", "content": "hi"}}]}}',
     "system"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES,
                         ids=[f"{p.rsplit('/', 1)[1]}:{f}" for p, _, f in CASES])
def test_lone_surrogate_is_a_400_naming_the_field_and_a_recorded_error(
        serve: Serve, path: str, body: str, field: str) -> None:
    """Every supervision route refuses it by field, after recording an error decision."""
    with serve() as served:
        response = served.client().post(path, content=body.encode(),
                                        headers={"content-type": "application/json"})
        record_id = response.headers.get("x-supervisor-record-id", "")
        record = _record(served, record_id) if record_id else {}
    assert response.status_code == 400, response.text
    assert _message(response).startswith(f"{field} holds a lone UTF-16 surrogate")
    if path != "/v1/messages":  # Anthropic's error body has no param
        assert response.json()["error"]["param"] == field
    assert record["kind"] == "decision"
    assert record["body"]["action"] == "error" and record["body"]["released"] is False
    assert field in record["body"]["reason"]
    assert record["body"]["texts"] is None  # nothing of the refused text is kept


def test_lone_surrogate_with_an_unknown_constitution_is_still_a_400(serve: Serve) -> None:
    """With no constitution to record under, the refusal is answered all the same."""
    with serve() as served:
        response = served.client().post(
            "/v1/moderations", content=f'{{"model": "nope", "input": "{SURROGATE}"}}'.encode(),
            headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"


def test_lone_surrogate_in_a_review_note_is_a_400_naming_note(serve: Serve) -> None:
    """A review is no supervision, but its text is refused by field the same way."""
    with serve() as served:
        decided = served.client().post("/v1/moderations", json={"input": "Fine."})
        record_id = decided.headers["x-supervisor-record-id"]
        response = served.client(AUDITOR_KEY).post(
            f"/v1/audit/records/{record_id}/reviews",
            content=f'{{"verdict": "note", "note": "{SURROGATE}"}}'.encode(),
            headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "note"
    assert "surrogate" in _message(response)


def test_body_that_is_not_utf8_names_the_byte_and_the_fix(serve: Serve) -> None:
    """Latin-1 bytes in a JSON body: 400 saying which byte, where, and to send UTF-8."""
    with serve() as served:
        response = served.client().post("/v1/moderations", content=b'{"input": "caf\xe9"}',
                                        headers={"content-type": "application/json"})
    assert response.status_code == 400
    message = _message(response)
    assert "not valid UTF-8" in message and "0xe9" in message and "offset 14" in message
    assert "encode the JSON body as UTF-8" in message


def test_too_deeply_nested_body_says_so_and_how_to_fix_it(serve: Serve) -> None:
    """100,000 nested arrays (200 kB, under the body limit): 400 'nested too deeply'."""
    depth = 100_000
    body = b'{"input": ' + b"[" * depth + b"]" * depth + b"}"
    with serve() as served:
        response = served.client().post("/v1/messages", content=body,
                                        headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["type"] == "error"  # Anthropic's shape on /v1/messages
    assert "nested too deeply" in _message(response) and "flatten" in _message(response)


def test_malformed_json_says_where(serve: Serve) -> None:
    """A JSON syntax error names its position."""
    with serve() as served:
        response = served.client().post("/v1/moderations", content=b'{"input": ',
                                        headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in _message(response) and "at character 10" in _message(response)
