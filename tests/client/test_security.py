"""Key hygiene: never in a repr, an error, a traceback or a log line; no plain http off-host."""

from __future__ import annotations

import logging
import traceback

import pytest

import nanogpt
from conftest import USER, dead_url
from nanogpt import InvalidParameterError, NanoGPTError
from nanogpt.emulator import Fault

SECRET = "sk-nano-5ec2e7aa-0000-4bad-8bad-feedfacecafe"


def test_repr_hides_the_key(kind) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    c = cls(SECRET, base_url="http://127.0.0.1:9/api/v1")
    assert SECRET not in repr(c) and "***" in repr(c)
    assert SECRET not in repr(c._core.api_key) and SECRET not in str(vars(c._core))
    req = c._core.chat_request("m", USER, stream=False, params={}, extra_body=None,
                               extra_headers=None, timeout=None)
    assert SECRET not in repr(req)


def _failures(client, emu):
    """Provoke every kind of error; yield each exception."""
    chat = client.chat.completions.create
    for fault in (Fault(status=401), Fault(status=402, error_shape="legacy"),
                  Fault(status=503), Fault(reset=True), Fault(non_json=True),
                  Fault(error_frame_after=2), Fault(no_done=True)):
        emu.inject(fault, times=None)
        try:
            stream = fault.frames.error_frame_after is not None or fault.frames.no_done
            r = chat(model="openai/gpt-5-mini", messages=USER, stream=stream)
            if stream:
                list(r)
        except NanoGPTError as e:
            yield e
        emu.clear_faults()
    c2 = type(client)(SECRET, base_url=dead_url(), max_retries=0) if isinstance(
        client, nanogpt.NanoGPT) else None
    if c2 is not None:
        with pytest.raises(NanoGPTError) as info:
            c2.chat.completions.create(model="m", messages=USER)
        yield info.value


def test_key_absent_from_errors_tracebacks_and_debug_logs(make_client, emu, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(api_key=SECRET, max_retries=1)
    errors = list(_failures(client, emu))
    assert len(errors) >= 7
    for e in errors:
        text = "".join(traceback.TracebackException.from_exception(
            e, capture_locals=True).format())
        assert SECRET not in text, text
        assert SECRET not in repr(e) and SECRET not in str(getattr(e, "body", ""))
        assert SECRET not in repr(vars(e))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry" in logged  # debug logging did happen
    assert SECRET not in logged and SECRET not in caplog.text


@pytest.mark.parametrize("url", ["http://nano-gpt.com/api/v1", "http://10.0.0.5:8080/api/v1",
                                 "ftp://nano-gpt.com/api/v1", "nano-gpt.com",
                                 "https://user:pw@nano-gpt.com/api/v1"])
def test_insecure_or_odd_base_urls_are_refused_before_connecting(kind, url) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    with pytest.raises(InvalidParameterError):
        cls("k", base_url=url)
    with pytest.raises(InvalidParameterError):
        cls("k", base_url="https://nano-gpt.com/api/v1", fallback_base_urls=[url])


def test_plain_http_is_allowed_on_loopback_or_by_opt_in(kind) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    for url in ("http://127.0.0.1:8080/api/v1", "http://localhost/api/v1", "http://[::1]/x"):
        cls("k", base_url=url)
    cls("k", base_url="http://10.0.0.5/api/v1", allow_insecure_http=True)
