"""Where a browser's <body> begins, and which markup can style the page, read as HTML5 reads it.

The guard (`mimeops.mime.guard`) puts the banner first in the body and confines the
sender's CSS. Both fail if our idea of the document differs from the browser's, and
a sender who controls the markup will look for exactly such a difference. So this
scan follows the HTML5 tokenizer (comments, including abrupt `<!-->` and `<!--->`,
and `--!>`; raw text and RCDATA elements; script data with its escape states;
`<plaintext>`; foreign content, where `<style>` is an SVG element and `<![CDATA[`
is data) and the tree builder's modes before the body ("initial" to "after head",
`<template>` contents, `<noscript>` in the head with scripting off, as mail readers
run), so text before `<html>`, an element opened in the head or a second `<body>`
put the body where the browser puts it.

Outlook's `<!--[if mso]> ... <![endif]-->` is a comment to every HTML5 parser; the
downlevel-revealed `<![if !mso]>` is a bogus comment whose contents are shown: both
are read as browsers read them.

After the body starts, most tags only need skipping: one regex passes over text,
comments and tags without meaning here, so a large message costs a few regex calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

__all__ = ["ATTRIBUTES", "FORMATTING", "Outline", "attributes", "between_tokens",
           "closing_tags", "lower_ascii", "outline"]

ATTRIBUTES = re.compile(
    # Possessive quantifiers: an unterminated tag fails fast instead of backtracking.
    # An unquoted value cannot start with a quote (that starts a quoted one, which may
    # run to the end of the document: then the tag never ends); a name may start with "=".
    # White space is HTML's (tab, LF, FF, CR, space), not Unicode's: "\v" or U+00A0 are
    # part of a name, as in the browser.
    r"""(?:[\t\n\f\r /]++|(?:=[^\t\n\f\r />=]*+|[^\t\n\f\r />=]++)"""
    r"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+"""
    r"""|(?=>))|(?![\t\n\f\r ]*+=)))*+>"""
)
"""The attribute grammar after a tag name, up to and including the `>` that ends the tag."""


def lower_ascii(text: str) -> str:
    """`text` with ASCII letters lower-cased (same length, same offsets)."""
    try:
        # Text read as latin-1 (nearly all mail): bytes.lower() is ASCII-only and fast.
        return text.encode("latin-1").lower().decode("latin-1")
    except UnicodeEncodeError:
        return text.lower()


_NAME = re.compile(r"[a-z][^\t\n\f\r />]*")
_RAWTEXT = frozenset({"style", "xmp", "iframe", "noembed", "noframes", "title", "textarea"})
_HEAD_VOID = frozenset({"base", "basefont", "bgsound", "link", "meta"})
_AFTER_HEAD_IN_HEAD = frozenset({*_HEAD_VOID, "noframes", "script", "style", "template",
                                 "title"})
_NOSCRIPT_HEAD = frozenset({"basefont", "bgsound", "link", "meta", "noframes", "style"})
# Start tags that end foreign content (HTML5 "in foreign content" breakout list).
_BREAKOUT = frozenset({
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
    "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing",
    "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strong",
    "strike", "sub", "sup", "table", "tt", "u", "ul", "var"})
_INTEGRATION = frozenset({"foreignobject", "desc", "title", "mi", "mo", "mn", "ms", "mtext",
                          "annotation-xml"})
_END_ANYTHING_ELSE = frozenset({"head", "body", "html", "br"})
_FONT_BREAKOUT = re.compile(r"[\t\n\f\r /](?:color|face|size)[\t\n\f\r ]*(?:=|[\t\n\f\r />])")
_SCRIPT_END = re.compile(r"</script[\t\n\f\r />]")
_SCRIPT_EVENTS = re.compile(r"<!--|-->|</?script[\t\n\f\r />]")
_COMMENT_END = re.compile(r"--!?>")
_WS = " \t\n\f\r"
# Tokens read one by one (the head, foreign content) before the scan turns conservative:
# well under a second of a 15 s invocation.
_MAX_STEPS = 30_000
_DEGRADED_TAGS = re.compile(r"<(style|link|meta)(?![^\t\n\f\r />])")
# <meta http-equiv> other than Content-Type: refresh navigates away, a Content-Security-
# Policy can forbid our inline styles (style-src-attr 'none') while a nonce lets the
# sender's through; none of them is needed to show a message.
_HTTP_EQUIV = re.compile(r"""[\t\n\f\r /]http-equiv[\t\n\f\r ]*+=[\t\n\f\r ]*+["']?+"""
                         r"""[\t\n\f\r ]*+(?!content-type[\t\n\f\r "'/>])""")
