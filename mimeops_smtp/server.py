"""The content filter: an SMTP server that runs each message through a flow and relays it.

Postfix (`content_filter` after the queue, or `smtpd_proxy_filter` before it)
hands a message over SMTP; the filter answers only once it knows the message's
fate, so the MTA keeps the message until then:

- 250 after the next hop accepted it (or nobody was left to deliver to: DROP);
- 550 when the flow bounced every recipient (Postfix returns a DSN, or the
  submitting client sees the 550 before the queue);
- 451 on any fault — the next hop down, a flow error under `on_error: retry` —
  so the MTA keeps the message queued and tries again later. Under
  `on_error: deliver` a flow fault relays the message unchanged instead, with
  the flow's fallback (the junk header, a 550) when a rule that warns matched.

Each message runs in its own task, its flow and relay in worker threads, at most
`concurrency` at a time: a slow or broken message holds up nobody else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiosmtpd.smtp import SMTP, syntax
from aiosmtpd.smtp import Envelope as SMTPEnvelope

from mimeops.errors import PermanentError
from mimeops.flow import Envelope, Flow
from mimeops.flow.core import Pending
from mimeops.mime.addresses import domain_of
from mimeops_smtp import dsn, relay
from mimeops_smtp.plan import Plan, plan
from mimeops_smtp.relay import NextHopError, Reply
from mimeops_smtp.settings import Settings

log = logging.getLogger("mimeops.smtp")
TEMPFAIL = "451 4.3.0 content filter fault, try again later"
# Lines as long as any MTA may hand us: refusing one (500) would bounce the message.
LINE_LIMIT = 1 << 20
# Postfix's XFORWARD: the original client and queue ID, passed on to the next hop.
XFORWARD = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")


def xtext(value: str) -> str:
    """An XFORWARD/xtext value decoded (`+2B` is '+'), for the log."""
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


@dataclass
class Record:
    """The one log line of a message: its envelope's shape and fate, never its content."""

    peer: str
    mail_from: str
    recipients: int
    size: int
    fields: dict[str, Any] = field(default_factory=dict)

    def line(self, reply: str, started: float) -> str:
        """One JSON line: what came in, what the flow did, the reply code, the time taken."""
        return json.dumps({"event": "message", "peer": self.peer, "mail_from": self.mail_from,
                           "recipients": self.recipients, "size": self.size, **self.fields,
                           "reply": reply[:3], "ms": round((time.monotonic() - started) * 1000)},
                          separators=(",", ":"))


def with_header(message: bytes, name: str, value: str) -> bytes:
    """`message` with one more header field on top (the junk marker)."""
    return f"{name}: {value}\r\n".encode() + message


