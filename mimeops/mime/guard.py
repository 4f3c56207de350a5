"""A banner and footer that the sender's HTML and CSS cannot hide, shrink, recolour,
move, cover or reorder.

The sender writes the document our banner lands in, so the banner must not depend on
anything the sender controls. The guard rewrites one HTML body so that:

* the banner is the first thing in the body as an HTML5 parser builds it
  (`mimeops.mime.html5` finds that point the way the browser does);
* everything the sender wrote in the body sits inside a wrapper element whose tag
  name is derived from a per-message secret (the marker key's HMAC over the message
  identity): no sender end tag can close it, no sender selector can name it;
* every sender stylesheet is rewritten (`mimeops.mime.css_scope`, tinycss2) so its
  selectors only reach the wrapper's descendants; `html`/`body` rules land on stand-in
  elements inside the wrapper, so the sender's layout below the banner is kept;
* the wrapper has layout containment and its own stacking context under the banner:
  fixed or absolute content is placed within it, and whatever reaches out of its box
  (negative margins, transforms, shadows) is painted beneath the banner and footer,
  whose opaque boxes stack on top; nothing is clipped, so the sender's layout shows
  whole;
* banner, wrapper and footer stand in a column at least as tall as the viewport, the
  wrapper taking what the banner and footer leave: a sender layout of fixed or
  absolute full-height boxes (`position:fixed;top:0;bottom:0;overflow:auto`, a 100%
  high scroller) gets the viewport's height below the banner instead of collapsing to
  nothing, and a short message keeps its footer on the first screen;
* <html> and <body> carry our `style` (and the wrapper's stand-ins the sender's
  `class`, `id`, `style`, `dir` and `lang` from them); a second <body>/<html> tag only
  adds attributes not yet present, so a later `style` cannot reach ours;
* sender `<link>` stylesheets, `<meta http-equiv>` and SVG/MathML `<style>` elements
  (not raw text, so not rewritable as CSS) are switched off by attributes of ours;
* every tag we write an attribute into stays well-formed: the sender's attribute of
  the same name keeps its bytes under a name of ours (`x-<wrapper>-style=...`), so no
  tag carries an attribute twice;
* banner and footer carry inline `!important` styles, which beat any author rule;
* a NUL becomes `&#xFFFD;` (what an HTML5 parser makes of it): Thunderbird drops the
  rest of a line after a NUL, which would take our banner and leave the sender's next
  line on screen.

Bytes outside those edits are kept exactly; a second op of the same flow (a footer
after a banner) recognises the wrapper by its secret name and only adds its part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from mimeops.mime import html5
from mimeops.mime.html import reply_offset

__all__ = ["PAGE_STYLE", "Names", "guarded", "insert", "names"]

# Properties that make a box show up where it belongs, on the banner/footer boxes.
_SHOWN = ("visibility:visible!important;opacity:1!important;transform:none!important;"
          "translate:none!important;rotate:none!important;scale:none!important;"
          "filter:none!important;backdrop-filter:none!important;clip-path:none!important;"
          "mask:none!important;zoom:1!important;animation:none!important;"
          "transition:none!important;content-visibility:visible!important;"
          "float:none!important;")
# ... and on <html>/<body>, whose style attribute we claim.
_PAGE = ("display:block!important;" + _SHOWN
         + "position:static!important;margin:0!important;padding:0!important;"
         "border:0!important;width:auto!important;height:auto!important;"
         "min-width:0!important;min-height:0!important;max-width:none!important;"
         "max-height:none!important;overflow:visible!important;contain:none!important;"
         "writing-mode:horizontal-tb!important;columns:auto!important;")
#: What we write as the `style` of <html> and <body> (tests look for it).
PAGE_STYLE = _PAGE
_BOX = ("all:initial!important;display:block!important;" + _SHOWN
        + "position:relative!important;z-index:2147483647!important;isolation:isolate!important;"
        "direction:ltr!important;unicode-bidi:isolate!important;outline:none!important;"
        "box-sizing:border-box!important;width:auto!important;height:auto!important;"
        "max-height:none!important;overflow:visible!important;margin:0!important;"
        "background-color:#ffffff!important;color:#000000!important;"
        "font-family:sans-serif!important;font-size:16px!important;"
        "line-height:normal!important;text-align:left!important;flex:none!important;")
_WRAPPER = ("display:block!important;position:relative!important;contain:layout!important;"
            "overflow:visible!important;isolation:isolate!important;z-index:0!important;"
            "margin:0!important;padding:0!important;border:0!important;"
            "transform:none!important;flex:1 0 auto!important;min-width:0!important;")
# The column around banner, wrapper and footer: at least the viewport's height.
_COLUMN = ("display:flex!important;flex-direction:column!important;"
           "min-height:100vh!important;" + _SHOWN
           + "position:static!important;margin:0!important;padding:0!important;"
           "border:0!important;width:auto!important;height:auto!important;"
           "max-height:none!important;overflow:visible!important;")
_COPIED = ("class", "id", "style", "dir", "lang")
# Sender CSS parsed per message (characters) and its deepest nesting: beyond either, a
# stylesheet is dropped rather than parsed (seconds of a 15 s invocation, or a recursion
# error, would otherwise let a sender run the function out of time: no banner).
_CSS_BUDGET = 128 * 1024
_CSS_MAX_DEPTH = 64
# What html5.closing_tags writes after our end tags (formatting elements), matched as is.
_FORMATTING_ENDS = re.compile(r"(?:</(?:" + "|".join(html5.FORMATTING) + r")>)*")
_BRACKETS = re.compile(r"[{}()\[\]]")
# What a NUL becomes: Thunderbird drops the rest of a line after a NUL (our banner with
# it, while the sender's next line shows), and an HTML5 parser reads a NUL as U+FFFD (or,
# in text, drops it). The reference has no character the tokenizer treats specially, so
# every tag, attribute and comment keeps its extent; it is ASCII, so it fits any charset.
_NUL = "&#xFFFD;"
_OUTLOOK_BLOCK_END = re.compile(r"<!\[endif\]>|<!--<!\[endif\]-->", re.IGNORECASE)
_OUTLOOK_TRIES = 4  # block ends looked at (each costs a scan of the text before it)


@dataclass(frozen=True)
class Names:
    """Element names and ids for one message, from its secret token."""

    wrapper: str
    html: str
    body: str
    banner: str
    footer: str
    column: str

    @classmethod
    def of(cls, token: str) -> Names:
        """Derive every name from `token`: nothing fixed for a sender to select on."""
        base = "k" + token.lower()
        wrapper = f"{base[:9]}-{base[9:17]}"
        return cls(wrapper, wrapper + "h", wrapper + "b", wrapper + "n", wrapper + "f",
                   wrapper + "c")

    def guard_sheet(self) -> str:
        """Our own stylesheet: stand-in defaults (in a layer, so the sender's scoped rules
        override them) and the banner/footer properties a sender must not change."""
        shown = ",".join(f"#{i},#{i} *" for i in (self.banner, self.footer))
        return (f'<style id="{self.wrapper}s">@layer {self.wrapper}{{'
                f":where({self.html},{self.body}){{display:block}}"
                f":where({self.body}){{margin:8px}}"
                f"{shown}{{visibility:visible!important;opacity:1!important;"
                "animation:none!important;transition:none!important;filter:none!important;"
                "clip-path:none!important;mask:none!important;"
                "content-visibility:visible!important}}</style>")

    def column_start(self) -> str:
        """The column that holds banner, wrapper and footer (see the module doc)."""
        return f'<{self.column} id="{self.column}" style="{_COLUMN}">'

    def column_end(self) -> str:
        return f"</{self.column}>"

    def opening(self, html_attrs: str, body_attrs: str) -> str:
        """The wrapper and the html/body stand-ins, opened where the sender's body begins."""
        return (f'<{self.wrapper} id="{self.wrapper}" style="{_WRAPPER}">'
                f"<{self.html}{html_attrs}><{self.body}{body_attrs}>")

    def closing(self) -> str:
        """Their end tags (no sender end tag can stand in for them)."""
        return f"</{self.body}></{self.html}></{self.wrapper}>"

    def box(self, which: str, markup: str) -> str:
        """`markup` in a box whose inline `!important` styles beat every author rule."""
        ident = self.banner if which == "banner" else self.footer
        pad = "8px 8px 0 8px" if which == "banner" else "0 8px 8px 8px"
        # The banner holds the page's autofocus: a sender's autofocus field further down
        # cannot scroll it out of view (only the first candidate gets the focus).
        focus = ' tabindex="-1" autofocus' if which == "banner" else ""
        return (f'<div id="{ident}"{focus} style="{_BOX}padding:{pad}!important;">{markup}'
                "</div>")


