"""``python -m mimeops_emulator``: the same server as ``mimeops serve``."""

from __future__ import annotations

import argparse

from .local import DEFAULT_BUCKET, serve


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m mimeops_emulator",
        description="Serve the WorkMail Message Flow API emulator (and moto S3) locally.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 for Docker)")
    parser.add_argument("--port", type=int, default=8687, help="port (0 picks a free one)")
    parser.add_argument("--s3-endpoint-url", help="existing S3 endpoint; default: start moto")
    parser.add_argument("--bucket", default=DEFAULT_BUCKET, help="bucket created in moto")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.s3_endpoint_url, bucket=args.bucket, region=args.region)
    except KeyboardInterrupt:  # Ctrl-C during start-up: no traceback
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
