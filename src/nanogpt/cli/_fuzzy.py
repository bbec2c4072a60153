"""Finding models by what a person types: a search (``models -q``, ``/model``) and the
"did you mean" for a model id the API does not know.

Pure functions over the catalog: no I/O, no client. The catalog itself comes from the caller
(``App.catalog``, cached on disk), so a suggestion never costs a request that is paid for.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .. import Model


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


def closest_ids(wrong: str, ids: Iterable[str], *, most: int = 3) -> list[str]:
    """The catalog ids a mistyped model id most likely meant, best first.

    Ids whose name after the provider is ``wrong``'s (``deepseek-v3.2`` for
    ``deepseek/deepseek-v3.2``, or another letter case) are the answer when there are any;
    else ids that read alike (difflib's ratio, on the whole id and on the name after the
    provider), which catches a typo or a missing suffix."""
    known = sorted(set(ids))
    w = wrong.strip().lower()
    if not w:
        return []
    same_name = [i for i in known if _name(i) == _name(w) and i != wrong.strip()]
    if same_name:
        return same_name[:most]
    by_lower = {i.lower(): i for i in known}
    by_name: dict[str, str] = {}
    for i in known:
        by_name.setdefault(_name(i), i)
    alike = difflib.get_close_matches(w, list(by_lower), n=most, cutoff=0.6)
    alike_names = difflib.get_close_matches(_name(w), list(by_name), n=most, cutoff=0.75)
    found = [by_lower[a] for a in alike] + [by_name[a] for a in alike_names]
    return list(dict.fromkeys(found))[:most]


def _name(model_id: str) -> str:
    """The part of an id after the provider: ``deepseek-v3.2`` for ``deepseek/deepseek-v3.2``."""
    return model_id.lower().rsplit("/", 1)[-1]
