"""The ``llm`` plugin attacked as its users' machines would (issue 13's adversary): a cached
catalog whose times lie in the future (a clock set back, a restored snapshot, a copied user
directory), against the emulator over loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("llm", reason="the llm extra is not installed: pip install '.[compat]'")

from nanogpt import llm_plugin
from nanogpt.emulator import Emulator

A_YEAR = 365 * 24 * 3600.0


@pytest.fixture
def cache_file(emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path))
    monkeypatch.setenv("NANOGPT_BASE_URL", emu.base_url)
    monkeypatch.setattr("sys.argv", ["llm", "models"])
    return tmp_path / llm_plugin.CACHE_FILE


def _write(path: Path, **fields: object) -> None:
    path.write_text(json.dumps(fields), encoding="utf-8")


def test_a_catalog_fetched_in_the_future_is_not_fresh_forever(cache_file: Path,
                                                               emu: Emulator) -> None:
    """Its age is negative, which read as "fresh" until the clock caught up: a year of the
    old catalog (no new model, ever) after the clock was set back."""
    _write(cache_file, base_url=emu.base_url, fetched_at=time.time() + A_YEAR,
           models=[{"id": "old/model"}])
    before = emu.count("/models")
    ids = {m.id for m in llm_plugin.load_catalog()}
    assert emu.count("/models") == before + 1
    assert "openai/gpt-5-mini" in ids and "old/model" not in ids


def test_a_fetch_failed_in_the_future_does_not_stop_fetching(cache_file: Path,
                                                             emu: Emulator) -> None:
    """Likewise a failure noted "in the future" stopped every fetch at startup until then."""
    _write(cache_file, base_url=emu.base_url, failed_at=time.time() + A_YEAR)
    before = emu.count("/models")
    assert "openai/gpt-5-mini" in {m.id for m in llm_plugin.load_catalog()}
    assert emu.count("/models") == before + 1
