"""What every built-in op is: a named, checked-at-load transform over the MIME model."""

from __future__ import annotations

from abc import ABC, abstractmethod

from mimeops.mail import Context, Mail


class Op(ABC):
    """One built-in operation of a rule (`mimeops.mail.Transform`, like a plugin's).

    `apply` returns True when it changed the message.
    """

    name: str = ""
    #: Body ops are not applied to protected (signed, encrypted, ...) messages.
    touches_body: bool = False

    @abstractmethod
    def apply(self, mail: Mail, context: Context) -> bool: ...
