"""Which catalog ids a mistyped model id most likely meant: the "did you mean" of
``models.retrieve`` and of the command line. Pure functions over ids; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["closest_ids"]


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
    import difflib  # here: only a missing model needs it (3 ms at import)

    alike = difflib.get_close_matches(w, list(by_lower), n=most, cutoff=0.6)
    alike_names = difflib.get_close_matches(_name(w), list(by_name), n=most, cutoff=0.75)
    found = [by_lower[a] for a in alike] + [by_name[a] for a in alike_names]
    return list(dict.fromkeys(found))[:most]


def _name(model_id: str) -> str:
    """The part of an id after the provider: ``deepseek-v3.2`` for ``deepseek/deepseek-v3.2``."""
    return model_id.lower().rsplit("/", 1)[-1]
