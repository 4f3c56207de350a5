"""`mimeops`: apply flows to mail, and the commands transports register.

The subcommands come from the `mimeops.commands` entry-point group: `apply` and
`schema` from the engine itself, `invoke` from `mimeops_workmail`, `serve` from
`mimeops_emulator`, and any other installed transport. The engine imports none of
them; a command whose extra is not installed says which extra to install.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from mimeops import __version__
from mimeops.cli.common import Parser

GROUP = "mimeops.commands"


def parser() -> Parser:
    """The full command line: every registered subcommand, in name order."""
    top = Parser(prog="mimeops", description=(__doc__ or "").splitlines()[0])
    top.add_argument("--version", action="version", version=f"mimeops {__version__}")
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for entry in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        entry.load()(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; faults become one line on stderr, never a bare traceback."""
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


__all__ = ["main", "parser"]
