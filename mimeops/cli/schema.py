"""`mimeops schema`: the flow file's JSON Schema, for editors and CI checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mimeops.cli.common import Parser

SCHEMA = Path(__file__).resolve().parent.parent / "flow.schema.json"


def run(_: argparse.Namespace) -> int:
    """Print the schema shipped in the package."""
    sys.stdout.write(SCHEMA.read_text(encoding="utf-8"))
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    commands.add_parser("schema", help="print the flow file's JSON Schema").set_defaults(run=run)
