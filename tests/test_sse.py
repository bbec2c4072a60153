"""The event-stream decoder: WHATWG rules, and properties that must hold for any input."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from nanogpt._errors import NanoGPTError, StreamError
from nanogpt._sse import ServerSentEvent, SSEDecoder, SSEError
from nanogpt._stream import StreamCore


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    d = SSEDecoder()
    out: list[ServerSentEvent] = []
    for c in chunks:
        out += d.feed(c)
    return out


def datas(events: list[ServerSentEvent]) -> list[bytes]:
    return [e.data for e in events]


def test_plain_frames() -> None:
    assert datas(decode(b"data: a\n\ndata: b\n\n")) == [b"a", b"b"]


def test_line_ends_lf_cr_crlf_are_equal() -> None:
    for eol in (b"\n", b"\r", b"\r\n"):
        assert datas(decode(b"data: x" + eol + eol + b"data: y" + eol + eol)) == [b"x", b"y"]


def test_crlf_split_across_reads_is_one_line_end() -> None:
    assert datas(decode(b"data: x\r", b"\n\r", b"\ndata: y\r\n\r\n")) == [b"x", b"y"]


def test_multi_line_data_joined_with_newline() -> None:
    assert datas(decode(b"data: a\ndata: b\ndata\n\n")) == [b"a\nb\n"]


def test_comments_and_unknown_fields_ignored_empty_data_no_event() -> None:
    assert datas(decode(b": keep-alive\n\nretry: 3000\n\nfoo: bar\n\ndata: z\n\n")) == [b"z"]


def test_event_id_retry_fields() -> None:
    [ev] = decode(b"event: update\nid: 7\nretry: 1500\ndata: {}\n\n")
    assert (ev.event, ev.id, ev.retry, ev.data) == ("update", "7", 1500, b"{}")
    [ev2] = decode(b"retry: soon\ndata: x\n\n")
    assert ev2.retry is None and ev2.event == "message"


def test_only_one_leading_space_is_stripped_and_colon_less_value() -> None:
    assert datas(decode(b"data:  two\n\ndata:none\n\n")) == [b" two", b"none"]


def test_bom_at_start_is_ignored_even_split() -> None:
    assert datas(decode(b"\xef\xbb", b"\xbfdata: a\n\n")) == [b"a"]


def test_unterminated_event_is_discarded() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: partial") == []
    d.close()
    assert d.feed(b"\n\n") == []


def test_huge_line_raises_our_error() -> None:
    d = SSEDecoder(max_line=1000)
    try:
        d.feed(b"data: " + b"x" * 2000)
    except SSEError:
        pass
    else:  # pragma: no cover
        raise AssertionError("no SSEError")


line_text = st.text(alphabet=st.characters(blacklist_characters="\r\n\x00",
                                           blacklist_categories=("Cs",)), max_size=30)
event_st = st.fixed_dictionaries({
    "data": st.lists(line_text, min_size=1, max_size=3),
    "event": st.one_of(st.none(), st.from_regex(r"[a-z]{1,8}", fullmatch=True)),
    "comment": st.booleans(),
})


def serialize(events: list[dict], eols: list[bytes]) -> bytes:
    out = []
    i = 0
    for ev in events:
        lines = []
        if ev["comment"]:
            lines.append(b": ping")
        if ev["event"]:
            lines.append(b"event: " + ev["event"].encode())
        lines += [b"data: " + d.encode() for d in ev["data"]]
        lines.append(b"")
        for line in lines:
            eol = eols[i % len(eols)]
            if not line and out and out[-1].endswith(b"\r") and eol != b"\r":
                eol = b"\r"  # CR then LF would be one CRLF line end, not two
            out.append(line + eol)
            i += 1
    return b"".join(out)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(event_st, max_size=6),
       eols=st.lists(st.sampled_from([b"\n", b"\r", b"\r\n"]), min_size=1, max_size=5),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_any_split_and_any_line_ends_give_the_same_events(events, eols, cuts) -> None:
    raw = serialize(events, eols)
    expected = [(b"\n".join(d.encode() for d in ev["data"]), ev["event"] or "message")
                for ev in events]
    whole = decode(raw)
    assert [(e.data, e.event) for e in whole] == expected
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=False)]
    assert decode(*pieces) == whole


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_random_bytes_raise_nothing_but_our_errors(chunks) -> None:
    d = SSEDecoder(max_line=256)
    core = StreamCore()
    for c in chunks:
        try:
            d.feed(c)
        except SSEError:
            break
    for c in chunks:
        core.feed(c)  # records failures, never raises
    with contextlib.suppress(StreamError):
        core.end_of_body()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=50))
def test_stream_core_on_garbage_frames_only_raises_stream_errors(payload, step) -> None:
    core = StreamCore()
    raw = b"data: " + payload + b"\n\n"
    for i in range(0, len(raw), step):
        core.feed(raw[i:i + step])
    assert core.error is None or isinstance(core.error, NanoGPTError)
