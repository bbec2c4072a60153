"""The event-stream decoder: WHATWG rules, and properties that must hold for any input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanogpt._core.errors import NanoGPTError, StreamError
from nanogpt._core.sse import ServerSentEvent, SSEDecoder, SSEError
from nanogpt._core.stream import StreamCore


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


# linear work: counted, never timed ----------------------------------------------------------

class CountingBytes(bytes):
    """A chunk that counts the bytes the decoder scans or copies through it."""

    touched = 0

    def _count(self, n: int) -> None:
        CountingBytes.touched += n

    def __contains__(self, item: object) -> bool:
        self._count(len(self))
        return bytes.__contains__(self, item)  # type: ignore[operator]

    def __add__(self, other: bytes) -> bytes:  # type: ignore[override]
        self._count(len(self) + len(other))
        return bytes(self) + other

    def __radd__(self, other: bytes) -> bytes:
        self._count(len(self) + len(other))
        return other + bytes(self)

    def split(self, *args, **kw):  # type: ignore[no-untyped-def]
        self._count(len(self))
        return bytes.split(self, *args, **kw)

    def replace(self, *args, **kw):  # type: ignore[no-untyped-def]
        self._count(len(self))
        return bytes.replace(self, *args, **kw)


def test_a_long_line_in_small_reads_costs_work_linear_in_its_size(monkeypatch) -> None:
    """A 1 MiB line in 64-byte reads: every byte is scanned and copied a bounded number of
    times (it used to be re-copied and re-scanned on every read: quadratic)."""
    import nanogpt._core.sse as sse

    joined: list[int] = []
    real_join = b"".join

    def counting_join(parts):  # type: ignore[no-untyped-def]
        out = real_join(parts)
        joined.append(len(out))
        return out

    monkeypatch.setattr(sse, "_join", counting_join, raising=False)
    CountingBytes.touched = 0
    size, step = 1 << 20, 64
    line = b"data: " + b"x" * (size - 6)
    d = SSEDecoder()
    for i in range(0, size, step):
        assert d.feed(CountingBytes(line[i:i + step])) == []
    [ev] = d.feed(CountingBytes(b"\n\n"))
    assert len(ev.data) == size - 6
    work = CountingBytes.touched + sum(joined)
    assert work <= 4 * size, f"{work} bytes of work for a {size}-byte line"


def test_an_event_of_many_short_data_lines_is_measured_once_per_line(monkeypatch) -> None:
    """The event-size bound must not re-measure every pending data line on each read."""
    import builtins

    import nanogpt._core.sse as sse

    calls = [0]

    def counting_len(obj):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return builtins.len(obj)

    monkeypatch.setattr(sse, "len", counting_len, raising=False)
    d = SSEDecoder()
    lines = 5000
    for _ in range(lines):
        assert d.feed(b"data: x\n") == []
    [ev] = d.feed(b"\n")
    assert ev.data == b"\n".join([b"x"] * lines)
    assert calls[0] <= 10 * lines


def test_limits_still_hold_for_lines_and_events_fed_in_pieces() -> None:
    d = SSEDecoder(max_line=1000)
    d.feed(b"data: ")
    with pytest.raises(SSEError, match="line longer"):
        for _ in range(100):
            d.feed(b"x" * 64)
    e = SSEDecoder(max_line=1000)
    with pytest.raises(SSEError, match="event larger"):
        for _ in range(100):
            e.feed(b"data: " + b"y" * 50 + b"\n")


def test_a_line_over_many_reads_with_crlf_and_bom_splits() -> None:
    pieces = [b"\xef", b"\xbb", b"\xbf", b"da", b"ta", b": ", b"ab", b"c\r", b"\n", b"\r",
              b"\ndata: ", b"x" * 10, b"y" * 10, b"\r\n\r\n"]
    assert datas(decode(*pieces)) == [b"abc", b"x" * 10 + b"y" * 10]
