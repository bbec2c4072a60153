"""NanoGPT's server-side Batch API, end to end against the emulator over real sockets: the SDK's
``client.files``/``client.batches`` (both clients), the batch host setting, the money rules of
those calls, ``nanogpt batch --remote`` (``run_remote``) and the ``nanogpt batches`` commands.

The emulator's batches move one phase per ``emu.batches.step`` seconds; the ``fast`` fixture
makes that short, and nothing here asserts on time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import nanogpt
from conftest import KEY, cli_env
from nanogpt._core.batches import BATCH_BASE_URL
from nanogpt.batch._remote import RemoteInputError, prepare, read_record, record_path
from nanogpt.cli._app import App
from nanogpt.cli._batches import batches_group, run_remote
from nanogpt.emulator import Emulator

MODEL = "openai/gpt-5-nano"


@pytest.fixture
def fast(emu: Emulator) -> Iterator[Emulator]:
    old = emu.batches.step
    emu.batches.step = 0.02
    yield emu
    emu.batches.step = old


def api_rows(n: int, **extra: Any) -> bytes:
    """``n`` rows in the Batch API's form; ``extra`` maps a row number to body fields."""
    lines = []
    for i in range(n):
        body = {"model": MODEL, "messages": [{"role": "user", "content": f"question {i}"}],
                "max_tokens": 16, **extra.get(f"r{i}", {})}
        lines.append(json.dumps({"custom_id": f"r{i}", "method": "POST",
                                 "url": "/v1/chat/completions", "body": body}))
    return ("\n".join(lines) + "\n").encode()


