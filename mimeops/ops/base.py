"""What every op is: a named, checked-at-load step that edits a Message in place."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from mimeops.mime import Message


class Op(ABC):
    """One operation of a rule. `apply` returns True when it changed the message."""

    name: str = ""
    #: Body ops are not applied to protected (signed, encrypted, ...) messages.
    touches_body: bool = False

    @abstractmethod
    def apply(self, message: Message, values: Mapping[str, str]) -> bool: ...
