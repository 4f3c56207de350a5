"""Where the command line (and the SMTP filter) find the processed-marker key.

The engine reads no environment and writes no file (`Flow` signs with a random key of
its own when given none); transports decide. Here: $MIMEOPS_MARKER_KEY (one key, or
several separated by white space, newest first), else a private per-user key file,
`$XDG_CONFIG_HOME/mimeops/marker.key` (default `~/.config`), created once with mode
0600, so that `mimeops apply` run twice on one machine applies a rule once. Where no
file can be written, a random key for this process.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mimeops.flow.marker import Keys, keys_from_text

ENV_KEY = "MIMEOPS_MARKER_KEY"


def from_environment() -> Keys | None:
    """The keys in $MIMEOPS_MARKER_KEY, or None when it is unset or blank."""
    keys = keys_from_text(os.environ.get(ENV_KEY, ""))
    return keys or None


def resolve() -> Keys:
    """$MIMEOPS_MARKER_KEY, else the per-user key file (made on first use)."""
    return from_environment() or (key_file(),)


def key_file() -> bytes:
    """The per-user key, read from (or written once to) its file; a random key where
    there is no home or the file cannot be written."""
    try:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    except RuntimeError:  # no home directory (some containers)
        return secrets.token_bytes(32)
    path = base / "mimeops" / "marker.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError:
        return secrets.token_bytes(32)
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
    except FileExistsError:
        return path.read_bytes()
    except OSError:
        pass
    return key
