"""Where a banner and a footer go in an HTML document, found with a tokenizer.

Line regexes fail on real mail: `<body>` inside comments, Outlook conditional
blocks, `<script>` text, attribute values holding `>`. This scanner walks the
markup once, in the HTML tokenizer's terms:

* `<!-- ... -->` is a comment, Outlook's `<!--[if mso]> ... <![endif]-->`
  included: a `<body>` there is seen only by Outlook, so it is not "the" body.
* `<![if !mso]> ... <![endif]>` (downlevel-revealed) is hidden from Outlook:
  a `<body>` there is not the body either; nor in its comment-syntax twin
  `<!--[if !mso]><!--> ... <!--<![endif]-->`.
* script, style, title, textarea, ... hold raw text up to their end tag.
* attribute values are read by the attribute grammar, so quotes protect `>`.

The text is searched lower-cased (ASCII only), so offsets are unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_NAME = re.compile(r"[a-z][^\s/>]*")
_ATTRIBUTES = re.compile(
    # Possessive quantifiers: an unterminated tag fails fast instead of backtracking.
    # An unquoted value cannot start with a quote (that starts a quoted one, which may
    # run to the end of the document: then the tag never ends); a name may start with "=".
    # White space is HTML's (tab, LF, FF, CR, space), not Unicode's: "\v" or U+00A0 are
    # part of a name, as in the browser.
    r"""(?:[\t\n\f\r /]++|(?:=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)"""
    r"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+"""
    r"""|(?=>))|(?![\t\n\f\r ]*+=)))*+>"""
)
ATTRIBUTES = _ATTRIBUTES  # the attribute grammar, shared with mimeops.mime.html5
_RAW_TEXT = frozenset({"script", "style", "title", "textarea", "xmp", "iframe", "noembed",
                       "noframes"})


@cache
def _skip() -> re.Pattern[str]:
    """What `scan` passes over without a decision, matched in one regex call instead of a
    Python step per tag: text; comments and <!...> / <?...> declarations that cannot open
    or close a hidden block; tags other than body, html, head and the raw-text elements
    (read with the same attribute grammar); a `<` that starts no tag. It stops at the
    first `<` that the loop must look at, which then reads it exactly as before.

    Compiled on first use (a few ms): importing the engine stays cheap at cold start.
    """
    special = "|".join(["body", "html", "head", *sorted(_RAW_TEXT)])
    return re.compile(
        r"(?:[^<]++"
        r"|<!--(?!\[if|<!\[endif).*?-->"
        r"|<[!?](?!--|\[if|\[endif)[^>]*+>"
        r"|</?+(?!(?:" + special + r")(?![^\s/>]))[a-z][^\s/>]*+" + _ATTRIBUTES.pattern
        + r"|<(?![!?a-z]|/[a-z]))*+",
        re.S,
    )


# Doctype, XML declaration, comments; never a downlevel-revealed `<![if ...]>` block
# (nor its comment-syntax opener `<!--[if !mso]><!-->`).
_PROLOGUE = re.compile(
    r"(?:\s+|<!--(?!\[if[^>]*><!-->).*?-->|<!(?!\[|--)[^>]*>|<\?[^>]*>)*", re.S)


@dataclass(slots=True)
class Landmarks:
    """Offsets found in one scan (-1 when absent)."""

    body_open_end: int = -1     # just after the first real <body ...>
    head_close_end: int = -1    # just after the first </head>
    html_open_end: int = -1     # just after the first <html ...>
    body_close: int = -1        # at the last real </body>
    html_close: int = -1        # at the last </html>


def _lower(text: str) -> str:
    """`text` with ASCII letters lower-cased (same length, same offsets)."""
    try:
        # Text read as latin-1 (nearly all mail): bytes.lower() is ASCII-only and fast.
        return text.encode("latin-1").lower().decode("latin-1")
    except UnicodeEncodeError:
        return text.lower()


lower_ascii = _lower


