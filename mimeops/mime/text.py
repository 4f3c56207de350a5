"""Plain-text banner and footer insertion, format=flowed (RFC 3676) aware.

Inserted lines are hard breaks: trailing spaces removed (in flowed text a
trailing space would join the line to the next), and lines starting with a
space, `>` or `From ` space-stuffed so they are not read as quotes. The
original text is kept as it is, including a `-- ` signature separator.
"""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# The first line of a reply's quoted part: the attribution line "On ... wrote:" as
# common clients write it in English, German, French, Spanish, Italian and Dutch
# (possibly wrapped once), Outlook's "-----Original Message-----" or underscore
# rule, or a "> " quote. ASCII only: the text is usually the part's bytes seen
# through latin-1, so an accented letter is one or two characters (\S{1,2}).
_REPLY = re.compile(
    r"^(?:(?:On|Am|Le|El|Il|Op)\b[^\r\n]*(?:\r?\n[^\r\n]*)?"
    r"\b(?:wrote|schrieb|a \S{1,2}crit|escribi\S{1,2}|ha scritto|schreef)\b[^\r\n]*:[ \t]*\r?$"
    r"|-{2,} ?(?:Original Message|Urspr\S{1,2}ngliche Nachricht|Message d'origine) ?-{2,}"
    r"|_{20,}[ \t]*\r?$|>)",
    re.M,
)


def line_ending(text: str, default: str) -> str:
    """The text's own line break, or `default` when it has none. A lone CR is no line
    style here (mail whose lines end in lone CRs is read as CRLF before it gets here):
    written after inserted text, it would join the LF of the delimiter that follows
    the part into one CRLF, and the footer's line break would belong to the delimiter."""
    match = _LINE_BREAK.search(text)
    return match.group() if match and match.group() != "\r" else default


def prepare(block: str, eol: str, flowed: bool) -> str:
    """The inserted block's lines, joined with `eol`, safe for flowed text."""
    lines = _LINE_BREAK.split(block)
    if flowed:
        lines = [_stuff(line.rstrip(" ")) for line in lines]
    return eol.join(lines)


def _stuff(line: str) -> str:
    return " " + line if line.startswith((" ", ">", "From ")) else line


def reply_start(text: str) -> int:
    """Offset of the line where the quoted message of a reply begins, or -1."""
    match = _REPLY.search(text)
    return match.start() if match else -1


def insert(text: str, banner: str | None, footer: str | None, eol: str, flowed: bool,
           above_reply: bool = False) -> str:
    """`banner`, a blank line, the text, a blank line, `footer` — or, with
    `above_reply`, the footer and a blank line just above a reply's quoted part."""
    eol = line_ending(text, eol)
    top = prepare(banner, eol, flowed) + eol + eol if banner else ""
    if footer:
        block = prepare(footer, eol, flowed)
        at = reply_start(text) if above_reply else -1
        if at >= 0:
            head = text[:at]
            gap = eol if head and not head.endswith(eol + eol) else ""
            return top + head + gap + block + eol + eol + text[at:]
        if text and not text.endswith(("\n", "\r")):
            text += eol
        text += eol + block + eol
    return top + text
