"""`mimeops schema`: the flow file's JSON Schema, for editors and CI checks.

With plugins installed, their transforms and conditions are in it too (their values are
whatever the plugin takes: checked by `mimeops validate`, not by the schema).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimeops.flow.registry import CONDITION, TRANSFORM, installed, origin

if TYPE_CHECKING:
    from mimeops.cli.common import Parser

SCHEMA = Path(__file__).resolve().parent.parent / "flow.schema.json"


def run(_: argparse.Namespace) -> int:
    """Print the schema shipped in the package, with the installed plugins' names."""
    text = SCHEMA.read_text(encoding="utf-8")
    plugins = installed()
    if any(plugins.values()):
        schema: dict[str, Any] = json.loads(text)
        for where, kind in (("op", TRANSFORM), ("conditions", CONDITION)):
            properties = schema["$defs"][where]["properties"]
            for name, entries in sorted(plugins[kind].items()):
                properties.setdefault(name, {"title": name, "description": (
                    f"From {origin(entries[0])}: its value is what the plugin takes "
                    "(`mimeops validate` checks it).")})
        text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    sys.stdout.write(text)
    return 0


def register(commands: argparse._SubParsersAction[Parser]) -> None:
    """Entry point of the `mimeops.commands` group."""
    commands.add_parser("schema", help="print the flow file's JSON Schema").set_defaults(run=run)
