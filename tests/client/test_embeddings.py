"""``client.embeddings``: create (one request, and an input split into several), the embedding
model list, bad input refused before anything is sent, the documented errors, faults, and what
a failed request among several means (its answers kept, nothing re-sent). Both clients."""

from __future__ import annotations

import json
import math
import pickle
import threading
from typing import Any

import pytest

from conftest import KEY
from nanogpt import (
    APIConnectionError,
    BadRequestError,
    EmbeddingsIncompleteError,
    InternalServerError,
    InvalidParameterError,
)
from nanogpt.emulator import Emulator, Fault
from nanogpt.types import CreateEmbeddingResponse, EmbeddingModel
from rawserver import RawConn, http_response

MODEL = "text-embedding-3-small"


def _norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def test_one_input_gives_one_unit_vector_of_the_model_dimension(client, emu) -> None:
    r = client.embeddings.create(model=MODEL, input="hello world")
    assert isinstance(r, CreateEmbeddingResponse)
    assert len(r.data) == 1 and r.data[0].index == 0 and r.data[0].object == "embedding"
    vector = r.data[0].embedding
    assert isinstance(vector, list) and all(isinstance(x, float) for x in vector)
    assert len(vector) == 1536 and abs(_norm(vector) - 1) < 1e-5
    assert r.model == MODEL and r.usage is not None and r.usage.prompt_tokens == 2
    assert r.usage.total_tokens == 2
    assert r.request_id is not None and r.request_ids == [r.request_id]
    assert emu.requests[-1].path == "/api/v1/embeddings"
    assert [c.kind for c in emu.ledger.entries()][-1:] == ["embedding"]


def test_vectors_are_stable_per_input_and_differ_between_inputs(client) -> None:
    a = client.embeddings.create(model=MODEL, input=["one", "two", "one"]).embeddings
    again = client.embeddings.create(model=MODEL, input="two").embeddings[0]
    assert a[0] == a[2] and a[0] != a[1] and again == a[1]


def test_base64_on_the_wire_by_default_and_floats_either_way(client, emu) -> None:
    default = client.embeddings.create(model=MODEL, input="same text")
    assert emu.requests[-1].body["encoding_format"] == "base64"
    floats = client.embeddings.create(model=MODEL, input="same text", encoding_format="float")
    assert emu.requests[-1].body["encoding_format"] == "float"
    b64 = client.embeddings.create(model=MODEL, input="same text", encoding_format="base64")
    assert default.embeddings == floats.embeddings == b64.embeddings
    assert isinstance(default.raw["data"][0]["embedding"], str)  # .raw: as received


def test_dimensions_shorten_the_vectors(client, emu) -> None:
    r = client.embeddings.create(model="text-embedding-3-large", input="x", dimensions=256)
    assert len(r.data[0].embedding) == 256 and abs(_norm(r.data[0].embedding) - 1) < 1e-5
    assert emu.requests[-1].body["dimensions"] == 256


def test_user_extra_body_and_extra_headers_are_sent(client, emu) -> None:
    client.embeddings.create(model=MODEL, input="x", user="u-1", extra_body={"tag": 1},
                             extra_headers={"X-Trace": "t"})
    sent = emu.requests[-1]
    assert sent.body["user"] == "u-1" and sent.body["tag"] == 1
    assert sent.headers["x-trace"] == "t"


def test_a_long_input_is_split_into_requests_of_2048_and_joined_in_order(client, emu) -> None:
    texts = [f"text {i}" for i in range(2 * 2048 + 5)]
    before = len(emu.ledger.entries())
    r = client.embeddings.create(model=MODEL, input=texts)
    charges = emu.ledger.entries()[before:]
    posts = [q for q in emu.requests if q.path == "/api/v1/embeddings"]
    assert sorted(len(q.body["input"]) for q in posts) == [5, 2048, 2048]
    assert [e.index for e in r.data] == list(range(len(texts)))
    for i in (0, 2047, 2048, 4100):  # each vector is its own input's
        assert r.data[i].embedding == client.embeddings.create(
            model=MODEL, input=texts[i]).embeddings[0]
    assert len(charges) == 3 and {c.kind for c in charges} == {"embedding"}
    assert r.usage is not None and r.usage.prompt_tokens == sum(c.input_tokens
                                                                for c in charges)
    assert len(r.request_ids) == 3 and len(set(r.request_ids)) == 3
    assert r.cost is None  # the docs show no cost in the answer


