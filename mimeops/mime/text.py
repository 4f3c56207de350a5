"""Plain-text banner and footer insertion, format=flowed (RFC 3676) aware.

Inserted lines are hard breaks: trailing spaces removed (in flowed text a
trailing space would join the line to the next), and lines starting with a
space, `>` or `From ` space-stuffed so they are not read as quotes. The
original text is kept as it is, including a `-- ` signature separator.
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_ending(text: str, default: str) -> str:
    """The text's own line break, or `default` when it has none."""
    match = _LINE_BREAK.search(text)
    return match.group() if match else default


def prepare(block: str, eol: str, flowed: bool) -> str:
    """The inserted block's lines, joined with `eol`, safe for flowed text."""
    lines = _LINE_BREAK.split(block)
    if flowed:
        lines = [_stuff(line.rstrip(" ")) for line in lines]
    return eol.join(lines)


def _stuff(line: str) -> str:
    return " " + line if line.startswith((" ", ">", "From ")) else line


def insert(text: str, banner: str | None, footer: str | None, eol: str, flowed: bool) -> str:
    """`banner`, a blank line, the text, a blank line, `footer`."""
    eol = line_ending(text, eol)
    if banner:
        text = prepare(banner, eol, flowed) + eol + eol + text
    if footer:
        if text and not text.endswith(("\n", "\r")):
            text += eol
        text += eol + prepare(footer, eol, flowed) + eol
    return text
