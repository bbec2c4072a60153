"""A JSON transcription answer whose ``text`` is missing or not a string is an error, not an
empty transcript: the call is billed, and ``""`` would pass for audio with nothing said in it.
On both clients, through a raw server; never re-sent."""

from __future__ import annotations

import pytest

from nanogpt import APIResponseValidationError
from rawserver import answering, http_response

STT = "Whisper-Large-V3"


@pytest.mark.parametrize("body", [b"{}", b'{"text": 5}', b'{"text": null}', b'{"text": ["a"]}',
                                  b'{"language": "en", "duration": 1.5}'])
def test_a_json_transcription_without_its_text_is_an_error(make_client, raw_server,
                                                           body: bytes) -> None:
    srv = raw_server(answering(http_response(200, body)))
    client = make_client(base_url=srv.base_url)
    with pytest.raises(APIResponseValidationError, match="transcription"):
        client.audio.transcriptions.create(model=STT, file=b"\x00" * 10, filename="a.wav")
    assert srv.count("POST") == 1


@pytest.mark.parametrize("body, text", [(b'{"text": ""}', ""), (b'{"text": "hi"}', "hi"),
                                        (b'{"transcription": "hi"}', "hi")])
def test_a_json_transcription_with_its_text_is_taken(make_client, raw_server, body: bytes,
                                                     text: str) -> None:
    srv = raw_server(answering(http_response(200, body)))
    client = make_client(base_url=srv.base_url)
    result = client.audio.transcriptions.create(model=STT, file=b"\x00" * 10, filename="a.wav")
    assert result.text == text
