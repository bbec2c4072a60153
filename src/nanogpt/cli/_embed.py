"""``nanogpt embed``: embedding vectors for texts given as arguments or in a file.

By default it prints a summary line (model, inputs, dimensions, tokens, cost) and one line per
input with the first values of its vector; ``--json`` prints every vector. The cost is
NanoGPT's when the answer carries one; otherwise it is worked out from the tokens and the
model's price in the embedding model list (marked ``~``), which costs one more request, free.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..types import CreateEmbeddingResponse
    from ._app import App

__all__ = ["embed_command"]

DEFAULT_MODEL = "text-embedding-3-small"
SHOWN_VALUES = 4  # values of each vector on its line


def read_inputs(texts: tuple[str, ...], file: Any) -> list[str]:
    """The arguments, then the file's lines (blank lines skipped): one input each."""
    inputs = list(texts)
    if file is not None:
        try:
            text = file.read()
        except UnicodeDecodeError as e:
            raise click.BadParameter(
                f"{file.name}: not UTF-8 text (byte {e.start}); convert it first, e.g. "
                f"iconv -t UTF-8", param_hint="'--file'") from None
        inputs += [line for line in text.splitlines() if line.strip()]
    if not inputs:
        raise click.UsageError("nothing to embed: give TEXT arguments or --file F")
    return inputs


def estimated_cost(app: App, model: str, tokens: int | None) -> Decimal | None:
    """Tokens times the model's listed price (USD per million); None when either is unknown.
    The list is free; if it cannot be had, no cost is shown rather than the command failing."""
    if tokens is None:
        return None
    try:
        price = app.client().embeddings.models()[model].price_per_million_tokens
    except Exception:  # a display extra: the vectors are already paid for and shown
        return None
    return price * tokens / Decimal(1_000_000) if price is not None else None


def _money(amount: Decimal) -> str:
    return f"${amount:.8f}".rstrip("0").rstrip(".") if amount else "$0"


def as_json(r: CreateEmbeddingResponse, cost: Decimal | None, estimated: bool) -> str:
    usage = r.usage
    return json.dumps({
        "model": r.model,
        "usage": {"prompt_tokens": usage.prompt_tokens if usage else None,
                  "total_tokens": usage.total_tokens if usage else None},
        "cost": format(cost, "f") if cost is not None else None, "cost_estimated": estimated,
        "data": [{"index": e.index, "embedding": e.embedding} for e in r.data],
    })


def summary(r: CreateEmbeddingResponse, cost: Decimal | None, estimated: bool) -> str:
    dims = len(r.data[0].embedding) if r.data else 0
    tokens = r.usage.prompt_tokens if r.usage else None
    parts = [r.model, f"{len(r.data)} input{'s' * (len(r.data) != 1)}", f"{dims} dimensions"]
    if tokens is not None:
        parts.append(f"{tokens} tokens")
    if cost is not None:
        parts.append(("~" if estimated else "") + _money(cost))
    return " · ".join(parts)


def vector_line(index: int, vector: list[float]) -> str:
    shown = " ".join(f"{v:+.4f}" for v in vector[:SHOWN_VALUES])
    more = " ..." if len(vector) > SHOWN_VALUES else ""
    return f"[{index}] {shown}{more}"


def run_embed(app: App, texts: tuple[str, ...], file: Any, model: str | None,
              dimensions: int | None, json_out: bool) -> None:
    inputs = read_inputs(texts, file)
    model = model or DEFAULT_MODEL
    from ._advice import known_models

    client = app.client()
    with known_models("embedding", lambda: [m.id for m in client.embeddings.models()]):
        r = client.embeddings.create(model=model, input=inputs, dimensions=dimensions)
    cost, estimated = r.cost, False
    if cost is None:
        usage = r.usage
        cost, estimated = estimated_cost(app, model, usage.prompt_tokens if usage else None), True
    if json_out:
        click.echo(as_json(r, cost, estimated and cost is not None))
        return
    click.echo(summary(r, cost, estimated))
    for e in r.data:
        click.echo(vector_line(e.index, e.embedding))


@click.command("embed", context_settings={"help_option_names": ["-h", "--help"],
                                          "max_content_width": 100})
@click.argument("texts", metavar="TEXT...", nargs=-1)
@click.option("-f", "--file", type=click.File("r", encoding="utf-8"),
              help="Embed each line of this file ('-': standard input); blank lines skipped.")
@click.option("-m", "--model", help=f"Embedding model (default: {DEFAULT_MODEL}).")
@click.option("--dimensions", type=click.IntRange(min=1),
              help="Shorter vectors (models that support it: text-embedding-3-*, Qwen3).")
@click.option("--json", "json_out", is_flag=True,
              help="Print every vector as JSON (model, usage, cost, data).")
@click.pass_obj
def embed_command(app: App, texts: tuple[str, ...], file: Any, model: str | None,
                  dimensions: int | None, json_out: bool) -> None:
    """Embedding vectors for texts.

    One vector per TEXT argument, or per line of --file. Prints the model, the number of
    inputs, the dimensions, the tokens and the cost (NanoGPT's, or ~ worked out from the
    model's listed price), then each vector's first values; --json prints the vectors whole.
    Any number of inputs: more than 2048 go as several requests, joined in order.

    \b
    Examples:
      nanogpt embed 'first text' 'second text'
      nanogpt embed --file docs.txt --json > vectors.json
      nanogpt embed -m text-embedding-3-large --dimensions 256 'hello'
    """
    run_embed(app, texts, file, model, dimensions, json_out)
