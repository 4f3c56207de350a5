"""add_header / set_header / remove_header on the message's top-level header."""

from __future__ import annotations

from mimeops.mail import Context, Mail
from mimeops.mail.template import Template
from mimeops.mime import headers
from mimeops.ops.base import Op


class AddHeader(Op):
    """Add a field (never a second copy of a unique one; the loader refuses that)."""

    name = "add_header"

    def __init__(self, field: str, value: Template) -> None:
        self.field = field
        self.value = value

    def apply(self, mail: Mail, context: Context) -> bool:
        mail.message.root.header.add(self.field, headers.clean(self.value.render(context.values)))
        return True


class SetHeader(AddHeader):
    """Replace a field's value (or add it); no-op when it already has that value."""

    name = "set_header"

    def apply(self, mail: Mail, context: Context) -> bool:
        value = headers.clean(self.value.render(context.values))
        block = mail.message.root.header
        key = self.field.lower()
        if [f.decoded() for f in block if f.key == key] == [value]:
            return False
        block.set(self.field, value)
        return True


class RemoveHeader(Op):
    """Remove every copy of a field."""

    name = "remove_header"

    def __init__(self, field: str) -> None:
        self.field = field

    def apply(self, mail: Mail, context: Context) -> bool:
        return mail.message.root.header.remove(self.field) > 0
