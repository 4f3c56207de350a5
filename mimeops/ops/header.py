"""add_header / set_header / remove_header on the message's top-level header."""

from __future__ import annotations

from typing import Any

from mimeops.errors import FlowError
from mimeops.mail import Context, Mail, Template
from mimeops.mime import header_rules
from mimeops.ops.base import Op, no_unknown


class AddHeader(Op):
    """Add a field (never a second copy of a unique one: `build` refuses that)."""

    name = "add_header"

    def __init__(self, field: str, value: Template) -> None:
        self.field = field
        self.value = value
        self.needs_directory = value.directory

    def apply(self, mail: Mail, context: Context) -> bool:
        mail.headers.add(self.field, self.value.render(context.values))
        return True


class SetHeader(AddHeader):
    """Replace a field's value (or add it); no-op when it already has that value."""

    name = "set_header"

    def apply(self, mail: Mail, context: Context) -> bool:
        return mail.headers.set(self.field, self.value.render(context.values))


class RemoveHeader(Op):
    """Remove every copy of a field."""

    name = "remove_header"

    def __init__(self, field: str) -> None:
        self.field = field

    def apply(self, mail: Mail, context: Context) -> bool:
        return mail.headers.remove(self.field) > 0


def build(verb: str, arg: Any, where: str) -> Op:
    """`add_header`, `set_header` or `remove_header` from the flow file: a field name
    the engine's header rules allow for that edit (`header_rules.refusal`), checked here,
    at load time, rather than as an update WorkMail refuses on every message."""
    if verb == "remove_header" and isinstance(arg, str):
        arg = {"name": arg}
    if not isinstance(arg, dict):
        raise FlowError(f"{where}: expected a mapping with name" +
                        ("" if verb == "remove_header" else " and value"))
    no_unknown(arg, ("name",) if verb == "remove_header" else ("name", "value"), where)
    name = arg.get("name")
    problem = header_rules.refusal(name, verb.removesuffix("_header"))
    if problem is not None:
        raise FlowError(f"{where}.name: {problem}")
    assert isinstance(name, str)
    if verb == "remove_header":
        return RemoveHeader(name)
    if "value" not in arg:
        raise FlowError(f"{where}.value: missing")
    raw = arg["value"]
    numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
    value = Template(str(raw) if numeric else raw, f"{where}.value")
    return AddHeader(name, value) if verb == "add_header" else SetHeader(name, value)
