"""The README and the docs say what the code does: their examples are run and compared.

- every `console` block: each `$ COMMAND` line runs from the repository root, and what it
  prints (stdout and stderr) must be the lines that follow it, exactly;
- every `python` block runs as written (each carries its own asserts);
- the README stays a short guide whose links resolve; docs/architecture.md lists every
  module of the code; every MIMEOPS_* variable the code reads is documented; nothing
  points at a document outside the repository.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("mimeops", "mimeops_workmail", "mimeops_emulator", "mimeops_smtp", "handlers")


# docs/extending.md is followed to the letter by tests/test_extending_docs.py: its blocks
# are a package's files and commands run inside that package, not from the repository root.
RUN_ELSEWHERE = {ROOT / "docs" / "extending.md"}


def _blocks(language: str) -> list[object]:
    found = []
    for doc in DOCS:
        if doc in RUN_ELSEWHERE:
            continue
        for i, code in enumerate(re.findall(rf"^```{language}\n(.*?)^```", doc.read_text(),
                                            re.S | re.M)):
            found.append(pytest.param(code, id=f"{doc.relative_to(ROOT)}:{i}"))
    return found


def _session(block: str) -> list[tuple[str, str]]:
    """(command, the output the docs show for it) for each `$ ` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before any command: {line!r}"
            steps[-1][1].append(line)
    return [(command, "".join(f"{out}\n" for out in lines)) for command, lines in steps]


@pytest.mark.parametrize("block", _blocks("console"))
def test_console_example_prints_what_the_docs_show(block: str) -> None:
    # The docs run these after `make demo`, which creates out/ (git ignores it).
    (ROOT / "out").mkdir(exist_ok=True)
    env = {**os.environ, "MIMEOPS_MARKER_KEY": "docs-examples"}
    untracked = _untracked()
    for command, shown in _session(block):
        if "../shared/corpus" in command and not CORPUS.is_dir():
            pytest.skip(f"mail corpus not found at {CORPUS}: `{command}` reads it")
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=300, check=False)
        assert done.stdout == shown, f"$ {command}"
        assert done.returncode == (2 if "mimeops: error:" in shown else 0), f"$ {command}"
    assert _untracked() == untracked, "an example left a file git would show (write to out/)"


def _untracked() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("code", _blocks("python"))
def test_python_example_runs(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "assert " in code, "an example that checks nothing cannot fail"
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MIMEOPS_MARKER_KEY", "docs-examples")
    exec(compile(code, "docs example", "exec"), {})


def test_the_docs_have_examples_that_run() -> None:
    assert len(_blocks("console")) >= 5 and len(_blocks("python")) >= 4
    assert "```console\n$ " in README.read_text()


def test_readme_is_a_short_guide() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 400
    for section in ("## Two commands", "## Write a flow", "## Try it", "## Deploy",
                    "## Where to go next"):
        assert section in text


def _slug(heading: str) -> str:
    """The anchor MkDocs (and GitHub) give a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s+", "-", re.sub(r"[^\w\s-]", "", text)).strip("-")


def test_readme_links_resolve() -> None:
    links = re.findall(r"\]\(([^)]+)\)", README.read_text())
    assert links
    for link in links:
        assert not link.startswith(("http:", "https:")), f"{link}: the README links in-repo"
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else README
        assert target.exists(), link
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.M)
            assert anchor in {_slug(h) for h in headings}, link


def _modules() -> set[str]:
    return {str(path.relative_to(ROOT)) for package in PACKAGES
            for path in (ROOT / package).rglob("*.py")}


def test_architecture_lists_every_module_and_no_other() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    listed = set()
    for folder, table in re.findall(r"^### `([\w/]+)/`\n\n(.*?)(?=^#|\Z)", text, re.M | re.S):
        listed.update(f"{folder}/{name}" for name in re.findall(r"^\| `([\w]+\.py)` \|",
                                                                  table, re.M))
    assert listed == _modules(), (f"missing: {sorted(_modules() - listed)}; "
                                  f"gone: {sorted(listed - _modules())}")


def _variables() -> set[str]:
    """MIMEOPS_* names in the code, the tests, the Makefile and the template."""
    sources = [*(ROOT / p for p in _modules()), *(ROOT / "tests").glob("*.py"),
               *(ROOT / "bench").glob("*.py"), ROOT / "Makefile", ROOT / "template.yaml"]
    names = set()
    for source in sources:
        names.update(re.findall(r"\bMIMEOPS_[A-Z0-9_]*[A-Z0-9]\b", source.read_text()))
    return names


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = "".join(doc.read_text() for doc in DOCS)
    assert len(_variables()) >= 10
    assert sorted(v for v in _variables() if v not in documented) == []


def test_result_fields_are_documented() -> None:
    from mimeops.flow.core import Result

    api = (ROOT / "docs" / "api.md").read_text()
    for field in Result.__dataclass_fields__:
        assert f"result.{field}" in api, field


def test_no_reference_to_documents_outside_the_repository() -> None:
    outside = "INTER" + "FACES"  # the project contract, kept outside the repository
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".py", ".md", ".yaml", ".yml", ".json", ".toml"} and path.is_file():
            assert outside not in path.read_text(errors="replace"), name


def test_module_docstrings_say_what_each_module_is_for() -> None:
    """The architecture table's "one job" column starts from these."""
    for module in _modules():
        assert ast.get_docstring(ast.parse((ROOT / module).read_text())), module
