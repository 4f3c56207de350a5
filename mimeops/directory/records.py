"""What a directory knows about a user: the attributes WorkMail DescribeUser returns.

The names are the template fields' (`{sender.job_title}` is `User.job_title`), so a
flow reads the same whether the record came from the static directory file or from
the WorkMail API.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

ATTRIBUTES = (
    "display_name", "first_name", "last_name", "initials", "job_title", "department",
    "company", "office", "telephone", "street", "city", "zip_code", "country", "email",
)
"""The `{sender.*}` template fields, in DescribeUser's order (Email last)."""


@dataclass(frozen=True)
class User:
    """One user of the organization. Empty strings where the directory has no value."""

    email: str
    display_name: str = ""
    first_name: str = ""
    last_name: str = ""
    initials: str = ""
    job_title: str = ""
    department: str = ""
    company: str = ""
    office: str = ""
    telephone: str = ""
    street: str = ""
    city: str = ""
    zip_code: str = ""
    country: str = ""
    aliases: tuple[str, ...] = ()

    def template_values(self) -> dict[str, str]:
        """`{"sender.display_name": ..., ...}`: the values templates read.

        Initials the directory left empty are made from the first and last names,
        as Exchange's %%Initials%% does.
        """
        values = {f"sender.{name}": getattr(self, name) for name in ATTRIBUTES}
        if not self.initials and self.first_name and self.last_name:
            values["sender.initials"] = self.first_name[0] + self.last_name[0]
        return values


EMPTY_VALUES = {f"sender.{name}": "" for name in ATTRIBUTES}
"""What templates read when the sender is not a user of the organization."""

USER_KEYS = tuple(f.name for f in fields(User))