class FilterHandler:
    """aiosmtpd handler: the fate of each message is decided in `handle_DATA`."""

    def __init__(self, flow: Flow, settings: Settings, pool: ThreadPoolExecutor) -> None:
        self.flow = flow
        self.settings = settings
        self.pool = pool
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_EHLO(self, server: SMTP, session: Any, envelope: SMTPEnvelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """Offer XFORWARD, so Postfix tells us (and the next hop) who the client was."""
        session.host_name = hostname
        return [*responses[:-1], f"250-XFORWARD {' '.join(XFORWARD)}", responses[-1]]

    def direction(self, flow: Flow, mail_from: str) -> str:
        """INBOUND/OUTBOUND: fixed per listener, or from the envelope sender's domain."""
        if self.settings.direction != "auto":
            return self.settings.direction
        internal = domain_of(mail_from) in flow.internal_domains
        return "OUTBOUND" if mail_from and internal else "INBOUND"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: SMTPEnvelope) -> str:
        """Run the flow and relay; the reply is the message's fate (never a 5xx by fault)."""
        started = time.monotonic()
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        record = Record(peer, envelope.mail_from or "", len(envelope.rcpt_tos), len(raw))
        forwarded = server.forwarded() if isinstance(server, Session) else {}
        for key, name in (("IDENT", "queue_id"), ("ADDR", "client")):
            if key in forwarded:
                record.fields[name] = xtext(forwarded[key])
        self.active += 1
        self.idle.clear()
        reply = TEMPFAIL
        try:
            async with self.slots:
                reply = await self.process(envelope, raw, forwarded, record)
        except asyncio.CancelledError:  # the client hung up: it keeps the message
            record.fields["error"] = "client disconnected"
            raise
        except Exception as error:  # a bug of ours: the MTA keeps the message and retries
            record.fields["error"] = type(error).__name__
        finally:
            self.active -= 1
            if not self.active:
                self.idle.set()
            log.info(record.line(reply, started))
        return reply

    async def run(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)` in a worker thread: the event loop keeps serving other messages."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, call, *args)

    async def process(self, envelope: SMTPEnvelope, raw: bytes, forwarded: dict[str, str],
                      record: Record) -> str:
        """The flow's verdict (or on_error's, on a fault), then `settle`."""
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":
            mail_from = ""
        recipients = list(envelope.rcpt_tos)
        flow = self.flow  # one flow for the whole message, even across a reload
        direction = self.direction(flow, mail_from)
        record.fields["direction"] = direction
        heard: list[Pending] = []  # what the flow answers should it not finish
        apply = partial(flow.apply, unfinished=heard.append)
        try:
            result = await asyncio.wait_for(
                self.run(apply, raw, Envelope(direction, mail_from, recipients)),
                self.settings.flow_timeout)
        except Exception as error:  # the flow failed or took too long: on_error decides
            record.fields["error"] = ("flow timeout" if isinstance(error, TimeoutError)
                                      else f"flow: {type(error).__name__}")
            # A permanent error fails the same way when the MTA retries: deliver.
            if flow.on_error == "retry" and not isinstance(error, PermanentError):
                return TEMPFAIL
            fates, message = Plan(deliver=recipients), raw
            fallen = heard[-1].answer(error) if heard else None
            if fallen is not None:
                # A rule that warns matched (or, past the timeout, may): its fallback,
                # never the message relayed unwarned.
                action, taken = fallen
                fates = plan(taken, recipients)
                record.fields["fallback"] = str(action)
            record.fields["changed"] = False
        else:
            fates, message = plan(result.recipient_actions, recipients), result.message
            record.fields.update(changed=result.changed, applied=result.applied)
            if result.skipped:
                record.fields["skipped"] = result.skipped
            if result.fallback:
                # No warned output could be made: the flow's fallback (MOVE_TO_JUNK is the
                # junk header, BOUNCE a 550), or the lesser rewrite that went out.
                record.fields["fallback"] = str(result.fallback)
        return await self.settle(mail_from, envelope.mail_options, forwarded, raw, message,
                                 fates, record)

    async def settle(self, mail_from: str, options: list[str], forwarded: dict[str, str],
                     raw: bytes, message: bytes, fates: Plan, record: Record) -> str:
        """Relay to whom the flow lets through; bounce the rest; one reply for the client."""
        refused = {r: Reply(550, f"{dsn.ENHANCED} {text}") for r, text in fates.bounce.items()}
        batches = [(fates.deliver, message)]
        if fates.junk:
            batches.append((fates.junk, with_header(message, *self.settings.junk_header)))
        delivered = 0
        for recipients, data in batches:
            if not recipients:
                continue
            try:
                failed: dict[str, Reply] = await self.run(
                    relay.send, self.settings, mail_from, recipients, data, options, forwarded)
            except NextHopError as error:
                if not error.reply.permanent:
                    record.fields["error"] = f"next hop: {error.reply.code}"
                    return f"451 {dsn.ascii_line(error.reply.text)}"
                failed = dict.fromkeys(recipients, error.reply)
            if any(not reply.permanent for reply in failed.values()):
                record.fields["error"] = "next hop: some recipients deferred"
                return "451 4.4.0 next hop deferred some recipients, try again later"
            refused.update(failed)
            delivered += len(recipients) - len(failed)
        record.fields.update(delivered=delivered, junk=len(fates.junk), dropped=len(fates.drop),
                             bounced=len(refused))
        if refused and not delivered and not fates.drop:
            # Nobody gets it: one permanent reply, and the MTA tells the sender.
            first = next(iter(refused.values()))
            return f"{first.code} {dsn.ascii_line(first.text)}"
        if refused and mail_from:
            report = dsn.report(raw, mail_from, refused, self.settings.hostname)
            try:
                await self.run(relay.send, self.settings, "", [mail_from], report)
            except NextHopError as error:
                if not error.reply.permanent:
                    record.fields["error"] = f"next hop (DSN): {error.reply.code}"
                    return f"451 {dsn.ascii_line(error.reply.text)}"
                record.fields["error"] = f"DSN refused: {error.reply.code}"
        return "250 2.0.0 Ok: filtered"


class Session(SMTP):
    """aiosmtpd's SMTP server with a line limit no MTA will exceed, and XFORWARD."""

    line_length_limit = LINE_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._forwarded: dict[str, str] = {}
        self._forwarded_for: SMTPEnvelope | None = None

    def forwarded(self) -> dict[str, str]:
        """The XFORWARD attributes of the current transaction (xtext as received)."""
        return dict(self._forwarded) if self._forwarded_for is self.envelope else {}

    @syntax("XFORWARD attribute=value ...")
    async def smtp_XFORWARD(self, arg: str) -> None:
        """Postfix's XFORWARD: attributes of the original client, before MAIL FROM."""
        if self.envelope is None or self.envelope.mail_from is not None:
            await self.push("503 5.5.1 Error: XFORWARD only before MAIL FROM")
            return
        attributes: dict[str, str] = {}
        for item in (arg or "").split():
            name, equals, value = item.partition("=")
            if not equals or name.upper() not in XFORWARD:
                await self.push(f"501 5.5.4 Bad XFORWARD attribute: {dsn.ascii_line(name, 40)}")
                return
            attributes[name.upper()] = value
        if self._forwarded_for is not self.envelope:  # a new transaction: start afresh
            self._forwarded, self._forwarded_for = {}, self.envelope
        self._forwarded.update(attributes)
        await self.push("250 2.0.0 Ok")


async def serve(flow: Flow, settings: Settings, reload: Callable[[], Flow] | None = None) -> None:
    """Listen until SIGTERM/SIGINT, then let messages in flight finish (up to `grace`).

    SIGHUP calls `reload` for a new flow; messages already running keep theirs, and
    a flow that fails to load is logged and the old one kept.
    """
    loop = asyncio.get_running_loop()
    # Not a `with`: leaving must not wait for a flow thread that never returns.
    pool = ThreadPoolExecutor(2 * settings.concurrency, thread_name_prefix="mimeops-smtp")
    handler = FilterHandler(flow, settings, pool)
    stop = asyncio.Event()

    def hangup() -> None:
        if reload is None:
            return
        try:
            handler.flow = reload()
        except Exception as error:  # a broken edit must not stop the mail
            log.info(json.dumps({"event": "reload failed", "error": str(error)}))
        else:
            log.info(json.dumps({"event": "reloaded"}))

    def session() -> Session:
        return Session(handler, data_size_limit=settings.max_size, enable_SMTPUTF8=True,
                       hostname=settings.hostname, ident="mimeops content filter",
                       timeout=settings.timeout, loop=loop)

    # Signals first: a SIGHUP or SIGTERM the moment the port opens must not kill us.
    signals = {signal.SIGTERM: stop.set, signal.SIGINT: stop.set, signal.SIGHUP: hangup}
    for signum, action in signals.items():
        loop.add_signal_handler(signum, action)
    try:
        host, port = settings.listen
        server = await loop.create_server(session, host, port)
        bound = server.sockets[0].getsockname()[:2]
        if not ipaddress.ip_address(bound[0]).is_loopback:
            log.info(json.dumps({"event": "warning", "message": (
                "listening beyond loopback: every client that reaches this port can "
                "relay through the next hop; firewall it to the MTA")}))
        log.info(json.dumps({"event": "listening", "listen": f"{bound[0]}:{bound[1]}",
                             "next_hop": "{}:{}".format(*settings.next_hop),
                             "direction": settings.direction}))
        await stop.wait()
        server.close()
        try:
            await asyncio.wait_for(handler.idle.wait(), settings.grace)
        except TimeoutError:
            log.info(json.dumps({"event": "stopping", "in_flight": handler.active}))
        log.info(json.dumps({"event": "stopped"}))
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        pool.shutdown(wait=False, cancel_futures=True)
