"""The blocking transport against servers that misbehave on the wire: interim (1xx) answers,
an early 413 before a large body was read, a trickled error body of a stream request, and a
client used on both sides of ``os.fork()``. Raw-socket servers (the emulator cannot do these);
every one counts the POSTs it received."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import pytest

import nanogpt
from conftest import KEY
from nanogpt import Timeout
from rawserver import RawConn, RawServer, asked, completion, http_response

MODEL = "openai/gpt-5-mini"
INTERIM = (b"HTTP/1.1 102 Processing\r\n\r\n",
           b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
           b"HTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\nX-Hint: 2\r\n\r\n")


def ask(client: nanogpt.NanoGPT, text: str, **kw: object) -> str:
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}],
                                       **kw)  # type: ignore[call-overload]
    return str(r.text)


def echo(conn: RawConn, *, interim: tuple[bytes, ...] = (), pause: float = 0.0) -> None:
    """Answer each request on the connection with its own id (after ``interim`` answers)."""
    while (req := conn.read_request()) is not None:
        for part in interim:
            conn.send(part)
            time.sleep(pause)
        if json.loads(req.body).get("stream"):
            stream_forever(conn)
            return
        conn.send(http_response(200, completion(asked(req.body))))


def stream_forever(conn: RawConn) -> None:
    """A stream that sends one chunk, then holds until the client closes the connection."""
    chunk = json.dumps({"id": "s", "model": MODEL, "choices": [
        {"index": 0, "delta": {"content": "hi"}}]})
    conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
              + f"data: {chunk}\n\n".encode())
    with contextlib.suppress(OSError):
        while conn.sock.recv(1024):
            pass



def trickle(sock: socket.socket, head: bytes, every: float = 0.05) -> None:
    """Send ``head``, then one byte every ``every`` seconds until the client goes away."""
    try:
        sock.sendall(head)
        while True:
            time.sleep(every)
            sock.sendall(b"a")
    except OSError:
        return


@pytest.fixture
def new_client() -> Iterator[Callable[..., nanogpt.NanoGPT]]:
    """Blocking clients, closed after the test."""
    made: list[nanogpt.NanoGPT] = []

    def make(base_url: str, **kw: object) -> nanogpt.NanoGPT:
        made.append(nanogpt.NanoGPT(KEY, base_url=base_url, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for c in made:
        c.close()


# 1xx interim answers --------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_interim_answers_are_skipped_and_never_handed_to_another_call(new_client) -> None:
    with RawServer(lambda conn: echo(conn, interim=INTERIM, pause=0.002)) as srv:
        client = new_client(srv.base_url, max_retries=0)
        wrong: list[tuple[str, str]] = []
        errors: list[BaseException] = []

        def worker(t: int) -> None:
            for i in range(10):
                mine = f"thread-{t}-call-{i}"
                try:
                    got = ask(client, mine)
                except nanogpt.NanoGPTError as e:
                    errors.append(e)
                    continue
                if got != mine:
                    wrong.append((mine, got))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and wrong == []
        assert srv.count("POST") == 40


@pytest.mark.timeout(60)
def test_interim_answers_before_a_stream_are_skipped(new_client) -> None:
    with RawServer(lambda conn: echo(conn, interim=INTERIM)) as srv:
        client = new_client(srv.base_url, max_retries=0)
        with client.chat.completions.create(model=MODEL, messages=[{"role": "user",
                                                                    "content": "x"}],
                                            stream=True) as s:
            assert next(s).choices[0].delta.content == "hi"
        assert srv.count("POST") == 1


@pytest.mark.timeout(60)
def test_an_unasked_101_is_a_broken_connection_not_an_answer(new_client) -> None:
    def handler(conn: RawConn) -> None:
        if conn.read_request() is not None:
            conn.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")
            time.sleep(0.2)

    with RawServer(handler) as srv:
        client = new_client(srv.base_url)
        with pytest.raises(nanogpt.APIConnectionError, match="101"):
            ask(client, "x")
        assert srv.count("POST") == 1  # sent: never re-sent


# an early answer before the body was read ---------------------------------------------------

def refuse_early(status: int) -> Callable[[RawConn], None]:
    """Read only the head, answer ``status`` and close (unread body: the kernel resets)."""
    def handler(conn: RawConn) -> None:
        if conn.read_head() is not None:
            body = json.dumps({"error": {"message": "request entity too large"}}).encode()
            conn.send(http_response(status, body, reason="Refused",
                                    headers={"connection": "close"}))
    return handler


@pytest.mark.timeout(60)
def test_an_early_413_before_a_large_body_is_reported_as_413_and_not_retried(new_client) -> None:
    with RawServer(refuse_early(413)) as srv:
        client = new_client(srv.base_url, max_retries=2)
        with pytest.raises(nanogpt.APIStatusError) as info:
            ask(client, "x" * (20 * 1024 * 1024))
        assert info.value.status_code == 413
        assert "too large" in str(info.value)
        assert srv.count("POST") == 1


@pytest.mark.timeout(60)
def test_an_early_503_before_a_large_body_is_a_503_and_follows_the_retry_rules(new_client) -> None:
    with RawServer(refuse_early(503)) as srv:
        client = new_client(srv.base_url, max_retries=1,
                                 retry_base_delay=0.001, retry_max_delay=0.01)
        with pytest.raises(nanogpt.InternalServerError) as info:
            ask(client, "x" * (20 * 1024 * 1024))
        assert info.value.status_code == 503
        assert srv.count("POST") == 2  # refused before it was read: safe to send again


# the error body of a stream request ---------------------------------------------------------

@pytest.mark.timeout(60)
def test_a_trickled_error_body_of_a_stream_request_is_bounded_by_read(new_client) -> None:
    def handler(conn: RawConn) -> None:
        if conn.read_request() is not None:
            trickle(conn.sock, b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain"
                               b"\r\ncontent-length: 100000\r\n\r\n")

    with RawServer(handler) as srv:
        client = new_client(srv.base_url, max_retries=0,
                                 timeout=Timeout(connect=2, read=1, idle=5, total=None))
        with pytest.raises(nanogpt.InternalServerError) as info:
            client.chat.completions.create(model=MODEL, stream=True,
                                           messages=[{"role": "user", "content": "x"}])
        assert info.value.status_code == 503
        assert srv.count("POST") == 1


# fork -----------------------------------------------------------------------------------------

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@contextlib.contextmanager
def forked(child: Callable[[], int]) -> Iterator[Callable[[], int]]:
    """Run ``child()`` in a forked process; yields a function that waits for its exit code
    (a child still running after 60 s is killed and reported as 99)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded, use of fork()"
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 3
        try:
            code = child()
        finally:
            os._exit(code)
    reaped: list[int] = []

    def wait() -> int:
        if not reaped:
            end = time.monotonic() + 60
            while time.monotonic() < end:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    reaped.append(os.waitstatus_to_exitcode(status))
                    break
                time.sleep(0.02)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                reaped.append(99)
        return reaped[0]

    try:
        yield wait
    finally:
        wait()