def names(token: str) -> Names:
    """The element names and ids the guard uses for the message with this token (tests
    and tools find the banner, footer and wrapper by them)."""
    return Names.of(token)


def guarded(text: str, token: str) -> bool:
    """Whether `text` (an HTML body) already has the guard of this token's message."""
    names = Names.of(token)
    return f'<{names.wrapper} id="{names.wrapper}"' in text


def insert(text: str, token: str, banner: str | None, footer: str | None,
           above_reply: bool = False) -> str:
    """`text` with `banner` first in the body and `footer` last, guarded (see module doc).

    `token` is the per-message secret ([a-z2-7]+, at least 16 characters)."""
    text = text.replace("\0", _NUL)
    names = Names.of(token)
    reserved = ((banner or "") + (footer or "")).lower()
    if guarded(text, token):
        return _add(text, names, banner, footer, above_reply)
    shape = html5.outline(text)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in order
    if shape.styles:
        # Imported when needed: tinycss2 costs ~15 ms of cold start, most mail has no CSS.
        from mimeops.mime import css_scope
    budget = _CSS_BUDGET
    for start, end in shape.styles:
        css = text[start:end]
        budget -= len(css)
        scoped = ""  # what cannot be confined in time is dropped: the sender loses styling
        if budget >= 0 and not _too_deep(css):
            try:
                scoped = css_scope.scope(css, f"#{names.wrapper}", names.html, names.body,
                                         reserved)
            except (RecursionError, ValueError):  # pathological CSS must not cost the banner
                scoped = ""
        edits.append((start, end, scoped))
    low = shape.low
    for at in shape.inert:
        edits += _claim(low, at, {"type": "text/x-mimeops-off", "media": "not all"}, names)
    for at in shape.links:  # <link rel=stylesheet>, <meta http-equiv=refresh|CSP|...>
        edits += _claim(low, at, {"rel": "x-mimeops-off", "http-equiv": "x-mimeops-off"},
                        names)
    head = html_attrs = body_attrs = ""
    if shape.html_tag >= 0:
        edits += _claim(low, shape.html_tag, {"style": _PAGE}, names)
        html_attrs = _copied(text, low, shape.html_tag)
    elif shape.html_point >= 0:
        edits.append((shape.html_point, shape.html_point, f'<html style="{_PAGE}">'))
    if shape.body_tag >= 0:
        edits += _claim(low, shape.body_tag, {"style": _PAGE}, names)
        body_attrs = _copied(text, low, shape.body_tag)
    else:
        head = f'<body style="{_PAGE}">'
    # The column only around a banner or footer: a part guarded for its stylesheet
    # alone (another HTML part of the message) needs no page of its own.
    column = bool(banner or footer)
    top = (head + names.guard_sheet() + (names.column_start() if column else "")
           + (names.box("banner", banner) if banner else "")
           + names.opening(html_attrs, body_attrs))
    edits.append((shape.body_point, shape.body_point, top))
    if banner and shape.outlook_hidden:
        # The body begins in a block Outlook skips: Outlook gets its own copy after it
        # (in a comment only Outlook reads, so browsers show one banner).
        # Only where a browser is between tokens: inside a comment the sender left open,
        # our "-->" would end it, and what it hid (an unscoped <style>) would come alive.
        ends = (m.end() for m in _OUTLOOK_BLOCK_END.finditer(text, shape.body_point))
        at = next((end for end in islice(ends, _OUTLOOK_TRIES)
                   if html5.between_tokens(text, end)), -1)
        if at >= 0:
            edits.append((at, at,
                          "<!--[if mso]>" + names.box("banner", banner) + "<![endif]-->"))
    edits.extend(_end_edits(text, shape, names, footer, above_reply, column))
    return _apply(text, edits)


