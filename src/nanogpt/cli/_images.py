"""``nanogpt image``: generate (or, with ``--image``, edit) images and save them.

The output file is checked before anything is sent (its folder exists, it is not a folder):
an image is paid for, so a path that cannot take it must fail first. An existing file is
replaced, as ``curl -o`` does; ``-o -`` writes the one image to standard output (what was saved
and the cost then go to stderr). With ``-n`` above 1, ``-o cat.png`` names the files
``cat-1.png``, ``cat-2.png``, ... The images are asked for as data (``b64_json``); one the
service sends as a link anyway is printed, not saved (its link expires in about an hour).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import nanogpt as sdk

from ._render import is_stdout
from ._safe import visible

if TYPE_CHECKING:
    from ..types import ImagesResponse
    from ._app import App


def output_paths(output: Path, n: int) -> list[Path]:
    """Where the images go: ``output`` for one; ``stem-1.suffix``, ... for several."""
    if n == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, n + 1)]


def check_outputs(paths: list[Path]) -> None:
    """Refuse, before paying, paths whose folder is missing, that are folders, or that cannot
    be written: each is opened for writing (created if missing, then removed again, an
    existing file left as it is; a pipe or device is not tried), so a folder that refuses new
    files, or a read-only file, fails here (an ``OSError``) and not after the image was paid
    for."""
    for path in paths:
        folder = path.parent
        if not folder.is_dir():
            raise click.BadParameter(f"the folder {str(folder)!r} does not exist",
                                     param_hint="'-o'")
        if path.is_dir():
            raise click.BadParameter(f"{str(path)!r} is a folder; give a file name",
                                     param_hint="'-o'")
        if path.exists() and not path.is_file():
            continue  # a pipe or device: opening it to try would be a write of its own
        existed = path.exists()
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()


def read_prompt(words: tuple[str, ...]) -> str:
    """The prompt from the arguments, else from piped standard input."""
    prompt = " ".join(words)
    if not prompt and sys.stdin is not None and not sys.stdin.isatty():
        prompt = sys.stdin.read().strip()
    return prompt


def run_image(app: App, words: tuple[str, ...], *, output: Path | None, model: str | None,
              size: str | None, n: int | None, images: tuple[Path, ...], mask: Path | None,
              as_json: bool, list_models: bool) -> None:
    if list_models:
        run_list_models(app, as_json=as_json)
        return
    ctx = click.get_current_context()
    if output is None:
        raise click.UsageError("Missing option '-o' / '--output': where to save the image",
                               ctx)
    if mask is not None and not images:
        raise click.UsageError("--mask goes with --image (the image it masks)", ctx)
    prompt = read_prompt(words)
    to_stdout = str(output) == "-"
    if to_stdout:
        _check_stdout(n or 1)
    else:
        check_outputs(output_paths(output, n or 1))
    client = app.client()
    options: dict[str, Any] = {"model": model, "size": size, "n": n,
                               "response_format": "b64_json"}
    try:
        if images:
            result = client.images.edit(image=list(images), mask=mask, prompt=prompt,
                                        **options)
        else:
            result = client.images.generate(prompt=prompt, **options)
    except sdk.NotFoundError as e:
        if e.code != "model_not_found":
            raise
        # the chat catalog's advice would send the user to the wrong list
        raise click.ClickException(f"{e.message}: see 'nanogpt image --list-models' for "
                                   f"image model ids") from None
    saved = _save(result, output, n or 1)
    # stdout holds the image
    say = click.get_text_stream("stderr") if to_stdout or is_stdout(output) else None
    if as_json:
        click.echo(json.dumps(_summary(result, saved), indent=2), file=say)
        return
    for item in saved:
        if "path" in item:
            click.echo(f"saved {item['path']} ({item['bytes']:,} bytes)", file=say)
        else:
            click.echo(f"not saved: the service sent a link (it expires in about an hour): "
                       f"{visible(item['url'], name=True)}", file=say)
    click.echo(_cost_line(result), file=say)


def _check_stdout(n: int) -> None:
    """``-o -``: one image, to standard output, which must not be a terminal."""
    if n != 1:
        raise click.BadParameter("-o - takes one image; give a file name for -n 2 or more",
                                 param_hint="'-o'")
    if sys.stdout.isatty():
        raise click.BadParameter("standard output is a terminal, not a place for an image; "
                                 "redirect it (> image.png) or give a file name",
                                 param_hint="'-o'")


def _save(result: ImagesResponse, output: Path, asked: int) -> list[dict[str, Any]]:
    """Each image saved to its path. More images than asked for (a model with a fixed
    count) are numbered as for ``-n``."""
    paths = output_paths(output, max(asked, len(result.data)))
    saved: list[dict[str, Any]] = []
    for image, path in zip(result.data, paths, strict=False):
        if image.b64_json is None:
            saved.append({"url": image.url})
            continue
        data = image.bytes()
        if str(output) == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            saved.append({"path": "standard output", "bytes": len(data)})
            break  # one image asked for; a model that sends more cannot put two in one pipe
        path.write_bytes(data)
        saved.append({"path": str(path), "bytes": len(data)})
    return saved


def _summary(result: ImagesResponse, saved: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer as JSON, each image replaced by where it was saved (not megabytes of
    base64)."""
    summary = {k: v for k, v in result.raw.items() if k != "data"}
    summary["data"] = saved
    summary["request_id"] = result.request_id
    return summary


def _cost_line(result: ImagesResponse) -> str:
    if result.cost is None:
        return "cost: not reported"
    balance = result.remaining_balance
    left = f" (balance ${balance})" if balance is not None else ""
    return f"cost: ${result.cost}{left}"


def run_list_models(app: App, *, as_json: bool) -> None:
    """The image models: id, sizes, price per image, whether they edit."""
    models = app.client().images.models()
    if as_json:
        click.echo(json.dumps([m.raw for m in models], indent=2, ensure_ascii=False))
        return
    rows = [(visible(m.id, name=True), _price_range(m.pricing.per_image.values()),
             _abilities(m), visible(", ".join(m.supported_parameters.resolutions), name=True))
            for m in sorted(models, key=lambda m: m.id)]
    head = ("id", "$/image", "can", "sizes")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    for r in [head, *rows]:
        cells = [c.rjust(w) if i == 1 else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        click.echo("  ".join(cells).rstrip())


def _price_range(prices: Any) -> str:
    values = sorted(set(prices))
    if not values:
        return "-"
    return f"{values[0]}" if len(values) == 1 else f"{values[0]}-{values[-1]}"


def _abilities(m: Any) -> str:
    caps = m.capabilities
    names = [name for name, has in (("generate", caps.image_generation),
                                    ("edit", caps.image_to_image),
                                    ("inpaint", caps.inpainting)) if has]
    return ",".join(names) or "-"
