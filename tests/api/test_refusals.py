"""`invalid_text`: which field of a request body holds a lone surrogate, if any."""

from __future__ import annotations

from typing import Any

import pytest

from api.refusals import invalid_text
from api.schemas import ModerationRequest, TextPart

LONE = "\ud800"


@pytest.mark.parametrize(("body", "found"), [
    ({"input": "A plain text."}, None),
    ({"input": "a smile \U0001f600 is one character, not a pair"}, None),
    ({"input": ["fine", f"x{LONE}"]}, ("input[1]", 1)),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": LONE}]}]},
     ("messages[0].content[0].text", 0)),
    ({"context": {"user_ref": "ok", "note": f"ab{LONE}"}}, ("context.note", 2)),
    ({"context": {"536-22-8193": LONE}}, ("context.<key 1>", 0)),
    ({"context": {"a": "b", LONE: "x"}}, ("context.<key 2> (its name)", 0)),
    (LONE, ("body", 0)),
], ids=["clean", "pair", "list-item", "part", "context", "odd-key", "key", "bare"])
def test_first_lone_surrogate_is_named_by_field(body: Any, found: tuple[str, int] | None
                                                ) -> None:
    """The field in document order, with the character index; a key that is no plain
    name is named by position, never spelled out."""
    assert invalid_text(body) == found


def test_request_models_are_walked_with_their_fields() -> None:
    """A parsed request (pydantic model, parts included) is walked like the JSON it came from."""
    body = ModerationRequest(input=[TextPart(type="text", text="fine"),
                                    TextPart(type="text", text=f"no{LONE}")])
    assert invalid_text(body) == ("input[1].text", 2)


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    """A body nested deeper than Python's recursion limit is walked all the same."""
    body: Any = [LONE]
    for _ in range(5_000):
        body = [body]
    found = invalid_text({"input": body})
    assert found is not None and found[0] == "input" + "[0]" * 5_001