def _end_edits(text: str, shape: html5.Outline, names: Names, footer: str | None,
               above_reply: bool, column: bool = True) -> list[tuple[int, int, str]]:
    """Close the wrapper after the sender's last rendered content (what the sender left
    open is ended first), and put the footer right after it, outside."""
    box = names.box("footer", footer) if footer else ""
    edits = []
    if box and above_reply:
        reply = reply_offset(text, shape.body_point)
        if reply >= 0:
            edits.append((reply, reply, box))  # inside the sender's content, by request
            box = ""
    low = shape.low
    end = names.column_end() if column else ""
    if shape.closer == "\0plaintext":  # nothing after <plaintext> is markup, and nothing
        # can close it: the wrapper stays open around it, the footer goes before it
        if box:
            edits.append((shape.truncated, shape.truncated, box))
    elif shape.closer:  # raw text left open to the end: end it first
        edits.append((len(text), len(text),
                      shape.closer + _closed(low, len(text), names) + box + end))
    else:
        edits.append((shape.tail, shape.tail, _closed(low, shape.tail, names) + box + end))
    return edits


def _closed(low: str, end: int, names: Names) -> str:
    """Our end tags, with what the sender left open ended around them."""
    before, after = html5.closing_tags(low, end)
    return before + names.closing() + after