# Tags the body scan must look at: everything that changes the tokenizer state, every
# stylesheet, and the tags whose position matters.
_SPECIAL = ("body", "html", "link", "meta", "svg", "math", "template", "script", "plaintext",
            *sorted(_RAWTEXT))


@cache
def _skip() -> re.Pattern[str]:
    """Text, complete comments, bogus comments and ordinary tags, in one match (body only,
    HTML content only). Compiled on first use: importing stays cheap at cold start."""
    special = "|".join(_SPECIAL)
    return re.compile(
        r"(?:[^<]++"
        r"|<!--(?:->|>|.*?--!?>)"
        r"|<[!?](?!--|\[CDATA\[)[^>]*+>"
        r"|</?+(?!(?:" + special + r")(?![^\t\n\f\r />]))[a-z][^\t\n\f\r />]*+"
        + ATTRIBUTES.pattern
        + r"|</(?![a-z])[^>]*+>"
        r"|<(?![!?a-z/]))*+",
        re.S,
    )


@dataclass(slots=True)
class Outline:
    """What the guard needs to know about one HTML document (offsets into it; -1: none)."""

    html_tag: int = -1    # end of the name of the <html> tag that creates the html element
    html_point: int = -1  # where html is created implicitly (when html_tag is -1)
    body_tag: int = -1    # end of the name of the <body> tag that creates the body
    body_point: int = 0   # where the body's content begins: the banner goes here
    styles: list[tuple[int, int]] = field(default_factory=list)  # HTML <style> contents
    inert: list[int] = field(default_factory=list)  # name ends of tags to switch off
    tail: int = 0         # after the last thing that renders (footer point)
    closer: str = ""      # what ends an element the document leaves open at its end
    truncated: int = -1   # start of a tag or comment cut off by the end of the document
    # name ends of <link> and <meta http-equiv> (but Content-Type) tags, to switch off
    links: list[int] = field(default_factory=list)
    # The body starts inside a block Outlook does not render (<![if !mso]> or its comment
    # form <!--[if !mso]><!--> ... <!--<![endif]-->): Outlook needs its own banner.
    outlook_hidden: bool = False
    hidden_from: int = -1  # ... and where the outermost such block begins
    low: str = ""         # the document, ASCII lower-cased (same offsets)
    degraded: bool = False  # read conservatively past the step budget (see _Scan._degrade)
    body_started: bool = False  # the document has body content (or a <body> tag)
    html_end: int = -1    # end of the <html ...> tag that creates the html element
    head_end: int = -1    # end of the first </head> end tag
    body_close: int = -1  # start of the last </body> end tag (outside foreign content)
    html_close: int = -1  # start of the last </html> end tag


