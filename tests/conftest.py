"""Shared fixtures: the real-world corpus (read in place) and sample files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MIMEOPS_CORPUS", ROOT.parent / "shared" / "corpus"))
EXAMPLE_FLOW = ROOT / "examples" / "flows" / "demo.yaml"


def corpus_files() -> list[Path]:
    """Every message of the corpus (a folder per source, no sub-folders)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for d in CORPUS.iterdir() if d.is_dir() and d.name != "LICENSES"
                  for p in d.iterdir() if p.is_file())


def corpus_params() -> list[object]:
    files = corpus_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"mail corpus not found at {CORPUS} (set MIMEOPS_CORPUS)"))]
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in files]


from tests.browser import browser, page  # noqa: E402,F401  (fixtures for the browser tests)
from tests.panes.fixtures import (  # noqa: E402,F401  (the rendering engines)
    batch,
    engine,
    gecko,
    pane,
    thunderbird,
    thunderbird_batch,
    thunderbird_engine,
)
