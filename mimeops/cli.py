"""`mimeops`: apply a flow to a message, run the Lambda handler locally, serve the emulator.

`apply` needs nothing but the engine. `invoke` and `serve` import the AWS side
(handlers, emulator, boto3, moto) lazily, only when they run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from mimeops.flow import Envelope, FlowError, load_flow
from mimeops.flow.addresses import header_addresses
from mimeops.mime import Message

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"mimeops: error: {message}\n")


def _fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    sys.stderr.write(f"mimeops: error: {message}\n")
    raise SystemExit(code)


def _read(path: str, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as error:
        _fail(f"cannot read {what} {path}: {error.strerror}")


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        _fail(f"cannot write {path}: {error.strerror}", 1)


def _apply(args: argparse.Namespace) -> int:
    try:
        flow = load_flow(args.config)
    except FlowError as error:
        _fail(str(error))
    raw = _read(args.message, "message")
    header = Message(raw).root.header
    mail_from = args.mail_from
    if mail_from is None:
        senders = header_addresses(header.get_all("from"))
        mail_from = senders[0][1] if senders else ""
    recipients = args.recipient
    if not recipients:
        recipients = [a for _, a in header_addresses(header.get_all("to") + header.get_all("cc"))]
    result = flow.apply(raw, Envelope(args.direction, mail_from, recipients))
    summary = json.dumps(result.summary(), separators=(",", ":"))
    if args.output:
        _write(args.output, result.message)
        print(summary)
    else:
        sys.stdout.buffer.write(result.message)
        sys.stdout.flush()
        print(summary, file=sys.stderr)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from handlers.local import invoke  # AWS side: boto3, moto, the emulator

    event = _read(args.event, "event")
    raw = _read(args.message, "message")
    config = None
    if args.config:
        try:
            load_flow(args.config)  # fail fast, with the loader's message
        except FlowError as error:
            _fail(str(error))
        path = Path(args.config)
        config = path.read_text(encoding="utf-8") if path.is_file() else args.config
    try:
        response, written = invoke(event, raw, config=config, output=args.output)
    except ValueError as error:
        _fail(str(error))
    print(json.dumps(response, indent=2))
    # Where the message went is for the person watching: stdout stays pure JSON.
    if written:
        print(f"rewritten message: {written}", file=sys.stderr)
    else:
        print("message unchanged: nothing was written", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from workmail_emulator import serve

    serve(host=args.host, port=args.port, s3_endpoint_url=args.s3_endpoint)
    return 0


def _schema(_: argparse.Namespace) -> int:
    schema = Path(__file__).with_name("flow.schema.json").read_text(encoding="utf-8")
    sys.stdout.write(schema)
    return 0


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="mimeops", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    apply = commands.add_parser("apply", help="apply a flow to one message, as the handler would")
    apply.add_argument("--config", required=True, metavar="FLOW", help="flow file (YAML/JSON)")
    apply.add_argument("--direction", choices=("INBOUND", "OUTBOUND"), default="INBOUND")
    apply.add_argument("--mail-from", metavar="ADDR",
                       help="envelope sender (default: the From address)")
    apply.add_argument("--recipient", action="append", default=[], metavar="ADDR",
                       help="envelope recipient, repeatable (default: To + Cc)")
    apply.add_argument("message", metavar="IN.eml", help="the message ('-' for stdin)")
    apply.add_argument("-o", "--output", metavar="OUT.eml",
                       help="write the result here and the summary to stdout")
    apply.set_defaults(run=_apply)

    invoke = commands.add_parser(
        "invoke", help="run the real Lambda handler against the embedded WorkMail emulator")
    invoke.add_argument("event", metavar="EVENT.json")
    invoke.add_argument("--message", required=True, metavar="IN.eml")
    invoke.add_argument("--config", metavar="FLOW", help="flow (default: $MIMEOPS_CONFIG)")
    invoke.add_argument("-o", "--output", metavar="OUT.eml",
                        help="where to copy the rewritten message")
    invoke.set_defaults(run=_invoke)

    serve = commands.add_parser(
        "serve", help="run the WorkMail Message Flow emulator (for sam local invoke)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8687)
    serve.add_argument("--s3-endpoint", metavar="URL",
                       help="an S3 endpoint to read from (default: an embedded moto S3)")
    serve.set_defaults(run=_serve)

    schema = commands.add_parser("schema", help="print the flow file's JSON Schema")
    schema.set_defaults(run=_schema)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as error:  # a bug or an environment fault: say what, not a bare traceback
        sys.stderr.write(f"mimeops: error: {args.command} failed: "
                         f"{type(error).__name__}: {error}\n")
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