def write_rows(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def out_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# the SDK --------------------------------------------------------------------------------------

def test_lifecycle_through_the_sdk(fast: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client()
    uploaded = client.files.create(api_rows(3, r1={"temperature": 5}), filename="in.jsonl")
    assert uploaded.purpose == "batch" and uploaded.filename == "in.jsonl"
    assert client.files.retrieve(uploaded.id).size == uploaded.size
    batch = client.batches.create(input_file_id=uploaded.id)
    assert batch.status == "validating" and batch.request_counts.total == 3
    batch = client.batches.wait(batch.id, poll_interval=0.01)
    assert batch.status == "completed" and batch.done
    assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 1)
    assert batch.usage is not None and batch.usage["total_tokens"] > 0
    out = [json.loads(x) for x in client.files.content(batch.output_file_id).splitlines()]
    assert [o["custom_id"] for o in out] == ["r0", "r2"]
    assert out[0]["response"]["status_code"] == 200
    assert out[0]["response"]["body"]["choices"][0]["message"]["content"]
    err = [json.loads(x) for x in client.files.content(batch.error_file_id).splitlines()]
    assert err[0]["custom_id"] == "r1" and err[0]["response"]["status_code"] == 400
    assert batch.raw["endpoint"] == "/v1/chat/completions"  # unknown fields stay readable


def test_list_pages_newest_first(fast: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client()
    f = client.files.create(api_rows(1))
    ids = [client.batches.create(input_file_id=f.id).id for _ in range(3)]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == ids[::-1][:2] and first.has_more
    rest = client.batches.list(limit=2, after=first.last_id)
    assert rest.data[0].id == ids[0]


def test_upload_from_a_path(fast: Emulator, make_client: Callable[..., Any],
                            tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(api_rows(2))
    f = make_client().files.create(path)
    assert f.filename == "rows.jsonl" and f.size == len(api_rows(2))
    sent = [r for r in fast.requests if r.path.endswith("/files")][-1]
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")


def test_upload_from_an_open_file(fast: Emulator, make_client: Callable[..., Any],
                                  tmp_path: Path) -> None:
    """files.create reads an open binary file like audio and images do (one shared reader)."""
    path = tmp_path / "rows.jsonl"
    path.write_bytes(api_rows(2))
    with path.open("rb") as f:
        uploaded = make_client().files.create(f)
    assert uploaded.filename == "rows.jsonl" and uploaded.size == len(api_rows(2))


def test_validation_failure_names_the_lines(fast: Emulator,
                                            make_client: Callable[..., Any]) -> None:
    client = make_client()
    rows = api_rows(3).splitlines()
    bad = json.loads(rows[1])
    del bad["body"]["max_tokens"]
    data = b"\n".join([rows[0], json.dumps(bad).encode(), rows[2]]) + b"\n"
    batch = client.batches.wait(client.batches.create(
        input_file_id=client.files.create(data).id).id, poll_interval=0.01)
    assert batch.status == "failed" and batch.output_file_id is None
    assert any(m.startswith("line 2:") and "max_tokens" in m for m in batch.error_messages)


def test_cancel_and_no_cancel_after_the_end(fast: Emulator,
                                            make_client: Callable[..., Any]) -> None:
    client = make_client()
    fast.batches.step = 5.0  # stays validating while it is cancelled
    batch = client.batches.create(input_file_id=client.files.create(api_rows(2)).id)
    assert client.batches.cancel(batch.id).status == "cancelling"
    fast.batches.step = 0.0
    batch = client.batches.retrieve(batch.id)
    assert batch.status == "cancelled" and batch.error_file_id is not None
    with pytest.raises(nanogpt.BadRequestError):
        client.batches.cancel(batch.id)


def test_expired_batch(fast: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client()
    fast.batches.expire_next()
    batch = client.batches.create(input_file_id=client.files.create(api_rows(2)).id)
    batch = client.batches.wait(batch.id, poll_interval=0.01)
    assert batch.status == "expired" and batch.output_file_id is None
    err = [json.loads(x) for x in client.files.content(batch.error_file_id).splitlines()]
    assert {e["error"]["code"] for e in err} == {"batch_expired"}


def test_unknown_batch_is_a_404(fast: Emulator, make_client: Callable[..., Any]) -> None:
    with pytest.raises(nanogpt.NotFoundError):
        make_client().batches.retrieve("batch_nope")
    assert fast.count("/batches/{batch_id}") == 1  # a 404 is never retried


def test_bad_arguments_send_nothing(emu: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client()
    emu.reset_stats()
    for call in (lambda: client.batches.retrieve(""),
                 lambda: client.batches.list(limit=0),
                 lambda: client.batches.create(input_file_id="f", endpoint="/v1/embeddings"),
                 lambda: client.files.create(123)):
        with pytest.raises(nanogpt.InvalidParameterError):
            call()
    assert emu.request_count == 0


def test_create_is_never_sent_twice(fast: Emulator, make_client: Callable[..., Any]) -> None:
    """Creating a batch may be billed: a connection lost after sending it is not retried;
    reading a batch is, after a 502."""
    client = make_client()
    f = client.files.create(api_rows(1))
    fast.reset_stats()
    fast.inject(reset=True, path="/batches")
    with pytest.raises(nanogpt.APIConnectionError):
        client.batches.create(input_file_id=f.id)
    assert fast.count("/batches") == 1
    batch = client.batches.create(input_file_id=f.id)
    fast.reset_stats()
    fast.inject(status=502, path=f"/batches/{batch.id}")
    assert client.batches.retrieve(batch.id).id == batch.id
    assert fast.count("/batches/{batch_id}") == 2


def test_batch_host(emu: Emulator, emu2: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NANOGPT_BATCH_BASE_URL", raising=False)
    monkeypatch.delenv("NANOGPT_BASE_URL", raising=False)
    assert nanogpt.NanoGPT(KEY).batches.base_url == BATCH_BASE_URL
    assert nanogpt.NanoGPT(KEY, base_url=emu.base_url).batches.base_url == emu.base_url
    # batch calls go to batch_base_url when given, and nowhere else
    with nanogpt.NanoGPT(KEY, base_url=emu.base_url, batch_base_url=emu2.base_url) as c:
        emu.reset_stats()
        emu2.reset_stats()
        c.files.create(api_rows(1))
        assert (emu.count("/files"), emu2.count("/files")) == (0, 1)
    monkeypatch.setenv("NANOGPT_BATCH_BASE_URL", emu2.base_url)
    assert nanogpt.NanoGPT(KEY, base_url=emu.base_url).batches.base_url == emu2.base_url
    with pytest.raises(nanogpt.InvalidParameterError, match="batch_base_url"):
        nanogpt.NanoGPT(KEY, batch_base_url="ftp://x")


# batch --remote and nanogpt batches -----------------------------------------------------------

@pytest.fixture
def app(fast: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    for name in ("NANOGPT_BASE_URL", "NANOGPT_BATCH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NANOGPT_API_KEY", KEY)
    monkeypatch.setenv("NANOGPT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NANOGPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NANOGPT_BATCH_POLL", "0.01")
    a = App(base_url=fast.base_url, offline=False, verbose=0)
    yield a
    a.close()


def batches_cli(app: App, *args: str) -> Any:
    return CliRunner().invoke(batches_group, list(args), obj=app)


def live_rows(tmp_path: Path, n: int = 3) -> Path:
    return write_rows(tmp_path / "in.jsonl", [{"id": f"q{i}", "prompt": f"question {i}",
                                               "max_tokens": 8} for i in range(n)])


def test_remote_run_end_to_end(app: App, fast: Emulator, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"id": "a", "prompt": "one", "max_tokens": 8},
            {"id": "b", "prompt": "two", "max_tokens": 8, "temperature": 5},
            {"id": "c", "messages": [{"role": "user", "content": "three"}], "max_tokens": 8}]
    out = tmp_path / "out.jsonl"
    code = run_remote(app, write_rows(tmp_path / "in.jsonl", rows), out, model=MODEL,
                      detach=False, as_json=True)
    assert code == 1  # one row is an error row
    got = out_rows(out)
    assert [r["id"] for r in got] == ["a", "b", "c"]  # one row per input row, input order
    assert got[0]["response"]["choices"][0]["message"]["content"]
    assert got[1]["error"]["status"] == 400 and "temperature" in got[1]["error"]["message"]
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "completed" and summary["answered"] == 2
    est = summary["estimate"]
    assert est["worst_case_batch_usd"] * 2 == pytest.approx(est["worst_case_live_usd"])
    assert read_record(out)["batch_id"] == summary["batch_id"]


@pytest.mark.parametrize(("row", "expected"), [
    ({"id": "x", "prompt": "hi"}, "line 2: no output cap"),
    ({"id": "x", "prompt": "hi", "max_tokens": 8, "model": "deepseek/deepseek-r1"},
     "line 2: model 'deepseek/deepseek-r1' differs from 'openai/gpt-5-nano' on line 1"),
    ({"id": "x", "prompt": "hi", "max_tokens": 8, "stream": True}, "line 2: "),
    ({"id": "a", "prompt": "hi", "max_tokens": 8}, "line 2: id 'a' was already used on line 1"),
    ("{not json", "line 2: not JSON"),
])
def test_bad_rows_are_refused_before_upload(app: App, fast: Emulator, tmp_path: Path,
                                            row: Any, expected: str) -> None:
    inp = write_rows(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi", "max_tokens": 8}, row])
    fast.reset_stats()
    with pytest.raises(RemoteInputError) as info:
        prepare(inp, model=MODEL)
    assert any(p.startswith(expected) for p in info.value.problems)
    with pytest.raises(Exception, match="listed above\\); nothing was sent"):
        run_remote(app, inp, tmp_path / "out.jsonl", model=MODEL, detach=True, as_json=False)
    assert fast.count("/files") == fast.count("/batches") == 0
    assert not record_path(tmp_path / "out.jsonl").exists()


def test_prepare_lists_every_problem(tmp_path: Path) -> None:
    inp = write_rows(tmp_path / "in.jsonl", [{"id": f"r{i}", "prompt": "hi"} for i in range(30)])
    with pytest.raises(RemoteInputError) as info:
        prepare(inp, model=MODEL)
    assert len(info.value.problems) == 20 and "and 10 more" in str(info.value)
    plan = prepare(inp, model=MODEL, params={"max_tokens": 4})
    assert plan.rows == 30 and plan.model == MODEL


def test_detach_then_wait_and_download(app: App, fast: Emulator, tmp_path: Path) -> None:
    inp, out = live_rows(tmp_path), tmp_path / "out.jsonl"
    assert run_remote(app, inp, out, model=MODEL, detach=True, as_json=False) == 0
    record = read_record(out)
    assert record is not None and record["batch_id"] and not out.exists()
    # running the same command again never submits a second batch
    fast.reset_stats()
    with pytest.raises(Exception, match="already submitted"):
        run_remote(app, inp, out, model=MODEL, detach=True, as_json=False)
    assert fast.count("/files") == 0 and fast.count("/batches") == 0
    result = batches_cli(app, "wait", str(out))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in out_rows(out)] == ["q0", "q1", "q2"]
    assert all("response" in r for r in out_rows(out))
    out.unlink()
    result = batches_cli(app, "download", record["batch_id"], "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(out_rows(out)) == 3


def test_half_written_record_is_completed_not_resubmitted(app: App, fast: Emulator,
                                                          tmp_path: Path) -> None:
    """A crash between creating the batch and recording its id: the batch is found by its
    input file, and not created again."""
    inp, out = live_rows(tmp_path), tmp_path / "out.jsonl"
    run_remote(app, inp, out, model=MODEL, detach=True, as_json=False)
    record = read_record(out)
    assert record is not None
    record_path(out).write_text(json.dumps({**record, "batch_id": None}))
    with pytest.raises(Exception, match=record["batch_id"]):
        run_remote(app, inp, out, model=MODEL, detach=True, as_json=False)
    assert read_record(out)["batch_id"] == record["batch_id"]


def test_cancelled_batch_downloads_error_rows(app: App, fast: Emulator, tmp_path: Path) -> None:
    fast.batches.step = 5.0
    inp, out = live_rows(tmp_path), tmp_path / "out.jsonl"
    run_remote(app, inp, out, model=MODEL, detach=True, as_json=False)
    result = batches_cli(app, "cancel", str(out))
    assert result.exit_code == 0 and "cancelling" in result.output
    fast.batches.step = 0.0
    result = batches_cli(app, "wait", str(out), "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["status"] == "cancelled"
    rows = out_rows(out)
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"]
    assert {r["error"]["type"] for r in rows} == {"batch_cancelled"}


def test_list_and_status_commands(app: App, fast: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_remote(app, live_rows(tmp_path), out, model=MODEL, detach=True, as_json=False)
    batch_id = read_record(out)["batch_id"]
    listed = batches_cli(app, "list", "--limit", "5")
    assert listed.exit_code == 0 and batch_id in listed.output
    status = batches_cli(app, "status", batch_id, "--json")
    assert status.exit_code == 0 and json.loads(status.output)["id"] == batch_id
    missing = batches_cli(app, "download", "batch_nope")
    assert missing.exit_code != 0 and "-o OUT" in missing.output


# the real command line ------------------------------------------------------------------------

def nanogpt_cli(tmp_path: Path, emu: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(tmp_path, emu, NANOGPT_BATCH_POLL="0.01")
    return subprocess.run([sys.executable, "-m", "nanogpt", *args], env=env, text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def test_command_line_remote_detach_and_download(fast: Emulator, tmp_path: Path) -> None:
    inp, out = live_rows(tmp_path), tmp_path / "out.jsonl"
    r = nanogpt_cli(tmp_path, fast, "batch", str(inp), "-o", str(out), "-m", MODEL,
                    "--remote", "--detach")
    assert r.returncode == 0, r.stderr
    assert "worst case" in r.stderr and "saving" in r.stderr
    batch_id = read_record(out)["batch_id"]
    r = nanogpt_cli(tmp_path, fast, "batches", "wait", str(out))
    assert r.returncode == 0, r.stderr
    assert batch_id in r.stdout and [x["id"] for x in out_rows(out)] == ["q0", "q1", "q2"]


def test_command_line_refuses_bad_rows(fast: Emulator, tmp_path: Path) -> None:
    inp = write_rows(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi"}])
    fast.reset_stats()
    r = nanogpt_cli(tmp_path, fast, "batch", str(inp), "-o", str(tmp_path / "o.jsonl"),
                    "-m", MODEL, "--remote")
    assert r.returncode == 2 and "  line 1: no output cap" in r.stderr  # bad input, as live
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("nanogpt: the rows break the Batch API's rules (1 problem,")
    assert fast.count("/files") == fast.count("/batches") == 0


def test_command_line_refuses_live_only_options_with_remote(fast: Emulator,
                                                            tmp_path: Path) -> None:
    """--budget (or --max-rps, --retry-failed) with --remote used to be ignored silently: the
    batch was submitted with no cap at all."""
    inp = write_rows(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi", "max_tokens": 8}])
    fast.reset_stats()
    r = nanogpt_cli(tmp_path, fast, "batch", str(inp), "-o", str(tmp_path / "o.jsonl"),
                    "-m", MODEL, "--remote", "--budget", "0.01")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("nanogpt: --budget only works for a live run")
    assert fast.count("/files") == fast.count("/batches") == 0


def test_command_line_an_unknown_batch_id_points_to_the_list(fast: Emulator,
                                                              tmp_path: Path) -> None:
    for command in ("status", "wait", "cancel"):
        r = nanogpt_cli(tmp_path, fast, "batches", command, "batch_nosuch")
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1, r.stderr
        assert "404" in lines[0] and lines[0].endswith("'nanogpt batches list' shows the "
                                                       "batches this key can see")


def test_command_line_a_submit_already_running_is_one_line(fast: Emulator,
                                                           tmp_path: Path) -> None:
    import os

    from nanogpt.batch._ledger import _take_lock

    inp = write_rows(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi", "max_tokens": 8}])
    out = tmp_path / "o.jsonl"
    fd = _take_lock(Path(str(record_path(out)) + ".lock"))  # as a running submit holds it
    try:
        r = nanogpt_cli(tmp_path, fast, "batch", str(inp), "-o", str(out), "-m", MODEL,
                        "--remote")
    finally:
        os.close(fd)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and "another batch run" in lines[-1], r.stderr
    assert "unexpected error" not in r.stderr and fast.count("/batches") == 0


# the emulator ---------------------------------------------------------------------------------

def test_responses_rows_and_their_rules(fast: Emulator, make_client: Callable[..., Any]) -> None:
    client = make_client()

    def row(cid: str, **body: Any) -> str:
        return json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/responses",
                           "body": {"model": MODEL, "input": "hi", **body}})

    ok = client.files.create((row("a", max_output_tokens=16) + "\n").encode())
    batch = client.batches.wait(client.batches.create(
        input_file_id=ok.id, endpoint="/v1/responses").id, poll_interval=0.01)
    assert batch.status == "completed" and batch.endpoint == "/v1/responses"
    line = json.loads(client.files.content(batch.output_file_id))
    assert line["response"]["body"]["object"] == "response"
    bad = client.files.create((row("a", max_output_tokens=8) + "\n").encode())
    batch = client.batches.wait(client.batches.create(
        input_file_id=bad.id, endpoint="/v1/responses").id, poll_interval=0.01)
    assert batch.status == "failed" and "max_output_tokens" in batch.error_messages[0]


def test_the_emulator_keeps_a_bounded_number_of_files(
        fast: Emulator, make_client: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from nanogpt.emulator import _batches

    monkeypatch.setattr(_batches, "MAX_FILES", 3)
    client = make_client()
    ids = [client.files.create(api_rows(1)).id for _ in range(4)]
    with pytest.raises(nanogpt.NotFoundError):
        client.files.retrieve(ids[0])  # the oldest is forgotten first
    assert client.files.retrieve(ids[-1]).id == ids[-1]
