"""Finding models by what a person types: the search of ``models -q`` and ``/model``. (The
"did you mean" for a model id the API does not know is the SDK's ``closest_ids``, which
``models.retrieve`` uses too; the command line takes it from ``nanogpt._contract``.)

Pure functions over the catalog: no I/O, no client. The catalog itself comes from the caller
(``App.catalog``, cached on disk), so a suggestion never costs a request that is paid for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .. import Model

__all__ = ["search"]


def search(query: str, models: list[Model]) -> list[Model]:
    """Models matching ``query``: substrings first, then letters in order."""
    q = query.lower().strip()
    if not q:
        return list(models)
    scored: list[tuple[tuple[int, int, str], Model]] = []
    for m in models:
        hay = f"{m.id} {m.name or ''}".lower()
        pos = hay.find(q)
        if pos >= 0:
            scored.append(((0, pos, m.id), m))
            continue
        gaps = _gaps_if_in_order(q, hay)
        if gaps is not None:
            scored.append(((1, gaps, m.id), m))
    return [m for _, m in sorted(scored, key=lambda t: t[0])]


def _gaps_if_in_order(q: str, hay: str) -> int | None:
    """How many letters of ``hay`` lie between the letters of ``q`` found in order, or None
    when ``q``'s letters do not all occur in that order."""
    i, gaps, last = 0, 0, -1
    for j, ch in enumerate(hay):
        if i < len(q) and ch == q[i]:
            if last >= 0:
                gaps += j - last - 1
            last = j
            i += 1
    return gaps if i == len(q) else None
