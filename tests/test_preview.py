"""`mimeops preview` over files, folders, mbox files and Maildirs: the tally (docs/preview.md)."""

from __future__ import annotations

import html
import json
import mailbox
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mimeops.cli import main
from mimeops.preview import find
from tests.conftest import corpus_files

ROOT = Path(__file__).resolve().parent.parent
WARNING = ROOT / "examples" / "flows" / "external-warning.yaml"
EVENTS = ROOT / "events" / "messages"
TESTS = ROOT / "tests" / "messages"
KEYS = ["messages", "changed", "skipped", "bare", "errors", "rules", "audited"]

FLOW = """\
internal_domains: [example.com]
rules:
  - name: warn
    when: {direction: INBOUND, sender: external}
    apply: [{banner: {text: "CAUTION external", html: "<p>CAUTION external</p>"}}]
  - name: trial-junk
    mode: audit
    when: {direction: INBOUND, header: {Subject: "(?i)invoice"}}
    action: MOVE_TO_JUNK
  - name: outbound-only
    when: {direction: OUTBOUND}
    apply: [{footer: "Confidential."}]
"""


def envelope_line_message() -> bytes:
    """A message saved with its mbox envelope line, and a body line that mbox escapes."""
    return (b"From eve@outside.example.net Mon Jan  1 10:00:00 2024\n"
            b"From: Eve <eve@outside.example.net>\nTo: bob@example.com\nSubject: Invoice 7\n\n"
            b"Hello,\nFrom here on it is all yours.\n")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of messages, with a README that is not one."""
    root = tmp_path / "export"
    (root / "sub").mkdir(parents=True)
    for source in (*EVENTS.glob("*.eml"), *TESTS.glob("*.eml")):
        shutil.copy(source, root / source.name)
    (root / "sub" / "envelope-line.eml").write_bytes(envelope_line_message())
    (root / "sub" / "crlf.eml").write_bytes(
        b"From: x@outside.example.net\r\nTo: bob@example.com\r\nSubject: hi\r\n\r\nBody\r\n")
    (root / "README.md").write_text("# Export of the shared mailbox\n\nNothing to see.\n")
    (root / ".DS_Store").write_bytes(b"\0\1")
    return root


def messages_of(root: Path) -> list[bytes]:
    return [item.read() for item in find([str(root)]).items]


def build(kind: type[mailbox.Mailbox[mailbox.Message]], path: Path,
          messages: list[bytes]) -> Path:
    """An mbox or a Maildir written by the stdlib, as mail tools write them."""
    box = kind(str(path))
    for raw in messages:
        box.add(raw)
    box.close()
    return path


def build_mbox(path: Path, messages: list[bytes]) -> Path:
    return build(mailbox.mbox, path, messages)


def build_maildir(path: Path, messages: list[bytes]) -> Path:
    return build(mailbox.Maildir, path, messages)


def preview(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["preview", *args])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines, err
    return code, json.loads(lines[-1]), err


def test_tally_has_the_documented_keys_and_counts(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    code, tally, err = preview(capsys, "--config", str(flow), str(folder))
    assert code == 0
    assert list(tally) == KEYS
    assert tally["messages"] == 8 and tally["errors"] == 0
    assert tally["skipped"] == {"signed message (multipart/signed)": 1}
    # external senders: external.eml, external-signed, finance-invoice, envelope-line, crlf
    assert tally["rules"] == {"warn": 5, "outbound-only": 0} and tally["changed"] == 4
    assert tally["audited"] == {"trial-junk": 2}  # finance-invoice and "Invoice 7"
    assert "ignored 1 file(s) that are not messages" in err and "README.md" in err


def test_mbox_and_maildir_of_the_same_messages_give_the_folder_tally(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    raws = [(p.read_bytes()) for p in sorted(folder.rglob("*.eml"))]
    mbox = build_mbox(tmp_path / "all.mbox", raws)
    maildir = build_maildir(tmp_path / "Maildir", raws)
    tallies = [preview(capsys, "--config", str(flow), str(path))[1]
               for path in (folder, mbox, maildir)]
    assert tallies[0]["messages"] == len(raws) == 8
    assert tallies[0] == tallies[1] == tallies[2]


def test_maildir_subfolders_and_new_mail_are_read(tmp_path: Path) -> None:
    raws = [p.read_bytes() for p in EVENTS.glob("*.eml")]
    box = mailbox.Maildir(str(tmp_path / "Maildir"))
    box.add(raws[0])
    sent = box.add_folder("Sent")
    for raw in raws[1:]:
        sent.add(raw)
    # A message delivered but never seen sits in new/, not cur/.
    assert sorted(messages_of(tmp_path / "Maildir")) == sorted(raws)


def test_a_file_starting_with_an_envelope_line_is_an_mbox_unless_named_eml(tmp_path: Path) -> None:
    raws = [p.read_bytes() for p in sorted(EVENTS.glob("*.eml"))]
    mbox = build_mbox(tmp_path / "Inbox", raws)  # no extension, as mail clients name them
    assert len(find([str(mbox)]).items) == 3
    empty = tmp_path / "Archive.mbox"
    empty.write_bytes(b"")
    assert find([str(empty)]).items == []
    single = tmp_path / "saved.eml"
    single.write_bytes(envelope_line_message())
    (item,) = find([str(single)]).items
    assert item.read() == envelope_line_message().split(b"\n", 1)[1]


def test_missing_path_or_bad_flow_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["preview", "--config", str(WARNING), str(tmp_path / "nope")])
    assert stopped.value.code == 2
    assert "no such file or directory" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: r, mode: shadow, action: DROP}\n")
    with pytest.raises(SystemExit) as stopped:
        main(["preview", "--config", str(bad), str(tmp_path)])
    err = capsys.readouterr()
    assert stopped.value.code == 2 and err.out == "" and "expected enforce or audit" in err.err


def test_message_the_flow_fails_on_is_counted_and_preview_goes_on(
        folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from mimeops.flow.core import Flow

    real = Flow.apply

    def failing(self: Flow, raw: bytes, envelope: Any) -> Any:  # a bug in the engine
        if b"trips-a-bug" in raw:
            raise RuntimeError("a bug")
        return real(self, raw, envelope)

    monkeypatch.setattr(Flow, "apply", failing)
    (folder / "bug.eml").write_bytes(
        b"From: a@outside.example.net\nTo: b@example.com\nSubject: trips-a-bug\n\nbody\n")
    code, tally, _ = preview(capsys, "--config", str(WARNING), str(folder))
    assert code == 0 and tally["errors"] == 1 and tally["messages"] == 9


def test_unreadable_file_is_an_error_and_exit_1(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    locked = folder / "locked.eml"
    locked.write_bytes(b"From: a@b.net\n\nx\n")
    locked.chmod(0)
    code, tally, err = preview(capsys, "--config", str(WARNING), str(folder))
    assert code == 1 and tally["errors"] == 1 and "cannot read" in err


def test_the_tally_is_the_last_line_and_nothing_else_goes_to_stdout(folder: Path) -> None:
    # Not a terminal: no progress bar, stderr only says what was ignored.
    done = subprocess.run([sys.executable, "-m", "mimeops", "preview", "--config", str(WARNING),
                           str(folder)], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False)
    assert done.returncode == 0
    (line,) = done.stdout.splitlines()
    assert list(json.loads(line)) == KEYS
    assert done.stderr.splitlines() == [
        f"mimeops: ignored 1 file(s) that are not messages, e.g. {folder / 'README.md'}"]


@pytest.mark.skipif(not corpus_files(), reason="mail corpus not found (set MIMEOPS_CORPUS)")
def test_corpus_as_folder_mbox_and_maildir(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    files = corpus_files()
    corpus = files[0].parent.parent
    raws = [p.read_bytes() for p in files]
    code, folder_tally, _ = preview(capsys, "--config", str(WARNING), str(corpus))
    assert code == 0 and folder_tally["messages"] == len(files)
    mbox = build_mbox(tmp_path / "corpus.mbox", raws)
    maildir = build_maildir(tmp_path / "corpus-maildir", raws)
    for path in (mbox, maildir):
        assert preview(capsys, "--config", str(WARNING), str(path))[1] == folder_tally


def test_a_damaged_message_beside_its_siblings_is_read_a_note_is_not(tmp_path: Path) -> None:
    (tmp_path / "msg_01.txt").write_bytes(b"From: a@b.net\nSubject: s\n\nbody\n")
    (tmp_path / "msg_02.txt").write_bytes(b"Send submissions to\n\tlist@b.net\n\nbody\n")
    (tmp_path / "notes.md").write_text("Subject of the export: none\n")
    (tmp_path / "lic").mkdir()
    (tmp_path / "lic" / "LICENSE.txt").write_text("Permission is hereby granted\n")
    found = find([str(tmp_path)])
    assert [Path(i.label).name for i in found.items] == ["msg_01.txt", "msg_02.txt"]
    assert sorted(Path(p).name for p in found.ignored) == ["LICENSE.txt", "notes.md"]


def test_a_file_that_vanishes_before_it_is_read_is_an_error_and_exit_1(
        folder: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from mimeops.preview import sources

    def find_then_lose(paths: list[str]) -> object:
        found = find(paths)
        Path(found.items[0].label).unlink()
        return found

    monkeypatch.setattr(sources, "find", find_then_lose)
    code, tally, _ = preview(capsys, "--config", str(WARNING), str(folder))
    assert code == 1 and tally["errors"] == 1 and tally["messages"] == 8


def test_progress_bar_only_on_a_terminal(folder: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    done = subprocess.run([sys.executable, "-m", "mimeops", "preview", "--config", str(WARNING),
                           str(folder)], stdout=subprocess.PIPE, stderr=follower, cwd=ROOT,
                          timeout=60, check=False)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert done.returncode == 0 and b"0/8 [" in seen and b"msg/s]" in seen
    assert list(json.loads(done.stdout.decode().splitlines()[-1])) == KEYS


def test_report_that_cannot_be_written_still_prints_the_tally_last(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, tally, err = preview(capsys, "--config", str(WARNING), "--report",
                               str(tmp_path / "no" / "such" / "r.html"), str(folder))
    assert code == 1 and tally["messages"] == 8
    assert "cannot write" in err


# -- issue 21 item 5: non-messages, the tally as a table, decoded header diffs --------------

def test_empty_and_binary_files_are_errors_not_matches(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(EVENTS / "external.eml", folder / "real.eml")
    (folder / "empty.eml").write_bytes(b"")
    (folder / "image.eml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    report = tmp_path / "r.html"
    code, tally, _ = preview(capsys, "--config", str(WARNING), "--report", str(report),
                             str(folder))
    assert code == 0
    assert tally["messages"] == 3 and tally["errors"] == 2
    assert tally["rules"] == {"external-warning": 1} and tally["changed"] == 1
    html = report.read_text()
    assert html.count("not a message (empty, binary, or no header block)") == 2
    errors = html[html.index('id="error"'):html.index('id="changed"')]
    assert "empty.eml" in errors and "image.eml" in errors and "real.eml" not in errors


def table_rows(html: str, kind: str) -> list[list[str]]:
    table = re.search(rf'<table class="tally {kind}">(.*?)</table>', html, re.S)
    assert table, kind
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1))]


def test_the_report_shows_the_tally_as_tables(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    report = tmp_path / "r.html"
    _, tally, _ = preview(capsys, "--config", str(flow), "--report", str(report), str(folder))
    html = report.read_text()
    assert '{"messages"' not in html and "&quot;messages&quot;" not in html
    counts = {row[0]: int(row[1]) for row in table_rows(html, "counts")}
    assert counts["Messages"] == tally["messages"] == 8
    assert counts["Changed"] == tally["changed"] and counts["Errors"] == tally["errors"]
    assert counts["Skipped: signed message (multipart/signed)"] == 1
    assert table_rows(html, "rules")[1:] == [["warn", "enforce", "5"],
                                             ["outbound-only", "enforce", "0"],
                                             ["trial-junk", "audit", "2"]]


def test_header_changes_are_shown_decoded(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.eml").write_bytes(
        b"From: =?utf-8?q?Ren=C3=A9e?= <renee@outside.example.net>\nTo: bob@example.com\n"
        b"Subject: =?utf-8?b?UsOpdW5pb24gZGUgbHVuZGk=?=\n\nBonjour\n")
    report = tmp_path / "r.html"
    preview(capsys, "--config", str(WARNING), "--report", str(report), str(tmp_path / "m.eml"))
    diff = re.search(r'<pre class="diff">(.*?)</pre>', report.read_text(), re.S)
    assert diff is not None
    lines = [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in diff.group(1).split("\n")]
    assert "-Subject: Réunion de lundi" in lines
    assert "+Subject: [EXTERNAL] Réunion de lundi" in lines
    assert "=?utf-8?" not in diff.group(1)
    assert "<dd>Renée &lt;renee@outside.example.net&gt;</dd>" in report.read_text()


# -- the report past one page --------------------------------------------------------------

def test_a_large_report_is_an_index_and_pages_grouped(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from mimeops.preview import report as module

    monkeypatch.setattr(module, "PAGE_SIZE", 3)
    for n in range(4):  # 12 messages in all
        shutil.copy(EVENTS / "internal.eml", folder / f"internal-{n}.eml")
    report = tmp_path / "r.html"
    _, tally, _ = preview(capsys, "--config", str(WARNING), "--report", str(report), str(folder))
    index = report.read_text()
    assert "<section" not in index  # the index lists pages, not messages
    links = re.findall(r'href="(r-pages/[a-z]+-\d+\.html)">page \d+ \((\d+)\)', index)
    assert sum(int(n) for _, n in links) == tally["messages"] == 12
    seen = 0
    for link, count in links:
        page = (tmp_path / link).read_text()
        assert page.count('<section class="msg"') == int(count) <= 3
        assert 'href="../r.html"' in page
        seen += int(count)
        group = Path(link).stem.rpartition("-")[0]
        for target in re.findall(r'href="([a-z]+-\d+\.html)"', page):
            assert (tmp_path / "r-pages" / target).exists() and target.startswith(group)
    assert seen == 12
    groups = [Path(link).stem for link, _ in links]
    assert groups == sorted(groups, key=lambda g: list(module.GROUPS).index(
        g.rpartition("-")[0]))  # errors first, then changed, matched, untouched
    # A later, smaller report leaves no stale pages beside it.
    monkeypatch.setattr(module, "PAGE_SIZE", 250)
    preview(capsys, "--config", str(WARNING), "--report", str(report), str(folder))
    assert not (tmp_path / "r-pages").exists()
    assert report.read_text().count('<section class="msg"') == 12


def test_worker_processes_give_the_same_outcomes_in_the_same_order(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from mimeops.preview import runner

    monkeypatch.setattr(runner, "PARALLEL_FROM", 1)
    for n in range(40):
        shutil.copy(EVENTS / ("external.eml" if n % 3 else "internal.eml"), folder / f"x{n}.eml")
    (folder / "zz-empty.eml").write_bytes(b"")
    reports = []
    for jobs in ("1", "2"):
        report = tmp_path / f"r{jobs}.html"
        code, tally, _ = preview(capsys, "--jobs", jobs, "--config", str(WARNING), "--report",
                                 str(report), str(folder))
        reports.append((code, tally, re.findall(r"<h2><span.*?</h2>", report.read_text())))
    assert reports[0] == reports[1]
    assert reports[0][1]["messages"] == 49 and reports[0][1]["errors"] == 1


def test_previewing_leaves_no_reference_cycles(folder: Path) -> None:
    """Garbage in cycles waits for the collector's rare full pass, holding each message's
    parse tree and bytes: over 10,000 messages memory grew by megabytes (Facts <-> Who)."""
    import gc

    from mimeops.flow import load_flow
    from mimeops.preview import Tally
    from mimeops.preview.report import Report
    from mimeops.preview.tally import run_one

    flow = load_flow(WARNING)
    items = find([str(folder)]).items
    gc.collect()
    gc.disable()
    try:
        with Report("cycles") as report:
            tally = Tally.for_flow(flow)
            for item in items:
                outcome = run_one(flow, item, "INBOUND")
                tally.add(outcome)
                report.add(outcome)
            del outcome
            assert tally.changed > 0
            assert gc.collect() == 0
    finally:
        gc.enable()


def crash_on_marker(direction: str, tasks: list[tuple[str, bytes]]) -> Any:
    """A worker that dies (as if killed) on a chunk holding a marked message."""
    from mimeops.preview import runner

    if any(b"crash-the-worker" in raw for _, raw in tasks):
        os._exit(1)
    return runner.REAL_WORK(direction, tasks)  # type: ignore[attr-defined]


def test_a_worker_that_dies_costs_its_messages_not_the_preview(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from mimeops.preview import runner

    monkeypatch.setattr(runner, "PARALLEL_FROM", 1)
    monkeypatch.setattr(runner, "REAL_WORK", runner._work, raising=False)
    monkeypatch.setattr(runner, "_work", crash_on_marker)
    for n in range(60):
        shutil.copy(EVENTS / "external.eml", folder / f"x{n:02}.eml")
    (folder / "x30.eml").write_bytes(
        b"From: a@outside.example.net\nSubject: crash-the-worker\n\nx\n")
    report = tmp_path / "r.html"
    code, tally, _ = preview(capsys, "--jobs", "2", "--config", str(WARNING), "--report",
                             str(report), str(folder))
    assert code == 0 and tally["messages"] == 68
    assert 1 <= tally["errors"] < 68 and tally["changed"] > 0
    assert "the worker process applying the flow stopped" in report.read_text()
