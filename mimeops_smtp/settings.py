"""What `mimeops smtp-filter` is told on its command line, checked once at start-up."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

DIRECTIONS = ("auto", "INBOUND", "OUTBOUND")
MIB = 1024 * 1024


def host_port(text: str, what: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) as a pair, or ValueError naming `what`."""
    host, colon, port = text.strip().rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{what}: expected HOST:PORT, got {text!r}")
    return host, int(port)


def header_line(text: str) -> tuple[str, str]:
    """`Name: value` for the junk header; the name must be a valid field name."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    printable = all(33 <= ord(c) <= 126 for c in name)
    if not colon or not name or not printable or "\r" in value or "\n" in value:
        raise ValueError(f"--junk-header: expected 'Name: value' on one line, got {text!r}")
    return name, value


@dataclass(frozen=True)
class Settings:
    """One filter instance: where it listens, where it relays, and its limits.

    The defaults suit a Postfix `content_filter` on loopback: Postfix's own
    timeouts (smtp_data_done_timeout, 600 s) are longer than ours, so the filter
    always answers before Postfix gives up on it.
    """

    listen: tuple[str, int]
    next_hop: tuple[str, int]
    direction: str = "auto"           # auto: OUTBOUND when MAIL FROM is an internal domain
    concurrency: int = 8              # messages processed at once (flow + relay)
    max_size: int = 40 * MIB          # DATA larger than this: 552, Postfix bounces it
    timeout: float = 300.0            # idle time allowed between client commands
    flow_timeout: float = 30.0        # a flow slower than this is a fault (on_error)
    relay_timeout: float = 60.0       # each read/write towards the next hop
    junk_header: tuple[str, str] = ("X-Spam-Flag", "YES")
    hostname: str = field(default_factory=socket.gethostname)
    grace: float = 30.0               # after SIGTERM: wait this long for messages in flight

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"--direction: expected one of {', '.join(DIRECTIONS)}, "
                             f"got {self.direction!r}")
        for name in ("concurrency", "max_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: must be at least 1")
        for name in ("timeout", "flow_timeout", "relay_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')}: must be more than 0 seconds")
        if self.grace < 0:
            raise ValueError("--grace: must be 0 seconds or more")
