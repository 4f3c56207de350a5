"""What every built-in op is: a named, checked-at-load transform on the public Mail API."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from mimeops.mail import Context, Mail
from mimeops.ops.spec import no_unknown

__all__ = ["Builder", "Op", "no_unknown"]

Builder = Callable[[Any, str], object]
"""How the registry makes a built-in from the flow file: (the YAML value, where it is in
the flow, for errors) -> the transform or condition; raises FlowError naming `where`."""


class Op(ABC):
    """One built-in operation of a rule (`mimeops.mail.Transform`, like a plugin's).

    `apply` returns True when it changed the message.
    """

    name: str = ""
    #: Body ops are not applied to protected (signed, encrypted, ...) messages.
    touches_body: bool = False
    #: Reads the directory ({sender.*} fields): the flow needs one.
    needs_directory: bool = False

    @abstractmethod
    def apply(self, mail: Mail, context: Context) -> bool: ...
