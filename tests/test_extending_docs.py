"""docs/extending.md, followed to the letter: its files written out as a package,
installed, its commands run with their shown output, its tests and Python example run.

Blocks whose first line is `# file: PATH` are the package's files; `console` blocks are
commands (`$ ...`) and their output (`...` at the end of a line: the rest may vary).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_plugins import install

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "extending.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", GUIDE, re.S)
FILES = {m.group(1): body.split("\n", 1)[1] for _, body in BLOCKS
         if (m := re.match(r"# file: (\S+)\n", body))}
CONSOLE = [body for kind, body in BLOCKS if kind == "console"]
PYTHON = [body for kind, body in BLOCKS if kind == "python" and not body.startswith("# file:")]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The guide's package (its folder, where it was installed)."""
    root = tmp_path_factory.mktemp("guide")
    folder = root / "acme-macros"
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    install(folder, root / "site")
    sys.path.insert(0, str(root / "site"))
    yield folder, root / "site"
    sys.path.remove(str(root / "site"))


def environment(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
            "MIMEOPS_MARKER_KEY": "guide"}


def test_the_guide_has_the_whole_package() -> None:
    assert {"pyproject.toml", "acme_macros/__init__.py", "acme_macros/transforms.py",
            "acme_macros/conditions.py", "flow.yaml", "tests/test_acme_macros.py",
            "tests/macro.eml", "bad.yaml"} <= set(FILES)
    assert len(CONSOLE) >= 2 and PYTHON


@pytest.mark.parametrize("block", CONSOLE, ids=[f"console{i}" for i in range(len(CONSOLE))])
def test_the_commands_print_what_the_guide_shows(package: tuple[Path, Path],
                                                 block: str) -> None:
    folder, site = package
    steps = re.split(r"^\$ ", block, flags=re.M)[1:]
    for step in steps:
        command, *expected = step.rstrip("\n").split("\n")
        args = shlex.split(command)
        assert args[0] == "mimeops"
        done = subprocess.run([sys.executable, "-m", "mimeops", *args[1:]], cwd=folder,
                              env=environment(site), capture_output=True, text=True,
                              timeout=120, check=False)
        shown = (done.stdout + done.stderr).rstrip("\n").split("\n")
        assert len(shown) == len(expected), (command, shown)
        for line, want in zip(shown, expected, strict=True):
            if want.endswith("..."):
                assert line.startswith(want[:-3]), (command, line)
            else:
                assert line == want, (command, line)
        assert done.returncode == (2 if "error:" in "\n".join(expected) else 0)


@pytest.mark.slow
def test_the_guides_tests_pass_with_the_workmail_fixture(package: tuple[Path, Path]) -> None:
    folder, site = package
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests"], cwd=folder, env={**environment(site), "PYTHONPATH":
                                                      str(site)},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout


def test_the_python_example_runs(package: tuple[Path, Path],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _ = package
    monkeypatch.chdir(folder)
    for code in PYTHON:
        namespace: dict[str, object] = {}
        exec(compile(code, "docs/extending.md", "exec"), namespace)
        result = namespace["result"]
        assert result.applied == ["macros:MacroNotice", "macros:subject_prefix"]  # type: ignore[attr-defined]