def test_the_requests_of_a_long_input_stay_within_max_concurrency(make_client, emu) -> None:
    client = make_client(max_concurrency=2)
    emu.inject(Fault(delay=0.05), times=None, path="/embeddings")  # requests overlap
    r = client.embeddings.create(model=MODEL, input=[f"t {i}" for i in range(5 * 2048)])
    assert len(r.data) == 5 * 2048 and emu.count("/embeddings") == 5
    assert emu.peak_in_flight <= 2


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["a", ""]}, "input"),
    ({"input": [[1, 2, 3]]}, "input"),  # token arrays are not documented
    ({"input": b"bytes"}, "input"),
    ({"input": "x", "model": ""}, "model"),
    ({"input": "x", "dimensions": 0}, "dimensions"),
    ({"input": "x", "dimensions": True}, "dimensions"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"input": "x", "user": 5}, "user"),
    ({"input": "x", "extra_body": {"input": ["y"]}}, "extra_body"),
])
def test_bad_arguments_are_refused_before_anything_is_sent(client, emu, kwargs: dict[str, Any],
                                                           param: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        client.embeddings.create(**{"model": MODEL, **kwargs})
    assert info.value.param == param
    assert emu.count() == 0


def _charges(emu: Emulator) -> list[Any]:
    return [c for c in emu.ledger.entries() if c.kind == "embedding"]


def test_an_unknown_model_is_the_documented_400_and_not_retried(client, emu) -> None:
    before = len(_charges(emu))
    with pytest.raises(BadRequestError) as info:
        client.embeddings.create(model="no-such-embedder", input="x")
    assert info.value.status_code == 400 and "Invalid model specified" in str(info.value)
    assert info.value.param == "model"
    assert emu.count("/embeddings") == 1
    assert len(_charges(emu)) == before  # not billed


def test_dimensions_on_a_model_that_cannot_reduce_is_a_400(client) -> None:
    with pytest.raises(BadRequestError) as info:
        client.embeddings.create(model="BAAI/bge-m3", input="x", dimensions=256)
    assert info.value.param == "dimensions"


def test_a_503_is_retried_then_answered(client, emu: Emulator) -> None:
    emu.inject(Fault(status=503))
    r = client.embeddings.create(model=MODEL, input="x")
    assert len(r.data) == 1 and emu.count("/embeddings") == 2


def test_a_cut_answer_is_not_sent_again(client, emu: Emulator) -> None:
    before = len(_charges(emu))
    emu.inject(Fault(reset_after_chunks=0))
    with pytest.raises(APIConnectionError) as info:
        client.embeddings.create(model=MODEL, input="x")
    assert info.value.answer_cut and emu.count("/embeddings") == 1
    assert len(_charges(emu)) == before + 1  # billed once


def test_models_are_typed_and_need_no_key(make_client, emu) -> None:
    models = make_client(api_key=None).embeddings.models()
    small = models[MODEL]
    assert isinstance(small, EmbeddingModel) and small.dimensions == 1536
    assert small.supports_dimensions and small.max_tokens == 8191
    assert small.pricing is not None and small.pricing.per_million_tokens == 0.02
    assert str(small.price_per_million_tokens) == "0.02"
    assert not models["BAAI/bge-m3"].supports_dimensions
    assert len(models) == 16 and MODEL in [m.id for m in models]
    assert emu.requests[-1].path == "/api/v1/embedding-models"
    assert "authorization" not in emu.requests[-1].headers


def test_copies_of_the_client_have_embeddings_too(emu) -> None:
    import asyncio

    from nanogpt import AsyncNanoGPT, NanoGPT

    with NanoGPT(KEY, base_url=emu.base_url) as client:
        copy = client.with_options(timeout=30)
        assert copy.embeddings is not client.embeddings
        assert len(copy.embeddings.create(model=MODEL, input="x").data) == 1
        raw = client.with_raw_response.embeddings.create(model=MODEL, input="x")
        assert raw.status_code == 200 and len(raw.parse().data) == 1
        with pytest.raises(InvalidParameterError, match="with_raw_response"):
            client.with_raw_response.embeddings.create(model=MODEL, input=["x"] * 2049)

    async def main() -> None:
        async with AsyncNanoGPT(KEY, base_url=emu.base_url) as client:
            copy = client.with_options(timeout=30)
            assert len((await copy.embeddings.create(model=MODEL, input="x")).data) == 1
            raw = await client.with_raw_response.embeddings.create(model=MODEL, input="x")
            assert raw.status_code == 200 and len((await raw.parse()).data) == 1

    asyncio.run(main())


# a request that fails among several --------------------------------------------------------

FAIL_AT = 2048  # the request whose first input is this one fails


def _embedding_server(seen: list[int]) -> Any:
    """Answers each request with float vectors, but a 500 to the one starting at FAIL_AT."""
    lock = threading.Lock()

    def handler(conn: RawConn) -> None:
        while (req := conn.read_request()) is not None:
            texts = json.loads(req.body)["input"]
            first = int(texts[0].split()[1])
            with lock:
                seen.append(first)
            if first == FAIL_AT:
                conn.send(http_response(500, b'{"error": {"message": "boom"}}'))
                continue
            body = {"object": "list", "model": MODEL, "usage": {"prompt_tokens": len(texts),
                                                                "total_tokens": len(texts)},
                    "data": [{"object": "embedding", "index": i,
                              "embedding": [float(int(t.split()[1])), 0.5]}
                             for i, t in enumerate(texts)]}
            conn.send(http_response(200, json.dumps(body).encode()))
    return handler


def test_a_failed_request_keeps_the_others_answers_and_starts_no_more(make_client,
                                                                       raw_server) -> None:
    seen: list[int] = []
    srv = raw_server(_embedding_server(seen))
    client = make_client(base_url=srv.base_url, max_concurrency=1)
    texts = [f"text {i}" for i in range(3 * 2048)]
    with pytest.raises(EmbeddingsIncompleteError) as info:
        client.embeddings.create(model=MODEL, input=texts)
    e = info.value
    assert seen == [0, 2048]  # one at a time: after the failure, the third was never sent
    assert srv.count("POST") == 2  # a 500 to a billed POST is not retried
    assert isinstance(e.__cause__, InternalServerError) and e.errors == [e.__cause__]
    assert [d.index for d in e.partial.data] == list(range(2048))
    assert e.partial.data[7].embedding == [7.0, 0.5]
    assert e.missing == list(range(2048, 3 * 2048))
    assert e.partial.usage is not None and e.partial.usage.prompt_tokens == 2048
    assert "embedded 2048 of 6144 inputs" in str(e) and "1 not sent" in str(e)
    copy = pickle.loads(pickle.dumps(e))
    assert str(copy) == str(e) and copy.missing == e.missing


def test_requests_in_flight_when_one_fails_are_kept(make_client, raw_server) -> None:
    seen: list[int] = []
    srv = raw_server(_embedding_server(seen))
    client = make_client(base_url=srv.base_url)  # all three at once
    texts = [f"text {i}" for i in range(3 * 2048)]
    with pytest.raises(EmbeddingsIncompleteError) as info:
        client.embeddings.create(model=MODEL, input=texts)
    e = info.value
    assert sorted(seen) == [0, 2048, 4096] and srv.count("POST") == 3
    assert [d.index for d in e.partial.data] == [*range(2048), *range(4096, 6144)]
    assert e.partial.data[-1].embedding == [6143.0, 0.5]
    assert e.missing == list(range(2048, 4096))


def test_a_failed_single_request_raises_its_own_error(make_client, raw_server) -> None:
    seen: list[int] = []
    srv = raw_server(_embedding_server(seen))
    client = make_client(base_url=srv.base_url)
    with pytest.raises(InternalServerError):
        client.embeddings.create(model=MODEL, input=[f"text {FAIL_AT}"])


@pytest.mark.parametrize("answer", [
    {"data": [{"index": 0, "embedding": [0.1]}]},  # one vector for two inputs
    {"data": [{"index": 0, "embedding": [0.1]}, {"index": 5, "embedding": [0.2]}]},
    {"data": [{"index": 0, "embedding": "AAA="}, {"index": 1, "embedding": "AAAAAA=="}]},
    {"object": "list"},
])
def test_an_answer_that_does_not_fit_the_input_is_a_validation_error(make_client, raw_server,
                                                                     answer) -> None:
    from nanogpt import APIResponseValidationError
    from rawserver import answering

    srv = raw_server(answering(http_response(200, json.dumps(answer).encode())))
    client = make_client(base_url=srv.base_url)
    with pytest.raises(APIResponseValidationError):
        client.embeddings.create(model=MODEL, input=["a", "b"])
    assert srv.count("POST") == 1


def test_the_namespace_is_made_on_first_use(emu) -> None:
    import subprocess
    import sys

    code = ("import sys, nanogpt; c = nanogpt.NanoGPT('k', base_url='http://127.0.0.1:9/api/v1'"
            "); c.chat; assert 'nanogpt._embeddings' not in sys.modules; c.embeddings; "
            "assert 'nanogpt._embeddings' in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_key_is_not_in_the_partial_error(make_client, raw_server) -> None:
    seen: list[int] = []
    srv = raw_server(_embedding_server(seen))
    client = make_client(base_url=srv.base_url, max_concurrency=1)
    with pytest.raises(EmbeddingsIncompleteError) as info:
        client.embeddings.create(model=MODEL, input=[f"text {i}" for i in range(4096)])
    assert KEY not in str(info.value) and KEY not in repr(info.value.__dict__)


def test_an_embedding_repr_shows_its_size_not_its_floats(client: Any) -> None:
    """A list of 50 vectors of 1,536 floats printed 1.7 MB; each prints its index, size and
    first values now (the response already did)."""
    r = client.embeddings.create(model=MODEL, input=["one", "two"] * 25)
    shown = repr(r.data)
    assert len(shown) < 100 * len(r.data)
    assert repr(r.data[1]).startswith("Embedding(index=1, 1536 dimensions: [")