def _add(text: str, names: Names, banner: str | None, footer: str | None,
         above_reply: bool) -> str:
    """A second op on a guarded body: the banner before the wrapper, the footer after."""
    edits: list[tuple[int, int, str]] = []
    if banner:
        at = text.find(f'<{names.wrapper} id="{names.wrapper}"')
        edits.append((at, at, names.box("banner", banner)))
    if footer:
        opening = text.find(f'<{names.wrapper} id="{names.wrapper}"')
        reply = reply_offset(text, opening) if above_reply else -1
        closing = names.closing()
        after = text.rfind(closing)
        if reply >= 0:
            edits.append((reply, reply, names.box("footer", footer)))
        elif after >= 0:  # after our end tags and the formatting end tags that follow them
            ends = _FORMATTING_ENDS.match(text, after + len(closing))
            after = ends.end() if ends else after + len(closing)
            edits.append((after, after, names.box("footer", footer)))
        else:  # the wrapper could not be closed (<plaintext>): where a first op puts it
            edits.extend(_end_edits(text, html5.outline(text), names, footer, False))
    return _apply(text, sorted(edits))


def _too_deep(css: str) -> bool:
    depth = 0
    for match in _BRACKETS.finditer(css):
        depth += 1 if match.group() in "{([" else -1
        if depth > _CSS_MAX_DEPTH:
            return True
    return False


def _copied(text: str, low: str, name_end: int) -> str:
    """The sender's <html>/<body> attributes that move to its stand-in (the first of a
    name, as the parser keeps it)."""
    seen: dict[str, str] = {}
    for name, start, end in html5.attributes(low, name_end):
        if name in _COPIED and name not in seen:
            seen[name] = text[start:end]
    return "".join(" " + value for value in seen.values())


def _claim(low: str, name_end: int, ours: dict[str, str],
           names: Names) -> list[tuple[int, int, str]]:
    """Our attributes written into the tag whose name ends at `name_end`, and the
    sender's of the same names kept under names of ours: a well-formed tag, with only
    insertions (each value is ours: no quote in it)."""
    edits = [(name_end, name_end, "".join(f' {key}="{value}"' for key, value in ours.items()))]
    for name, start, _ in html5.attributes(low, name_end):
        if name in ours:
            edits.append((start, start, f"x-{names.wrapper}-"))
    return edits


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    edits.sort(key=lambda e: (e[0], e[1]))
    out = []
    pos = 0
    for start, end, replacement in edits:
        out.append(text[pos:start])
        out.append(replacement)
        pos = max(pos, end)
    out.append(text[pos:])
    return "".join(out)
