"""Compressed bodies cannot get past ``max_response_bytes``: answers, error bodies on every
retry, and streams are decoded only as far as the limit (async), or never decoded (sync, which
asks for identity and counts raw bytes). Memory is measured with tracemalloc, not time."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest

import nanogpt
from conftest import KEY, USER
from nanogpt import APIResponseValidationError, InternalServerError, StreamError
from nanogpt._core.decompress import BoundedDecoder, UndecodableBody, decoder_for
from rawserver import RawConn, RawServer

LIMIT = 1024 * 1024           # max_response_bytes in these tests
EXPANDED = 64 * 1024 * 1024   # what the bomb expands to: 64x the limit
PEAK_ALLOWED = 12 * 1024 * 1024


def _gzip_of(block: bytes, times: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [z.compress(block) for _ in range(times)]
    return b"".join(parts) + z.flush()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """About 64 KiB of gzip that expands to 64 MiB of zeros."""
    return _gzip_of(bytes(1024 * 1024), EXPANDED // (1024 * 1024))


def _answering(status: int, body: bytes, *, content_type: str = "application/json",
               chunked: bool = False) -> Callable[[RawConn], None]:
    reason = "OK" if status < 300 else "Service Unavailable"
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"
            f"content-encoding: gzip\r\n").encode()
    if chunked:
        framed = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 16384]), body[i:i + 16384])
                          for i in range(0, len(body), 16384)) + b"0\r\n\r\n"
        response = head + b"transfer-encoding: chunked\r\n\r\n" + framed
    else:
        response = head + b"content-length: %d\r\n\r\n" % len(body) + body

    def handler(conn: RawConn) -> None:
        while conn.read_request() is not None:
            conn.send(response)

    return handler


def _peak_while(call: Callable[[], Any]) -> tuple[BaseException | None, int]:
    """Run ``call``; what it raised, and the peak of traced memory meanwhile (all threads)."""
    tracemalloc.start()
    try:
        call()
    except Exception as e:
        error: BaseException | None = e
    else:
        error = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak



@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_gzip_bomb_answer_is_refused_with_bounded_memory(make_client, raw_server, bomb,
                                                         chunked) -> None:
    srv = raw_server(_answering(200, bomb, chunked=chunked))
    client = make_client(base_url=srv.base_url, max_response_bytes=LIMIT)
    error, peak = _peak_while(
        lambda: client.chat.completions.create(model="m", messages=USER))
    # async decodes up to the limit and refuses the size; sync never decodes (identity was
    # asked for) and refuses the coded bytes as not JSON: either way typed, and bounded
    assert isinstance(error, APIResponseValidationError), repr(error)
    assert peak < PEAK_ALLOWED, f"peak {peak / 2**20:.1f} MiB"
    assert srv.count("POST") == 1
    assert srv.requests[0].headers.get("accept-encoding") == "identity"


def test_gzip_bomb_error_body_is_bounded_on_every_retry(make_client, raw_server, bomb) -> None:
    srv = raw_server(_answering(503, bomb))
    client = make_client(base_url=srv.base_url, max_response_bytes=LIMIT, max_retries=2)
    error, peak = _peak_while(
        lambda: client.chat.completions.create(model="m", messages=USER))
    assert isinstance(error, InternalServerError), repr(error)
    assert srv.count("POST") == 3
    assert peak < PEAK_ALLOWED, f"peak {peak / 2**20:.1f} MiB"


def test_gzip_bomb_stream_is_decoded_piece_by_piece(make_client, raw_server) -> None:
    # 32 MiB of keep-alive comments (no event, no [DONE]) in about 100 KiB of gzip
    body = _gzip_of(b": " + b"k" * 1021 + b"\n", 32 * 1024)
    srv = raw_server(_answering(200, body, content_type="text/event-stream"))
    client = make_client(base_url=srv.base_url, max_response_bytes=LIMIT)

    def consume() -> None:
        for _ in client.chat.completions.create(model="m", messages=USER, stream=True):
            pass

    error, peak = _peak_while(consume)
    assert isinstance(error, StreamError), repr(error)
    assert peak < PEAK_ALLOWED, f"peak {peak / 2**20:.1f} MiB"


def test_async_decodes_a_gzip_answer_it_asked_for() -> None:
    """A caller may ask for gzip in extra_headers; the answer is then decoded (bounded)."""
    answer = (b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":'
              b'[{"index":0,"message":{"role":"assistant","content":"zipped"},'
              b'"finish_reason":"stop"}]}')
    body = gzip.compress(answer)

    async def main(url: str) -> str:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=url, max_retries=0) as c:
            r = await c.chat.completions.create(model="m", messages=USER,
                                                extra_headers={"accept-encoding": "gzip"})
            return r.text

    with RawServer(_answering(200, body)) as srv:
        assert asyncio.run(main(srv.base_url)) == "zipped"
        assert srv.requests[0].headers["accept-encoding"] == "gzip"


def test_async_refuses_a_coding_it_does_not_decode() -> None:
    def handler(conn: RawConn) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                  b"content-encoding: br\r\ncontent-length: 4\r\n\r\n\x0b\x01\x80{")

    async def main(url: str) -> None:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=url, max_retries=0) as c:
            await c.chat.completions.create(model="m", messages=USER)

    with RawServer(handler) as srv, pytest.raises(APIResponseValidationError, match="'br'"):
        asyncio.run(main(srv.base_url))


# the decoder itself -----------------------------------------------------------------------

def _drain(decoder: BoundedDecoder, data: bytes, piece: int, step: int) -> bytes:
    out = bytearray()
    for i in range(0, len(data), step):
        decoder.feed(data[i:i + step])
        while chunk := decoder.read(piece):
            assert len(chunk) <= piece
            out += chunk
    decoder.finish()
    return bytes(out)


@pytest.mark.parametrize("wbits", [16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS],
                         ids=["gzip", "deflate-zlib", "deflate-raw"])
def test_decoder_never_returns_more_than_asked(wbits: int) -> None:
    text = b"".join(b"line %d of the answer\n" % i for i in range(20000))
    z = zlib.compressobj(6, zlib.DEFLATED, wbits)
    coded = z.compress(text) + z.flush()
    decoder = decoder_for("gzip" if wbits > zlib.MAX_WBITS else "deflate")
    assert decoder is not None
    for piece, step in ((1, 7), (100, 1000), (65536, 65536)):
        decoder = decoder_for("gzip" if wbits > zlib.MAX_WBITS else "deflate")
        assert decoder is not None
        assert _drain(decoder, coded, piece, step) == text


def test_decoder_reads_several_gzip_members_and_refuses_broken_or_short_ones() -> None:
    decoder = decoder_for("x-gzip")
    assert decoder is not None
    assert _drain(decoder, gzip.compress(b"one ") + gzip.compress(b"two"), 3, 5) == b"one two"
    assert decoder_for(None) is None and decoder_for("identity") is None
    with pytest.raises(UndecodableBody):
        decoder_for("zstd")
    short = decoder_for("gzip")
    assert short is not None
    with pytest.raises(UndecodableBody):
        _drain(short, gzip.compress(b"x" * 1000)[:-6], 100, 100)
    broken = decoder_for("gzip")
    assert broken is not None
    with pytest.raises(UndecodableBody):
        _drain(broken, b"\x1f\x8b\x08\x00garbage-garbage-garbage", 100, 100)


def _growing_stream(events: int) -> bytes:
    """An event stream whose answer grows 8000 characters an event, then ends well."""
    frame = (b'data: {"choices": [{"index": 0, "delta": {"content": "' + b"a" * 8000
             + b'"}}]}\n\n')
    return frame * events + b"data: [DONE]\n\n"


def test_a_streamed_answer_is_bounded_by_max_response_bytes(make_client, raw_server) -> None:
    payload = _growing_stream(300)  # 2.4 M characters of text, each event small

    def handler(conn: RawConn) -> None:
        while conn.read_request() is not None:
            conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                      b"content-length: %d\r\n\r\n" % len(payload) + payload)

    srv = raw_server(handler)
    client = make_client(base_url=srv.base_url, max_response_bytes=LIMIT)
    with pytest.raises(StreamError, match="max_response_bytes") as info:
        for _ in client.chat.completions.create(model="m", messages=USER, stream=True):
            pass
    assert LIMIT < len(info.value.partial_text) <= LIMIT + 8000
    assert srv.count("POST") == 1


def test_a_gzip_stream_growing_the_answer_stays_bounded_in_memory(raw_server, loop_thread) -> None:
    # 200 M characters of answer in about 250 KiB of gzip: decoded piece by piece (each event
    # small), but kept as the answer it would take about 400 MiB
    body = _gzip_of(_growing_stream(1)[:-len(b"data: [DONE]\n\n")], 25000)
    srv = raw_server(_answering(200, body, content_type="text/event-stream"))

    async def consume() -> None:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=srv.base_url,
                                        max_response_bytes=LIMIT) as client:
            async for _ in await client.chat.completions.create(model="m", messages=USER,
                                                                stream=True):
                pass

    error, peak = _peak_while(lambda: loop_thread.run(consume()))
    assert isinstance(error, StreamError) and "max_response_bytes" in str(error), repr(error)
    assert peak < PEAK_ALLOWED, f"peak {peak / 2**20:.1f} MiB"


def test_async_reads_a_gzip_answer_padded_with_zero_bytes() -> None:
    """Zero bytes after a gzip member are padding (gzip(1) and Python's gzip read past them):
    the paid answer is kept, not refused as a broken coding. Garbage there is still refused."""
    answer = (b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":'
              b'[{"index":0,"message":{"role":"assistant","content":"padded"},'
              b'"finish_reason":"stop"}]}')

    async def main(url: str) -> str:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=url, max_retries=0) as c:
            r = await c.chat.completions.create(model="m", messages=USER)
            return r.text

    with RawServer(_answering(200, gzip.compress(answer) + bytes(16))) as srv:
        assert asyncio.run(main(srv.base_url)) == "padded"
    with RawServer(_answering(200, gzip.compress(answer) + b"\0garbage")) as srv, \
            pytest.raises(APIResponseValidationError):
        asyncio.run(main(srv.base_url))


def test_decoding_a_gzip_stream_lets_other_tasks_run(raw_server, loop_thread) -> None:
    """About 200 KiB of gzip, all received at once, decodes to 100 MiB of keep-alive comments
    without any read having to wait: other tasks must still get turns meanwhile (counted, not
    timed)."""
    body = _gzip_of(b": " + b"k" * 1021 + b"\n", 100 * 1024)
    srv = raw_server(_answering(200, body, content_type="text/event-stream"))

    async def consume() -> int:
        turns = 0
        reading = True

        async def other_task() -> None:
            nonlocal turns
            while reading:
                turns += 1
                await asyncio.sleep(0)

        async with nanogpt.AsyncNanoGPT(KEY, base_url=srv.base_url) as client:
            stream = await client.chat.completions.create(model="m", messages=USER,
                                                          stream=True)
            other = asyncio.create_task(other_task())
            with pytest.raises(StreamError):
                async for _ in stream:
                    pass
            reading = False
            await other
        return turns

    assert loop_thread.run(consume()) > 100  # 1600 pieces of 64 KiB: a turn after each
