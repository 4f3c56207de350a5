"""Regular expressions an admin writes and a sender's headers are matched against.

They run on attacker-controlled text, so they run on RE2 (google-re2): matching
time is linear in the input for every pattern, and no header can make a
catastrophic pattern such as `(a+)+$` stall the invocation. The price is RE2's
syntax: no backreferences (`\\1`) and no look-around (`(?=`, `(?!`, `(?<=`);
such patterns are rejected when the flow loads, naming the rule and field.
Python's `\\Z` is written `\\z` in RE2; it is accepted and rewritten here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mimeops.errors import FlowError


@cache
def _re2() -> tuple[Any, Any]:
    """The re2 module and its options, imported on first use: flows without header
    conditions do not pay for it at cold start (like email_validator)."""
    import re2

    options = re2.Options()
    options.log_errors = False  # the FlowError says it; RE2 would also print to stderr
    return re2, options


class LinearRegex:
    """A compiled RE2 pattern: `search` is linear-time in the text, whatever the pattern."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, where: str) -> None:
        if not isinstance(pattern, str):
            raise FlowError(f"{where}: expected a regular expression string, got {pattern!r}")
        self.pattern = pattern
        re2, options = _re2()
        try:
            self._compiled: Any = re2.compile(_python_to_re2(pattern), options)
        except re2.error as error:
            reason = error.args[0] if error.args else "invalid"
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise FlowError(f"{where}: bad regular expression {pattern!r}: {reason} (RE2 syntax, "
                            "linear-time: no backreferences or look-around)") from None

    def search(self, text: str) -> bool:
        """True when the pattern occurs in `text` (lone surrogates from undecodable
        header bytes are matched as U+FFFD, never an error a sender could provoke)."""
        try:
            return self._compiled.search(text) is not None
        except UnicodeEncodeError:
            clean = text.encode("utf-8", "replace").decode("utf-8")
            return self._compiled.search(clean) is not None


def _python_to_re2(pattern: str) -> str:
    r"""Python's end-of-text `\Z` is RE2's `\z` (an escaped backslash stays as it is)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            out.append("\\z" if pair == "\\Z" else pair)
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)
