"""Real SMTP parts for the content-filter tests and the bench: a sink next hop, the
filter as a process, and a throw-away Postfix instance configured from the README.

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
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "451 4.3.0 held by the test"
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content))
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
        self.log = tempfile.TemporaryFile()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Filter:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        wait_until(lambda: listening(self.port) or self.process and self.process.poll(),
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


def readme_block(name: str) -> str:
    """The README's code block that starts with the comment line `# <name>`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"```\w*\n(# {re.escape(name)}\n.*?)```", text, re.S)
    assert found, f"README has no code block starting with '# {name}'"
    return found.group(1)
