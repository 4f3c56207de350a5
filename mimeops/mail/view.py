"""`Mail`: one message as transforms and conditions see it."""

from __future__ import annotations

from mimeops.mime import Message


class Mail:
    """The message in transit, for a transform to read and edit.

    Every edit keeps all other bytes as they were (the MIME model re-emits only what
    changed), so a transform can never re-encode what it did not touch.
    """

    __slots__ = ("_message",)

    def __init__(self, message: Message) -> None:
        self._message = message

    @property
    def message(self) -> Message:
        """The engine's byte-preserving MIME model the edits go to."""
        return self._message

    @property
    def changed(self) -> bool:
        """Whether any edit was made so far."""
        return self._message.changed
