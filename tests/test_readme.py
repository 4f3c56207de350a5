"""The README's Python examples run as written (from the repository root)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MIMEOPS_MARKER_KEY", "readme")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    if "result" in namespace:
        result = namespace["result"]
        assert result.changed is True  # type: ignore[attr-defined]
        assert result.applied[0] == "external-warning:banner"  # type: ignore[attr-defined]


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2 and os.path.exists(ROOT / "examples" / "flows" / "demo.yaml")
