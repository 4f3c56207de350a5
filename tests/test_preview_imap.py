"""`mimeops preview imap[s]://...` against a real Dovecot (tests/dovecot_harness.py):
the same tally and report as the same messages as files, no flag changed, and one
clear line for each way a mailbox can fail (docs/preview.md)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mimeops.cli import main
from mimeops.errors import SourceError
from mimeops.preview.imap import ImapUrl, modified_utf7
from tests.conftest import corpus_files
from tests.dovecot_harness import DOVECOT, OPENSSL, Dovecot
from tests.preview_reports import pages, report_entries

pytestmark = pytest.mark.dovecot

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "examples" / "flows" / "external-warning.yaml"
MIMEOPS = [sys.executable, "-m", "mimeops"]
USER, PASSWORD = "bob@example.com", "correct horse"
SAMPLES = sorted([*(ROOT / "events" / "messages").glob("*.eml"),
                  *(ROOT / "tests" / "messages").glob("*.eml")])


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    problem = None if DOVECOT and OPENSSL else "Debian's dovecot-imapd (and openssl) not installed"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)  # .ci/run installs them: a missing one is a CI fault
        pytest.skip(problem)
    with Dovecot({USER: PASSWORD, "carol@example.com": "ünïcode pässword"}) as server:
        server.append(USER, "INBOX", [p.read_bytes() for p in SAMPLES])
        yield server


def url(server: Dovecot, folder: str = "INBOX", secure: bool = True) -> str:
    port = server.imaps if secure else server.imap
    return f"{'imaps' if secure else 'imap'}://{USER}@127.0.0.1:{port}/{folder}"


def run(*args: str, password: str | None = PASSWORD,
        **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MIMEOPS_IMAP")}
    if password is not None:
        environment["MIMEOPS_IMAP_PASSWORD"] = password
    environment.update(env)
    return subprocess.run([*MIMEOPS, "preview", "--config", str(FLOW), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=environment,
                          stdin=subprocess.DEVNULL, check=False)


def tally(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2 and done.stdout == "", (done.stdout, done.stderr)
    (line,) = done.stderr.splitlines()
    return line


def test_same_tally_and_report_as_the_files_and_no_flag_changes(
        dovecot: Dovecot, tmp_path: Path) -> None:
    messages = [p.read_bytes() for p in corpus_files()] or [p.read_bytes() for p in SAMPLES]
    dovecot.append(USER, "Archive", messages)
    before = dovecot.fetch(USER, "Archive")
    assert len(before) == len(messages)
    # The files: the messages exactly as the server holds them (IMAP sends CRLF lines).
    folder = tmp_path / "files"
    folder.mkdir()
    for uid, (_, raw) in before.items():
        (folder / f"{uid:05}.eml").write_bytes(raw)
    from_imap = run("--imap-cafile", str(dovecot.ca), "--report", str(tmp_path / "imap.html"),
                    url(dovecot, "Archive"))
    from_files = run("--report", str(tmp_path / "files.html"), str(folder))
    assert tally(from_imap) == tally(from_files)
    assert tally(from_imap)["messages"] == len(messages)
    assert report_entries(tmp_path / "imap.html") == report_entries(tmp_path / "files.html")
    assert dovecot.fetch(USER, "Archive") == before  # flags (\Seen, \Recent) and bytes
    assert any(f"/Archive/;UID={min(before)}</h2>" in page.read_text()
               for page in pages(tmp_path / "imap.html"))


def test_same_tally_as_the_original_files(dovecot: Dovecot) -> None:
    done = run("--imap-cafile", str(dovecot.ca), url(dovecot))
    files = run(*map(str, SAMPLES))
    assert tally(done) == tally(files) and tally(done)["messages"] == len(SAMPLES)


def test_plain_imap_and_the_cafile_from_the_environment(dovecot: Dovecot) -> None:
    plain = tally(run(url(dovecot, secure=False)))
    secure = tally(run(url(dovecot), MIMEOPS_IMAP_CAFILE=str(dovecot.ca)))
    assert plain == secure and plain["messages"] == len(SAMPLES)


def test_limit_previews_the_newest_first(dovecot: Dovecot, tmp_path: Path) -> None:
    newest = [f"From: x{n}@outside.example.net\nTo: bob@example.com\nSubject: number {n}\n\n"
              f"hello {n}\n".encode() for n in range(5)]
    dovecot.append(USER, "Limit", newest)
    report = tmp_path / "r.html"
    done = run("--imap-cafile", str(dovecot.ca), "--limit", "2", "--report", str(report),
               url(dovecot, "Limit"))
    assert tally(done)["messages"] == 2
    subjects = re.findall(r"<dt>Subject</dt><dd>([^<]*)</dd>", report.read_text())
    assert subjects == ["number 4", "number 3"]


def test_nested_and_non_ascii_folders(dovecot: Dovecot) -> None:
    # Dovecot's Maildir separator is ".": the URL's "/" is translated to it.
    dovecot.append(USER, "Projects.2026", [SAMPLES[0].read_bytes()])
    dovecot.append(USER, modified_utf7("Entwürfe"), [SAMPLES[1].read_bytes()] * 2)
    assert tally(run(url(dovecot, "Projects/2026"), "--imap-cafile",
                     str(dovecot.ca)))["messages"] == 1
    assert tally(run(url(dovecot, "Entw%C3%BCrfe"), "--imap-cafile",
                     str(dovecot.ca)))["messages"] == 2


def test_a_wrong_password_is_one_line_and_exit_2(dovecot: Dovecot) -> None:
    line = one_line_error(run("--imap-cafile", str(dovecot.ca), url(dovecot),
                              password="wrong"))
    assert line.startswith("mimeops: error: imaps://bob@example.com@127.0.0.1:")
    assert "login failed" in line and "Authentication failed" in line
    assert "wrong" not in line.replace("wrong password", "")


def test_a_utf8_password_logs_in(dovecot: Dovecot) -> None:
    address = f"imaps://carol@example.com@127.0.0.1:{dovecot.imaps}/INBOX"
    done = run("--imap-cafile", str(dovecot.ca), address, password="ünïcode pässword")
    assert tally(done)["messages"] == 0


def test_a_missing_folder_names_the_folders_there_are(dovecot: Dovecot) -> None:
    line = one_line_error(run("--imap-cafile", str(dovecot.ca), url(dovecot, "Nope")))
    assert "no folder 'Nope'" in line and "INBOX" in line and "Archive" in line


def test_an_untrusted_certificate_is_a_tls_failure(dovecot: Dovecot) -> None:
    line = one_line_error(run(url(dovecot)))
    assert "TLS failure" in line and "--imap-cafile" in line
    line = one_line_error(run("--imap-cafile", str(ROOT / "no-such-ca.pem"), url(dovecot)))
    assert "no-such-ca.pem: no such file" in line


def test_tls_to_a_plain_port_is_a_tls_failure(dovecot: Dovecot) -> None:
    wrong = f"imaps://{USER}@127.0.0.1:{dovecot.imap}/INBOX"
    line = one_line_error(run("--imap-cafile", str(dovecot.ca), wrong))
    assert "TLS failure" in line


def test_nothing_listening_is_one_line(dovecot: Dovecot) -> None:
    from tests.smtp_harness import free_port

    line = one_line_error(run(f"imap://{USER}@127.0.0.1:{free_port()}/INBOX"))
    assert "cannot connect" in line and "refused" in line.lower()


def test_no_password_and_no_terminal(dovecot: Dovecot) -> None:
    line = one_line_error(run(url(dovecot, secure=False), password=None))
    assert "set MIMEOPS_IMAP_PASSWORD" in line


def test_the_password_is_asked_on_a_terminal(dovecot: Dovecot) -> None:
    import pty

    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MIMEOPS_IMAP")}
    process = subprocess.Popen([*MIMEOPS, "preview", "--config", str(FLOW),
                                url(dovecot, secure=False)], cwd=ROOT, stdin=follower,
                               stderr=follower, stdout=subprocess.PIPE, env=environment)
    os.close(follower)
    seen = b""
    while b"IMAP password for bob@example.com@127.0.0.1" not in seen:
        seen += os.read(leader, 4096)
    os.write(leader, PASSWORD.encode() + b"\n")
    out, _ = process.communicate(timeout=120)
    os.close(leader)
    assert process.returncode == 0
    assert json.loads(out.splitlines()[-1])["messages"] == len(SAMPLES)


def _pump(source: socket.socket, sink: socket.socket, limit: float = float("inf")) -> None:
    """Copy `source` to `sink` until either ends, or `limit` bytes would be exceeded:
    then cut both (a dropped connection)."""
    sent = 0
    with contextlib.suppress(OSError):
        while (data := source.recv(4096)) and sent + len(data) <= limit:
            sink.sendall(data)
            sent += len(data)
    for end in (source, sink):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


class CuttingProxy:
    """Forwards one IMAP connection and cuts it once the server has sent `limit` bytes."""

    def __init__(self, port: int, limit: int) -> None:
        self.upstream, self.limit = port, limit
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream))
        threading.Thread(target=_pump, args=(client, server), daemon=True).start()
        _pump(server, client, self.limit)


def test_a_dropped_connection_reports_what_was_read(
        dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from mimeops.preview import imap

    messages = [(f"From: x@outside.example.net\nTo: bob@example.com\nSubject: {n}\n\n"
                 + "line of text\n" * 150).encode() for n in range(10)]
    dovecot.append(USER, "Dropped", messages)
    monkeypatch.setattr(imap, "BATCH_COUNT", 2)
    proxy = CuttingProxy(dovecot.imap, limit=12_000)  # mid-way through the fetches
    monkeypatch.setenv("MIMEOPS_IMAP_PASSWORD", PASSWORD)
    code = main(["preview", "--config", str(FLOW),
                 f"imap://{USER}@127.0.0.1:{proxy.port}/Dropped"])
    out, err = capsys.readouterr()
    read = json.loads(out.splitlines()[-1])["messages"]
    assert code == 1 and 0 < read < 10
    (line,) = err.splitlines()
    assert f"the connection was lost after {read} of 10 messages" in line


@pytest.mark.parametrize(("text", "parts"), [
    ("imaps://bob@example.com@mail.example.com/INBOX",
     (True, "bob@example.com", "mail.example.com", 993, "INBOX")),
    ("imap://bob%40example.com@mail.example.com:1143/Sent%20Items",
     (False, "bob@example.com", "mail.example.com", 1143, "Sent Items")),
    ("imaps://bob@h", (True, "bob", "h", 993, "INBOX")),
])
def test_imap_urls(text: str, parts: tuple[object, ...]) -> None:
    assert ImapUrl.parse(text) == ImapUrl(*parts)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "says"), [
    ("imaps://mail.example.com/INBOX", "give the user and the server"),
    ("imaps://bob:secret@mail.example.com/INBOX", "no password in the URL"),
    ("imaps://bob@mail.example.com:99999/INBOX", "port"),
])
def test_bad_imap_urls(text: str, says: str) -> None:
    with pytest.raises(SourceError, match=says) as raised:
        ImapUrl.parse(text)
    assert "secret" not in str(raised.value)


def test_modified_utf7() -> None:
    assert modified_utf7("Entwürfe") == "Entw&APw-rfe"
    assert modified_utf7("A&B") == "A&-B"
    assert modified_utf7("日本語") == "&ZeVnLIqe-"



class StartTlsFront:
    """A server that refuses to log in without TLS (LOGINDISABLED) and offers STARTTLS
    (Dovecot trusts loopback, so it never does here): after the TLS handshake, with the
    test certificate, it joins the client to the real Dovecot behind it."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upgraded = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import ssl

        client, _ = self.listener.accept()
        client.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
        reader = client.makefile("rb")
        while True:
            tag, _, command = reader.readline().decode().strip().partition(" ")
            if command.upper() == "STARTTLS":
                client.sendall(f"{tag} OK Begin TLS negotiation now\r\n".encode())
                break
            client.sendall(f"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"
                           f"{tag} OK done\r\n".encode())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server.root / "cert.pem", self.server.root / "key.pem")
        try:
            secure = context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        self.upgraded = True
        upstream = socket.create_connection(("127.0.0.1", self.server.imap))
        upstream.makefile("rb").readline()  # Dovecot's greeting: the client had one
        threading.Thread(target=_pump, args=(upstream, secure), daemon=True).start()
        _pump(secure, upstream)


def test_imap_upgrades_to_tls_when_the_server_requires_it(dovecot: Dovecot) -> None:
    front = StartTlsFront(dovecot)
    plain = f"imap://{USER}@127.0.0.1:{front.port}/INBOX"
    assert tally(run("--imap-cafile", str(dovecot.ca), plain))["messages"] == len(SAMPLES)
    assert front.upgraded
    untrusted = StartTlsFront(dovecot)
    line = one_line_error(run(f"imap://{USER}@127.0.0.1:{untrusted.port}/INBOX"))
    assert "TLS failure" in line and "--imap-cafile" in line and not untrusted.upgraded