@needs_fork
@pytest.mark.timeout(120)
def test_a_forked_child_and_its_parent_never_get_each_others_answers(new_client) -> None:
    with RawServer(lambda conn: echo(conn, pause=0.001)) as srv:
        client = new_client(srv.base_url, max_retries=0)
        assert ask(client, "before the fork") == "before the fork"  # one pooled connection

        def child() -> int:
            try:
                return 0 if all(ask(client, f"child-{i}") == f"child-{i}"
                                for i in range(20)) else 1
            except nanogpt.NanoGPTError:
                return 2

        with forked(child) as wait:
            wrong = []
            for i in range(20):
                try:
                    got = ask(client, f"parent-{i}")
                except nanogpt.NanoGPTError as e:
                    got = repr(e)
                if got != f"parent-{i}":
                    wrong.append(got)
            assert wait() == 0
        assert wrong == []
        assert srv.count("POST") == 41


@needs_fork
@pytest.mark.timeout(120)
def test_deadlines_still_fire_in_a_forked_child(new_client) -> None:
    def handler(conn: RawConn) -> None:
        req = conn.read_request()
        if req is not None and asked(req.body) == "slow":
            trickle(conn.sock, b"HTTP/1.1 200 OK\r\nX-Slow: ")  # a head that never ends
        elif req is not None:
            conn.send(http_response(200, completion(asked(req.body))))

    with RawServer(handler) as srv:
        client = new_client(srv.base_url, max_retries=0)
        assert ask(client, "warm") == "warm"  # the parent's deadline watchdog is running

        def child() -> int:
            try:
                ask(client, "slow", timeout=Timeout(connect=2, read=1, idle=5, total=None))
            except nanogpt.APITimeoutError:
                return 0
            except nanogpt.NanoGPTError:
                return 2
            return 1

        with forked(child) as wait:
            assert wait() == 0


@needs_fork
@pytest.mark.timeout(120)
def test_a_forked_child_gets_the_slots_its_parents_threads_held(new_client) -> None:
    with RawServer(echo) as srv:
        client = new_client(srv.base_url, max_retries=0, max_concurrency=1)
        holding, done = threading.Event(), threading.Event()

        def hold_a_stream() -> None:
            with client.chat.completions.create(model=MODEL, stream=True, messages=[
                    {"role": "user", "content": "stream"}]) as s:
                next(s)
                holding.set()
                done.wait(60)

        holder = threading.Thread(target=hold_a_stream)
        holder.start()
        assert holding.wait(30)

        def child() -> int:
            try:
                return 0 if ask(client, "child", timeout=Timeout(total=10)) == "child" else 1
            except nanogpt.NanoGPTError:
                return 2

        try:
            with forked(child) as wait:
                assert wait() == 0
        finally:
            done.set()
            holder.join()
        assert ask(client, "parent") == "parent"  # the parent's own count is intact