def scan(text: str, stop_at_body: bool = False) -> Landmarks:
    """Landmarks of `text`; with `stop_at_body`, stop at the first real <body>, when only
    the banner's place is needed (the later landmarks are then not searched)."""
    low = _lower(text)
    skip = _skip()
    marks = Landmarks()
    hidden = 0  # depth of downlevel-revealed blocks <![if ...]> ... <![endif]>
    pos = 0
    n = len(low)
    while True:
        skipped = skip.match(low, pos)  # always matches, if only ""
        i = skipped.end() if skipped else pos
        if i + 1 >= n:
            break
        nxt = low[i + 1]
        if low.startswith("<!--", i):
            end = low.find("-->", i + 4)
            pos = n if end < 0 else end + 3
            # The same block in comment syntax: <!--[if !mso]><!--> ... <!--<![endif]-->
            if low.startswith("<!--[if", i) and low.startswith("<!-->", pos - 5):
                hidden += 1
            elif low.startswith("<!--<![endif]", i):
                hidden = max(0, hidden - 1)
            continue
        if nxt in "!?":
            end = low.find(">", i)
            pos = n if end < 0 else end + 1
            if low.startswith("<![if", i):
                hidden += 1
            elif low.startswith("<![endif", i):
                hidden = max(0, hidden - 1)
            continue
        closing = nxt == "/"
        name_match = _NAME.match(low, i + 2 if closing else i + 1)
        if name_match is None:
            pos = i + 1
            continue
        name = name_match.group()
        attrs = _ATTRIBUTES.match(low, name_match.end())
        if attrs is None:
            end = low.find(">", name_match.end())
            tag_end = n if end < 0 else end + 1
        else:
            tag_end = attrs.end()
        pos = tag_end
        if closing:
            if name == "body" and not hidden:
                marks.body_close = i
            elif name == "html":
                marks.html_close = i
            elif name == "head" and marks.head_close_end < 0:
                marks.head_close_end = tag_end
            continue
        if name == "body" and not hidden and marks.body_open_end < 0:
            marks.body_open_end = tag_end
            if stop_at_body:
                break
        elif name == "html" and marks.html_open_end < 0:
            marks.html_open_end = tag_end
        elif name in _RAW_TEXT:
            end = low.find("</" + name, tag_end)
            pos = n if end < 0 else end
    return marks


def banner_offset(text: str, marks: Landmarks) -> int:
    """Right after the first real <body>, else after </head> or <html>, else at the start
    (after any doctype, XML declaration or leading comments)."""
    for offset in (marks.body_open_end, marks.head_close_end, marks.html_open_end):
        if offset >= 0:
            return offset
    match = _PROLOGUE.match(text)
    return match.end() if match else 0


def footer_offset(text: str, marks: Landmarks) -> int:
    """Before the last real </body>, else before </html>, else at the end."""
    for offset in (marks.body_close, marks.html_close):
        if offset >= 0:
            return offset
    return len(text)


# Where mail clients start the quoted message of a reply or forward: Gmail, Outlook
# (desktop and web), Thunderbird, Apple Mail and generic <blockquote>.
_REPLY = re.compile(
    r"<(?:div|blockquote)\b[^>]*?"
    r"(?:gmail_quote|appendonsend|divrplyfwdmsg|olk_src_body_section|moz-cite-prefix"
    r"|type\s*=\s*[\"']?cite)"
    r"|<blockquote\b",
    re.S,
)


def reply_offset(text: str, start: int = 0) -> int:
    """Where the quoted message of a reply begins (after `start`), or -1.

    Markers inside comments (Outlook conditional blocks included) do not count.
    """
    low = _lower(text)
    for match in _REPLY.finditer(low, start):
        opened = low.rfind("<!--", 0, match.start())
        if opened < 0 or low.find("-->", opened, match.start()) >= 0:
            return match.start()
    return -1


def insert(text: str, banner: str | None, footer: str | None, above_reply: bool = False) -> str:
    """Banner after the first real <body>; footer before the last </body>, or, with
    `above_reply`, right above the quoted message of a reply when there is one."""
    marks = scan(text, stop_at_body=not footer)
    top = banner_offset(text, marks) if banner else 0
    bottom = footer_offset(text, marks) if footer else len(text)
    if footer and above_reply:
        reply = reply_offset(text, max(top, marks.body_open_end, 0))
        if reply >= 0:
            bottom = reply
    if bottom < top:
        bottom = top
    return text[:top] + (banner or "") + text[top:bottom] + (footer or "") + text[bottom:]