class _Scan:
    """One pass over the lower-cased document; fills an Outline."""

    def __init__(self, low: str) -> None:
        self.low = low
        self.n = len(low)
        self.out = Outline()
        self.mode = "initial"
        self.template = 0     # depth of open <template> elements
        self.foreign: list[str] = []  # "svg"/"math" (foreign) or an integration point name
        self.hidden: list[int] = []  # where the open blocks Outlook skips began (pre-body)
        self.start = 0   # where the document begins (after a byte order mark)

    # -- tree construction before the body --------------------------------------------

    def _create_html(self, at: int) -> None:
        if self.out.html_tag < 0 and self.out.html_point < 0:
            self.out.html_point = at
        if self.mode in ("initial", "before_html"):
            self.mode = "before_head"

    def _hide(self, at: int) -> None:
        self.hidden.append(at)

    def _unhide(self) -> None:
        if self.hidden:
            self.hidden.pop()

    def _start_body(self, at: int) -> None:
        self.out.body_started = True
        self.out.outlook_hidden = bool(self.hidden)
        self.out.hidden_from = self.hidden[0] if self.hidden else -1
        self._create_html(at)
        self.out.body_point = at
        self.mode = "body"

    def text(self, start: int, end: int) -> None:
        """Character data in the pre-body modes: the first non-space starts the body."""
        if self.mode == "body" or self.template:
            return
        j = start
        while j < end and self.low[j] in _WS:
            j += 1
        if j < end:
            self._start_body(j)

    def start_tag(self, name: str, start: int, name_end: int, end: int) -> None:
        if self.template and name != "template":
            return
        mode = self.mode
        if mode in ("initial", "before_html"):
            if name == "html":
                if self.out.html_point < 0:
                    self.out.html_tag, self.out.html_end = name_end, end
                self.mode = "before_head"
                return
            self._create_html(start)
            mode = "before_head"
        if mode == "before_head":
            if name in ("html", "head"):
                self.mode = "in_head" if name == "head" else mode
                return
            self.mode = mode = "in_head"
        if mode == "in_head_noscript":
            if name in _NOSCRIPT_HEAD or name in ("html", "head", "noscript"):
                return
            self.mode = mode = "in_head"
        if mode == "in_head":
            if name in _AFTER_HEAD_IN_HEAD or name in ("html", "head"):
                self.template += name == "template"
                return
            if name == "noscript":
                self.mode = "in_head_noscript"
                return
            self.mode = mode = "after_head"
        if mode == "after_head":
            if name in _AFTER_HEAD_IN_HEAD:
                self.template += name == "template"
                return
            if name in ("html", "head"):
                return
            if name == "body":
                self.out.body_tag = name_end
                self._start_body(end)
                return
            self._start_body(start)

    def end_tag(self, name: str, start: int) -> None:
        if name == "template" and self.template:
            self.template -= 1
            return
        if self.template:
            return
        mode = self.mode
        if mode in ("initial", "before_html", "before_head"):
            if name not in _END_ANYTHING_ELSE:
                return
            self._create_html(start)
            mode = "in_head"
        if mode == "in_head_noscript":
            if name == "noscript":
                self.mode = "in_head"
                return
            if name != "br":
                return
            mode = "in_head"
        if mode == "in_head":
            if name == "head":
                self.mode = "after_head"
                return
            if name not in ("body", "html", "br"):
                return
            mode = "after_head"
        if mode == "after_head":
            if name in ("body", "html", "br"):
                self._start_body(start)
            else:
                self.mode = mode

    # -- the tokenizer ----------------------------------------------------------------

    def run(self) -> Outline:
        low, n, out = self.low, self.n, self.out
        skip = _skip()
        pos = self.start
        out.body_point = pos
        rendered_end = pos  # end of the last token that renders something
        steps = 0
        while pos < n:
            steps += 1
            if steps > _MAX_STEPS:
                self._degrade(pos)
                return out
            if self.mode == "body" and not self.foreign:
                matched = skip.match(low, pos)
                if matched is not None and matched.end() > pos:
                    rendered_end = self._rendered(pos, matched.end(), rendered_end)
                    pos = matched.end()
                    continue
            lt = low.find("<", pos)
            if lt < 0:
                lt = n
            if lt > pos:
                self.text(pos, lt)
                if low[pos:lt].strip(_WS):
                    rendered_end = lt
                pos = lt
                if pos >= n:
                    break
            # low[pos] == "<"
            if low.startswith("<!--", pos):
                if low.startswith(">", pos + 4):
                    pos += 5
                    continue
                if low.startswith("->", pos + 4):
                    pos += 6
                    continue
                m = _COMMENT_END.search(low, pos + 4)
                if m is None:
                    out.truncated = pos
                    break
                if low.startswith("<!--[if", pos) and low.startswith("<!-->", m.end() - 5):
                    self._hide(pos)
                elif low.startswith("<!--<![endif]", pos):
                    self._unhide()
                pos = m.end()
                continue
            nxt = low[pos + 1] if pos + 1 < n else ""
            if nxt == "!" and self.foreign and self.foreign[-1] in ("svg", "math") \
                    and low.startswith("<![cdata[", pos):
                end = low.find("]]>", pos + 9)
                if end < 0:  # CDATA to the end: end it there (before it, outside the
                    out.closer = "]]>"  # SVG, the rest would be read as markup)
                    rendered_end = n
                    break
                pos = end + 3
                rendered_end = pos
                continue
            if nxt == "/" and pos + 2 == n:  # "</" at the very end is text
                self.text(pos, n)
                rendered_end = n
                break
            if nxt in ("!", "?") or (nxt == "/" and not _NAME.match(low, pos + 2)):
                if low.startswith("</>", pos):
                    pos += 3
                    continue
                end = low.find(">", pos)
                if end < 0:
                    out.truncated = pos
                    break
                if low.startswith("<![if", pos):
                    self._hide(pos)
                elif low.startswith("<![endif", pos):
                    self._unhide()
                pos = end + 1
                continue
            closing = nxt == "/"
            name_match = _NAME.match(low, pos + 2 if closing else pos + 1)
            if name_match is None:  # a "<" that starts no tag: text
                self.text(pos, pos + 1)
                rendered_end = pos + 1
                pos += 1
                continue
            attrs = ATTRIBUTES.match(low, name_match.end())
            if attrs is None:  # cut off by the end of the document: the parser drops it
                out.truncated = pos
                break
            name, name_end, end = name_match.group(), name_match.end(), attrs.end()
            if closing:
                pos = self._end(name, pos, end)
                if name not in ("body", "html"):
                    rendered_end = end
                continue
            rendered_end = end
            pos = self._start(name, pos, name_end, end)
            if pos < 0:
                break
            rendered_end = max(rendered_end, pos)
        out.tail = rendered_end if out.truncated < 0 else min(rendered_end, out.truncated)
        out.tail = max(out.tail, out.body_point)
        return out

    def _degrade(self, pos: int) -> None:
        """Past the step budget (markup built to be slow: hundreds of thousands of SVG or
        head tags): the rest is read conservatively, so the scan stays linear and fast. A
        banner not yet placed goes at the very start (our <html>/<body> tags then open
        the body there); every later <style> is switched off, not confined; <link> and
        <meta> are switched off; the footer goes at the end."""
        low, out = self.low, self.out
        out.degraded = True
        if self.mode != "body":
            out.html_tag = out.body_tag = -1
            out.html_point = out.body_point = self.start
            out.outlook_hidden = False
        for match in _DEGRADED_TAGS.finditer(low, pos):
            name, at = match.group(1), match.end()
            if name == "style":
                out.inert.append(at)
            elif name == "link" or _HTTP_EQUIV.search(low, at, low.find(">", at) % (self.n + 1)):
                out.links.append(at)
        out.tail, out.closer, out.truncated = self.n, "", -1

    def _rendered(self, start: int, end: int, previous: int) -> int:
        """End of a skipped stretch [start, end) without its trailing white space (a
        trailing comment counts as content: the footer then goes after it, harmlessly)."""
        stripped = self.low[start:end].rstrip(_WS)
        return start + len(stripped) if stripped else previous

    def _end(self, name: str, start: int, end: int) -> int:
        if self.foreign:
            top = self.foreign[-1]
            if top in ("svg", "math"):
                if name in ("p", "br"):
                    self.foreign.clear()
                elif name == top:
                    self.foreign.pop()
            elif name == top:
                self.foreign.pop()
            return end
        if not self.template:  # the landmarks of an unguarded insertion (mime/html.py)
            if name == "body":
                self.out.body_close = start
            elif name == "html":
                self.out.html_close = start
            elif name == "head" and self.out.head_end < 0:
                self.out.head_end = end
        if self.mode != "body":
            self.end_tag(name, start)
        elif name == "template" and self.template:
            self.template -= 1
        return end

    def _start(self, name: str, start: int, name_end: int, end: int) -> int:
        """Handle a start tag; return where scanning goes on (-1: nothing more is markup)."""
        low, out = self.low, self.out
        self_closing = low[end - 2] == "/"
        if self.foreign and self.foreign[-1] in ("svg", "math"):
            if name in _BREAKOUT or (name == "font" and _FONT_BREAKOUT.search(low, name_end,
                                                                               end)):
                self.foreign.clear()  # reprocessed as HTML, below
            else:
                if name == "style":
                    out.inert.append(name_end)  # an SVG/MathML <style>: not raw text
                if not self_closing and (name in ("svg", "math") or name in _INTEGRATION):
                    self.foreign.append(name)
                return end
        if self.mode != "body":
            self.start_tag(name, start, name_end, end)
        elif name == "template":
            self.template += 1
        if name == "link" or (name == "meta" and _HTTP_EQUIV.search(low, name_end, end)):
            out.links.append(name_end)
        elif name in ("svg", "math"):
            if not self_closing:
                self.foreign.append(name)
            return end
        if name == "script":
            return self._script(end)
        if name == "plaintext":
            out.closer = "\0plaintext"
            out.truncated = start
            return -1
        if name in _RAWTEXT:
            close = re.compile(r"</" + name + r"[\t\n\f\r />]")
            m = close.search(low, end)
            if name == "style":
                out.styles.append((end, m.start() if m else self.n))
            if m is None:
                out.closer = f"</{name}>"
                return -1
            return m.start()
        return end

    def _script(self, pos: int) -> int:
        """Script data with its escape states; where the </script> end tag begins."""
        low = self.low
        state = "data"
        while True:
            m = (_SCRIPT_END if state == "data" else _SCRIPT_EVENTS).search(low, pos)
            if state == "data":
                opener = low.find("<!--", pos)
                if m is None and opener < 0:
                    break
                if opener >= 0 and (m is None or opener < m.start()):
                    state, pos = "escaped", opener + 2  # "-->" may share the dashes
                    continue
                assert m is not None
                return m.start()
            if m is None:
                break
            token = m.group()
            if token == "-->":
                state, pos = "data", m.end()
            elif token == "<!--":
                pos = m.end() - 2
            elif token.startswith("</"):
                if state == "escaped":
                    return m.start()
                state, pos = "escaped", m.end()
            else:
                state, pos = ("double" if state == "escaped" else state), m.end()
        self.out.closer = "--></script>"
        return -1


