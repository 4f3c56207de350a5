"""What `pip install mimeops` puts into site-packages: the wheel, built from this tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import mimeops

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".venv", ".git", "out", ".aws-sam", "build", "dist", "*.egg-info",
                              "__pycache__", ".*_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel pip builds from a copy of the working tree (the tree stays clean)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"),
         str(source)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = (tmp / "dist").glob("mimeops-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_has_only_mimeops_named_top_level_packages(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in wheel.namelist()
           if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"mimeops", "mimeops_workmail", "mimeops_emulator", "mimeops_smtp"}
    assert not {"handlers", "workmail_emulator", "tests", "bench"} & top


def test_wheel_version_and_entry_points(wheel: zipfile.ZipFile) -> None:
    meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    lines = wheel.read(meta).decode().splitlines()
    assert f"Version: {mimeops.__version__}" in lines
    extras = {line.split(": ", 1)[1] for line in lines if line.startswith("Provides-Extra:")}
    assert {"aws", "local", "smtp"} <= extras
    points = wheel.read(meta.replace("METADATA", "entry_points.txt")).decode()
    for command in ("apply", "schema", "preview", "explain", "validate", "invoke", "serve",
                    "smtp-filter"):
        assert f"\n{command} = " in points
    assert "mimeops = mimeops.cli:main" in points
    assert any(n.endswith("mimeops/flow.schema.json") for n in wheel.namelist())
