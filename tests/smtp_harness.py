"""Real SMTP parts for the content-filter tests and the bench: a sink next hop, the
filter as a process, and a throw-away Postfix instance configured from docs/smtp.md.

Every wait polls with a deadline: nothing sleeps a fixed time and hopes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
MIMEOPS = str(Path(sys.executable).parent / "mimeops")
POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin:/bin")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], Any], what: str, deadline: float = 30.0,
               every: float = 0.05) -> Any:
    """Poll `check` until it returns something true; AssertionError naming `what` at the end."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what}")
        time.sleep(every)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SinkHandler:
    """Keeps what it accepts. `hold` makes DATA wait for `release`, then answer 451."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)     # rcpt -> reply
    hold: bool = False                                       # hold every message
    hold_for: set[str] = field(default_factory=set)          # ... or those to these rcpts
    forward_to: int | None = None        # pass accepted messages on to this loopback port
    waiting: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hold or self.hold_for.intersection(envelope.rcpt_tos):
            self.waiting.set()
            # Until the test releases it (bounded: a failed test must not hang the sink).
            await asyncio.to_thread(self.release.wait, 120)
            return "451 4.3.0 held by the test"
        got = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        if self.forward_to:
            mail_from = "" if got.mail_from == "<>" else got.mail_from
            await asyncio.to_thread(submit, self.forward_to, mail_from, got.rcpt_tos, got.data)
        self.messages.append(got)
        return "250 OK: kept"


@contextmanager
def sink(port: int | None = None) -> Iterator[tuple[SinkHandler, int]]:
    """A next-hop SMTP server on loopback that keeps every message it accepts."""
    handler = SinkHandler()
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class Filter:
    """`mimeops smtp-filter` as a real process (the installed console script)."""

    def __init__(self, flow: Path, port: int, next_hop: int, *extra: str) -> None:
        self.args = [MIMEOPS, "smtp-filter", "--config", str(flow), "--listen",
                     f"127.0.0.1:{port}", "--next-hop", f"127.0.0.1:{next_hop}", *extra]
        self.port = port
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the Filter)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Filter:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        wait_until(lambda: listening(self.port) or (self.process and self.process.poll()),
                   "the filter to listen", 20)
        assert self.process.poll() is None, self.lines()
        return self

    def lines(self) -> list[str]:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace").splitlines()

    def records(self) -> list[dict[str, Any]]:
        """The filter's per-message log lines."""
        out = []
        for line in self.lines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "message":
                out.append(record)
        return out

    def stop(self, sig: int = signal.SIGTERM, deadline: float = 20.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(deadline)

    def __enter__(self) -> Filter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def submit(port: int, mail_from: str, rcpts: list[str], data: bytes) -> dict[str, Any]:
    """One SMTP transaction; the refused recipients (smtplib's answer)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        return client.sendmail(mail_from, rcpts, data)


def guide_block(name: str) -> str:
    """The code block of docs/smtp.md that starts with the comment line `# <name>`."""
    text = (ROOT / "docs" / "smtp.md").read_text(encoding="utf-8")
    found = re.search(rf"```\w*\n(# {re.escape(name)}\n.*?)```", text, re.S)
    assert found, f"docs/smtp.md has no code block starting with '# {name}'"
    return found.group(1)


BASE_MAIN = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.mimeops.test
mydomain = mimeops.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{sink}
smtp_dns_support_level = disabled
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
"""

# Every daemon the instance needs, none chrooted (a chroot would need a copy of /etc).
BASE_MASTER = """\
127.0.0.1:{smtp} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_problem() -> str | None:
    """Why a throw-away Postfix cannot run here (None when it can)."""
    if POSTFIX is None:
        return "no Postfix here: apt-get install -y postfix (.ci/run does)"
    if os.geteuid() != 0:
        return "a throw-away Postfix instance needs root (postfix -c DIR start)"
    try:
        import pwd

        pwd.getpwnam("postfix")
    except KeyError:
        return "no 'postfix' user: install Debian's postfix package"
    return None


class Postfix:
    """A Postfix instance of our own: `postfix -c DIR`, loopback ports, its own queue.

    main.cf/master.cf are a minimal base plus the two blocks of docs/smtp.md (ports
    10025/10026 replaced by free ones), so what the guide says is what runs.
    The system's own Postfix, if any, is neither used nor touched.
    """

    def __init__(self, sink_port: int, with_filter: bool = True,
                 extra_main: str = "", before_queue: bool = False,
                 per_direction: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mimeops-postfix-"))
        self.dir.chmod(0o755)  # the postfix user walks into its queue below
        self.conf = self.dir / "conf"
        self.smtp_port, self.filter_port, self.reinject_port = (
            free_port(), free_port(), free_port())
        self.submission_port, self.outbound_filter_port = free_port(), free_port()
        main = BASE_MAIN.format(dir=self.dir, sink=sink_port)
        master = BASE_MASTER.format(smtp=self.smtp_port)
        if before_queue:  # docs/smtp.md's port-25 smtpd with its proxy filter, on our port
            smtpd = master.splitlines(keepends=True)[0]
            master = master.replace(smtpd, "") + self._ports(
                guide_block("master.cf (before the queue)")).replace(
                "\nsmtp      inet", f"\n127.0.0.1:{self.smtp_port} inet")
        if per_direction:  # docs/smtp.md's smtp/submission services, on our ports
            smtpd = master.splitlines(keepends=True)[0]
            master = master.replace(smtpd, "") + self._ports(
                guide_block("master.cf (one listener per direction)")).replace(
                "\nsmtp       inet", f"\n127.0.0.1:{self.smtp_port} inet").replace(
                "\nsubmission inet", f"\n127.0.0.1:{self.submission_port} inet")
        if with_filter:
            if not (before_queue or per_direction):
                main += self._ports(guide_block("main.cf"))
            master += self._ports(guide_block("master.cf"))
        self.conf.mkdir()
        (self.conf / "main.cf").write_text(main + extra_main, encoding="utf-8")
        (self.conf / "master.cf").write_text(master, encoding="utf-8")
        (self.dir / "queue").mkdir()
        (self.dir / "data").mkdir()
        shutil.chown(self.dir / "data", "postfix")

    def _ports(self, text: str) -> str:
        return (text.replace("10025", str(self.filter_port))
                .replace("10026", str(self.reinject_port))
                .replace("10027", str(self.outbound_filter_port)))

    def command(self, *args: str, check: bool = True) -> str:
        """`postfix`/`postqueue`/`postsuper` on this instance; its output."""
        tool = args[0] if args[0].startswith("post") else "postfix"
        rest = args[1:] if args[0].startswith("post") else args
        done = subprocess.run([f"/usr/sbin/{tool}", "-c", str(self.conf), *rest],
                              capture_output=True, text=True, timeout=60)
        if check and done.returncode:
            raise AssertionError(f"{tool} {' '.join(rest)} failed: {done.stderr.strip()}\n"
                                 + self.maillog()[-3000:])
        return done.stdout

    def start(self) -> Postfix:
        self.command("postfix", "start")
        wait_until(lambda: listening(self.smtp_port), "Postfix to listen", 30)
        return self

    def stop(self) -> None:
        pid_file = self.dir / "queue" / "pid" / "master.pid"
        self.command("postfix", "stop", check=False)
        wait_until(lambda: not pid_file.exists() or not _alive(pid_file),
                   "Postfix to stop", 30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def queue(self) -> list[dict[str, Any]]:
        """The queue as `postqueue -j` reports it, one dict per message."""
        return [json.loads(line) for line in self.command("postqueue", "-j").splitlines()
                if line.strip()]

    def flush(self) -> None:
        self.command("postqueue", "-f")

    def maillog(self) -> str:
        path = self.dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Postfix:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True
