"""Where a banner and a footer go in an HTML body that is not guarded (outbound mail).

The place is read by the engine's one HTML tokenizer, `mimeops.mime.html5`, the way a
browser reads the document, so this and the guard (`mimeops.mime.guard`, inbound mail)
never disagree about where a tag starts, what its name is or what a comment hides:

* the banner goes right after the real `<body ...>`, the one that starts the browser's
  body (never one inside a comment, Outlook's `<!--[if mso]> ... <![endif]-->` included,
  a `<script>`, a `<template>` or an attribute value, nor one after text that already
  started the body); before the block when the body begins inside a block Outlook skips
  (`<![if !mso]>`); else after `</head>`, else after `<html ...>`, else where the first
  content begins (after any doctype and comments);
* the footer goes before the last `</body>` end tag, else before the last `</html>`,
  else at the end; with `above_reply`, above the quoted message of a reply.
"""

from __future__ import annotations

import re

from mimeops.mime.html5 import Outline, lower_ascii, outline

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
    low = lower_ascii(text)
    for match in _REPLY.finditer(low, start):
        opened = low.rfind("<!--", 0, match.start())
        if opened < 0 or low.find("-->", opened, match.start()) >= 0:
            return match.start()
    return -1


def banner_offset(shape: Outline, end: int) -> int:
    """Right after the real <body ...>; before a block Outlook skips (<![if !mso]>) when
    the body begins inside one; else after </head>, else after <html ...>, else where the
    first content begins (after any doctype and comments), else at the end."""
    if shape.outlook_hidden:
        return shape.hidden_from
    if shape.body_tag >= 0:
        return shape.body_point
    for offset in (shape.head_end, shape.html_end):
        if offset >= 0:
            return offset
    return shape.body_point if shape.body_started else end


def insert(text: str, banner: str | None, footer: str | None, above_reply: bool = False) -> str:
    """Banner where the body begins; footer before the last </body>, or, with
    `above_reply`, right above the quoted message of a reply when there is one."""
    shape = outline(text)
    top = banner_offset(shape, len(text)) if banner else 0
    bottom = len(text)
    if footer:
        bottom = next((at for at in (shape.body_close, shape.html_close) if at >= 0),
                      len(text))
        if above_reply:
            reply = reply_offset(text, shape.body_point)
            if reply >= 0:
                bottom = reply
    if bottom < top:
        bottom = top
    return text[:top] + (banner or "") + text[top:bottom] + (footer or "") + text[bottom:]
