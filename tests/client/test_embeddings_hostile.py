"""``client.embeddings`` against hostile or merely large answers (both clients): what a split
plans so that each billed answer can be read, and what a failed request among several leaves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from nanogpt import APIResponseValidationError
from nanogpt.emulator import Emulator
from rawserver import RawConn, answering, http_response

MODEL = "text-embedding-3-small"  # 1536 dimensions


@pytest.mark.parametrize(("encoding_format", "dimensions", "split"), [
    ("float", None, True), ("base64", None, True),
    ("float", 64, False),  # small vectors: one request, as before
])
def test_each_billed_answer_fits_max_response_bytes(make_client, emu: Emulator,
                                                    encoding_format: str,
                                                    dimensions: int | None, split: bool) -> None:
    """The split is sized so that every answer fits ``max_response_bytes``: an answer too large
    to read is billed and lost (at the defaults, 2048 inputs of 1536 float numbers are ~66 MB,
    past the 64 MiB)."""
    limit = 2 * 2**20
    client = make_client(max_response_bytes=limit)
    texts = [f"text {i}" for i in range(300)]
    kw = {"dimensions": dimensions} if dimensions else {}
    r = client.embeddings.create(model=MODEL, input=texts, encoding_format=encoding_format, **kw)
    assert [d.index for d in r.data] == list(range(300))
    assert len(r.data[0].embedding) == (dimensions or 1536)
    sent = [q for q in emu.requests if q.path.endswith("/embeddings")]
    assert (len(sent) > 1) == split and sum(len(q.body["input"]) for q in sent) == 300
    assert [e.kind for e in emu.ledger.entries()].count("embedding") == len(sent)


@pytest.mark.parametrize("data", [
    [{"index": 0, "embedding": "!!!!AAAAAA=="}, {"index": 1, "embedding": "AAAAAA=="}],
    [{"index": 0, "embedding": []}, {"index": 1, "embedding": []}],
    [{"index": 0, "embedding": [0.5]}, {"index": 1, "embedding": [0.5, 0.5]}],
    [{"index": 0, "embedding": "AAAAAA=="}, {"index": 1, "embedding": "AAAAAAAAAAA="}],
])
def test_vectors_that_are_not_all_one_sound_length_are_refused(make_client, raw_server,
                                                               data: list[Any]) -> None:
    """Lenient base64 skipped what was not base64 and gave a shorter vector; an empty vector
    or vectors of two lengths were handed over as if sound."""
    srv = raw_server(answering(http_response(200, json.dumps({"data": data}).encode())))
    client = make_client(base_url=srv.base_url)
    with pytest.raises(APIResponseValidationError, match="expected an embeddings answer"):
        client.embeddings.create(model=MODEL, input=["a", "b"])
    assert srv.count("POST") == 1


def _usage_only_on_the_first_request(conn: RawConn) -> None:
    while (req := conn.read_request()) is not None:
        texts = json.loads(req.body)["input"]
        body: dict[str, Any] = {"data": [{"index": i, "embedding": [0.5]}
                                         for i in range(len(texts))]}
        if texts[0] == "t 0":
            body["usage"] = {"prompt_tokens": 7, "total_tokens": 7}
        conn.send(http_response(200, json.dumps(body).encode()))


def test_joined_usage_is_unknown_when_a_part_did_not_say(make_client, raw_server) -> None:
    """Summing the counts that came (7) would pass a part of the tokens for all of them."""
    srv = raw_server(_usage_only_on_the_first_request)
    client = make_client(base_url=srv.base_url)
    r = client.embeddings.create(model=MODEL, input=[f"t {i}" for i in range(3000)],
                                 dimensions=1)
    assert srv.count("POST") == 2 and len(r.data) == 3000
    assert r.usage is not None
    assert r.usage.prompt_tokens is None and r.usage.total_tokens is None
