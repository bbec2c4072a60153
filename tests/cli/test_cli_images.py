"""``nanogpt image``, run as a subprocess against the emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from nanogpt.emulator import Emulator, Fault
from test_cli import assert_one_line_error

PNG = b"\x89PNG\r\n\x1a\n"


def test_image_saves_the_file_and_says_where_and_what_it_cost(run: Any, emu: Emulator,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "fox.png"
    out.write_bytes(b"an older image")  # replaced, as curl -o does
    r = run("image", "a red fox in the snow", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(PNG)
    assert r.stdout.splitlines() == [f"saved {out} ({out.stat().st_size:,} bytes)",
                                     "cost: $0.01 (balance $129.45956147)"]
    assert emu.requests[-1].body == {"prompt": "a red fox in the snow",
                                     "response_format": "b64_json"}


def test_several_images_are_numbered_and_json_names_the_files(run: Any, emu: Emulator,
                                                              tmp_path: Path) -> None:
    r = run("image", "icons", "-n", "3", "--size", "1536x1024", "-m", "gpt-image-1",
            "-o", str(tmp_path / "icon.png"), "--json")
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["icon-1.png", "icon-2.png", "icon-3.png"]
    answer = json.loads(r.stdout)
    assert answer["cost"] == 0.18 and answer["request_id"].startswith("emu-")
    assert [Path(d["path"]).name for d in answer["data"]] == names
    assert "b64_json" not in r.stdout
    body = emu.requests[-1].body
    assert (body["n"], body["size"], body["model"]) == (3, "1536x1024", "gpt-image-1")


def test_image_edits_the_given_images(run: Any, emu: Emulator, tmp_path: Path) -> None:
    from nanogpt.emulator._images import png

    source = tmp_path / "in.png"
    source.write_bytes(png(8, 8, bytes(6)))
    r = run("image", "make the sky purple", "-i", str(source), "--mask", str(source),
            "-m", "gpt-image-1", "-o", str(tmp_path / "out.png"))
    assert r.returncode == 0, r.stderr
    sent = emu.requests[-1]
    assert sent.path == "/api/v1/images/edits"
    assert sent.body["imageDataUrl"].startswith("data:image/png;base64,")
    assert sent.body["maskDataUrl"] == sent.body["imageDataUrl"]
    assert (tmp_path / "out.png").read_bytes().startswith(PNG)


def test_the_prompt_may_be_piped(run: Any, emu: Emulator, tmp_path: Path) -> None:
    r = run("image", "-o", str(tmp_path / "a.png"), input="a piped prompt\n")
    assert r.returncode == 0, r.stderr
    assert emu.requests[-1].body["prompt"] == "a piped prompt"


def test_a_path_that_cannot_take_the_image_is_refused_before_paying(
        run: Any, emu: Emulator, tmp_path: Path) -> None:
    r = run("image", "x", "-o", str(tmp_path / "missing" / "a.png"))
    assert_one_line_error(r, "folder", "does not exist")
    (tmp_path / "dir-1.png").mkdir()
    r = run("image", "x", "-n", "2", "-o", str(tmp_path / "dir.png"))
    assert_one_line_error(r, "is a folder")
    r = run("image", "x")
    assert_one_line_error(r, "Missing option '-o'")
    assert r.returncode == 2
    assert emu.count() == 0


def test_errors_are_one_line(run: Any, emu: Emulator, tmp_path: Path) -> None:
    out = str(tmp_path / "a.png")
    r = run("image", "", "-o", out)
    assert_one_line_error(r, "PROMPT: must be a non-empty string")
    assert r.returncode == 2 and emu.count() == 0
    r = run("image", "x", "--size", "3x3", "-o", out)
    assert_one_line_error(r, "400", "size must be one of 1024x1024")
    r = run("image", "x", "-m", "no-such-model", "-o", out)
    assert_one_line_error(r, "not found", "nanogpt image --list-models")
    r = run("image", "x", "--mask", out, "-o", out, input="")
    assert r.returncode == 2
    with open(out, "wb"):
        pass
    r = run("image", "x", "--mask", out, "-o", out)
    assert_one_line_error(r, "--mask goes with --image")
    r = run("image", "x", "-i", out, "-o", out)  # an empty file is no image
    assert_one_line_error(r, "--image: is empty")
    emu.inject(Fault(status=402, error_shape="legacy"), path="/images/")
    r = run("image", "x", "-o", out)
    assert_one_line_error(r, "insufficient balance (402)")
    assert not os.path.getsize(out)


def test_list_models(run: Any, emu: Emulator) -> None:
    r = run("image", "--list-models")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["id", "$/image", "can", "sizes"]
    gpt = next(line for line in lines if line.startswith("gpt-image-1 "))
    assert "0.04-0.06" in gpt and "generate,edit,inpaint" in gpt and "1536x1024" in gpt
    data = json.loads(run("image", "--list-models", "--json").stdout)
    assert {m["id"] for m in data} >= {"hidream", "gpt-image-1"}
