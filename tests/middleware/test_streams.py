"""Server-sent events held whole: parsing, serialising, re-cutting text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from supervisor.wire.streams import Event, parse_sse, pieces, text_of, to_sse, with_text


def test_parse_reads_named_events_multiline_data_and_skips_comments() -> None:
    """`event:` names, joined `data:` lines and `:` comments follow the SSE rules."""
    raw = (b": keep-alive\n\nevent: message_start\ndata: {\"a\": 1}\n\n"
           b"data: line one\r\ndata: line two\r\n\r\ndata: [DONE]\n\n")
    assert parse_sse(raw) == [Event('{"a": 1}', "message_start"),
                              Event("line one\nline two"), Event("[DONE]")]


names = st.one_of(st.none(), st.text("abcdefghij._", min_size=1, max_size=12))
datas = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                max_size=40).filter(lambda d: d.strip("\n") == d or d == "")


@given(st.lists(st.builds(Event, datas.filter(bool), names), max_size=8))
def test_serialise_then_parse_round_trips(events: list[Event]) -> None:
    """Whatever events we emit, the SDK's decoder (same rules) reads the same events back."""
    assert parse_sse(to_sse(events)) == events


@given(st.text(max_size=200), st.integers(min_value=1, max_value=40))
def test_pieces_are_exactly_count_and_rejoin_to_the_text(text: str, count: int) -> None:
    """Re-cut text always fills every slot the vendor sent and loses nothing."""
    cut = pieces(text, count)
    assert len(cut) == count and "".join(cut) == text


def test_text_parts_take_the_released_text_and_keep_other_parts() -> None:
    """In a list of parts the first text part takes the text; images stay, extra text goes."""
    content = [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
               {"type": "image", "source": {}}, {"type": "text", "text": "b"}]
    assert text_of(content) == "a\nb"
    assert with_text(content, "X") == [
        {"type": "text", "text": "X", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {}}]
    assert with_text("plain", "X") == "X"