# Elements a sender may leave open that stop a later end tag of ours (HTML5 "special"
# elements), innermost kinds first: a closing sequence pops them so the footer lands
# outside the sender's content. An end tag with nothing to close is ignored by the
# parser; `</p>` alone would add an empty paragraph, so it is written once at most.
_CLOSABLE = ("template", "select", "mi", "mo", "mn", "ms", "mtext", "annotation-xml",
             "foreignobject", "desc", "svg", "math", "noscript", "li", "dd", "dt", "h1",
             "h2", "h3", "h4", "h5", "h6", "pre", "listing", "button", "td", "th", "tr",
             "tbody", "thead", "tfoot", "caption", "colgroup", "table", "object", "applet",
             "marquee", "fieldset", "figure", "figcaption", "details", "summary", "dl", "ul",
             "ol", "menu", "dir", "blockquote", "center", "address", "article", "aside",
             "nav", "section", "header", "footer", "main", "hgroup", "search", "form", "div")


def _trie(words: tuple[str, ...]) -> str:
    """An alternation as a prefix tree ("t(?:able|d|r)"): the regex engine then tries
    one branch per letter instead of every name at every "<" of a large message."""
    tree: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict) -> str:  # type: ignore[type-arg]
        branches = [re.escape(ch) + pattern(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        group = "(?:" + "|".join(branches) + ")"
        return group + "?" if "" in node else group

    return pattern(tree)


# HTML5's formatting elements: re-opened around later content until ended.
FORMATTING = ("a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike",
               "strong", "tt", "u")
_OPENERS = re.compile(r"<(/?)(" + _trie((*_CLOSABLE, *FORMATTING, "p"))
                      + r")(?![^\t\n\f\r />])")
_MAX_ROUNDS = 12


def closing_tags(low: str, end: int) -> tuple[str, str]:
    """End tags for what `low[:end]` (lower-cased) may leave open: (before, after) an end
    tag of ours. Over-estimates: an end tag with nothing to end is ignored by the parser.

    The order of what is open is unknown without building the tree, so every kind left
    open is ended once per round, one round more than the deepest count: an end tag
    ignored in one round (something inside still open) closes in the next. Formatting
    elements (<a>, <b>, <font>, ...) would be re-opened around whatever follows ("active
    formatting elements"): their end tags, after ours, take them off that list.

    Counted in document order: an end tag with nothing of its kind open ends nothing
    (after `</a><a href=x>` the link is open, and the parser re-opens it after ours)."""
    counts: dict[str, int] = {}
    for slash, name in _OPENERS.findall(low, 0, end):
        open_ = counts.get(name, 0)
        if not slash:
            counts[name] = open_ + 1
        elif open_:
            counts[name] = open_ - 1
    paragraph = "</p>" if counts.pop("p", 0) > 0 else ""
    return paragraph + _rounds(counts, _CLOSABLE), _rounds(counts, FORMATTING)


def _rounds(counts: dict[str, int], kinds: tuple[str, ...]) -> str:
    names = [n for n in kinds if counts.get(n, 0) > 0]
    if not names:
        return ""
    rounds = min(_MAX_ROUNDS, max(counts[n] for n in names) + 1)
    return "".join(f"</{n}>" for n in names) * rounds


def attributes(low: str, pos: int) -> list[tuple[str, int, int]]:
    """(name, start, end) of each attribute of the tag whose name ends at `pos` in `low`
    (the lower-cased document), as the HTML5 tokenizer splits them: a "/" between
    attributes is skipped, a quoted value may hold ">", an unquoted one ends at white
    space or ">". Repeated names are all listed (the parser keeps the first)."""
    found: list[tuple[str, int, int]] = []
    n = len(low)
    while pos < n:
        ch = low[pos]
        if ch in _WS or ch == "/":  # before an attribute name
            pos += 1
            continue
        if ch == ">":
            break
        start = pos
        pos += 1  # a name may begin with "=" (a parse error the tokenizer tolerates)
        while pos < n and low[pos] not in _WS and low[pos] not in "/>=":
            pos += 1
        name, end = low[start:pos], pos
        while pos < n and low[pos] in _WS:
            pos += 1
        if pos < n and low[pos] == "=":
            pos += 1
            while pos < n and low[pos] in _WS:
                pos += 1
            if pos < n and low[pos] in "\"'":
                close = low.find(low[pos], pos + 1)
                pos = n if close < 0 else close + 1
            else:
                while pos < n and low[pos] not in _WS and low[pos] != ">":
                    pos += 1
            end = pos
        found.append((name, start, end))
    return found


# A byte order mark (as U+FEFF, or UTF-8's three bytes read as latin-1) is not content:
# the browser's decoder drops it, so nothing may be put in front of it.
_BOMS = ("\ufeff", "\xef\xbb\xbf")


def outline(text: str) -> Outline:
    """The Outline of `text`, read as an HTML5 parser with scripting off reads it."""
    low = lower_ascii(text)
    scan = _Scan(low)
    for bom in _BOMS:
        if text.startswith(bom):
            scan.start = len(bom)
    shape = scan.run()
    shape.low = low
    if "<!--[if" in low:
        shape.styles = sorted(shape.styles + _outlook_styles(low, shape.styles))
    return shape


def between_tokens(text: str, at: int) -> bool:
    """True when a browser reading `text` is between two tokens at offset `at`, in
    markup: not inside a comment, a tag, raw text (a stylesheet, a script) or CDATA, so
    markup inserted there is read as written and ends nothing of the sender's."""
    shape = outline(text[:at])
    return shape.truncated < 0 and not shape.closer and not shape.degraded


_OUTLOOK_STYLE = re.compile(r"<style(?:[\t\n\f\r /][^>]*+)?>")


def _outlook_styles(low: str, styles: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Stylesheets inside Outlook's `<!--[if mso]> ... <![endif]-->` comments: a comment
    to a browser, markup to Outlook, which applies them (`mso-hide:all` hides anything):
    they are confined like the others. A span inside a stylesheet already found is not
    markup to anyone and is left alone."""
    found: list[tuple[int, int]] = []
    pos = 0
    while (start := low.find("<!--[if", pos)) >= 0:
        end = low.find("<![endif]", start)
        if end < 0:
            break
        pos = end
        if low.startswith("<!-->", low.find(">", start) + 1):
            continue  # <!--[if !mso]><!-->: shown to browsers, scanned as markup
        if any(a <= start < b for a, b in styles):
            continue
        for tag in _OUTLOOK_STYLE.finditer(low, start, end):
            close = low.find("</style", tag.end(), end)
            found.append((tag.end(), end if close < 0 else close))
    return found
