"""Confine a sender's stylesheet to the sender's own content, parsed with tinycss2.

Every selector gets the sender's wrapper as ancestor (`#W ` + selector): whatever it
says, the element it styles is inside the wrapper, never the banner or footer beside
it. `html`, `body` and `:root` compounds become the wrapper's stand-ins for them, so
`body { margin: 0 }` and `body > table` keep styling the sender's layout. Grouping
at-rules (@media, @supports, @layer, @container, @starting-style) are scoped inside;
rules that cannot be confined are dropped: `@import` (the imported sheet could say
anything), `@scope` (it picks its own root) and unknown at-rules. An `@font-face`
redefining a family that our own markup names (a blank-glyph "Arial") is dropped too.

Malformed CSS is handled the way a browser handles it: tinycss2 follows the CSS
Syntax spec's error recovery, and a selector list that starts with a combinator
(invalid at top level) is dropped rather than turned into a valid one by the prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import tinycss2

__all__ = ["scope"]

_GROUPING = frozenset({"media", "supports", "container", "layer", "starting-style", "document",
                       "-moz-document"})
_KEPT = frozenset({"charset", "namespace", "keyframes", "-webkit-keyframes", "counter-style",
                   "page", "property", "font-feature-values", "font-palette-values",
                   "position-try", "view-transition"})
_COMBINATORS = frozenset({">", "+", "~", "|"})


class _Scope:
    def __init__(self, root: str, html: str, body: str, reserved: str) -> None:
        self.root = root
        self.html = tinycss2.parse_component_value_list(html)
        self.body = tinycss2.parse_component_value_list(body)
        self.reserved = reserved

    def rules(self, rules: Iterable[Any]) -> Iterable[str]:
        for rule in rules:
            if rule.type == "qualified-rule":
                selectors = self.selectors(rule.prelude)
                if selectors is not None and not _mentions_scope(rule.content):
                    yield selectors + "{" + tinycss2.serialize(rule.content) + "}"
            elif rule.type == "at-rule":
                yield from self.at_rule(rule)

    def at_rule(self, rule: Any) -> Iterable[str]:
        keyword = rule.lower_at_keyword
        head = "@" + rule.at_keyword + tinycss2.serialize(rule.prelude)
        if rule.content is None:  # a statement: @charset, @namespace, @layer a, b;
            if keyword in ("charset", "namespace", "layer"):
                yield head + ";"
            return
        if keyword in _GROUPING:
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True,
                                             skip_whitespace=True)
            yield head + "{" + "".join(self.rules(inner)) + "}"
        elif keyword == "font-face":
            if not self.reserved_family(rule.content):
                yield head + "{" + tinycss2.serialize(rule.content) + "}"
        elif keyword in _KEPT and not _mentions_scope(rule.content):
            yield head + "{" + tinycss2.serialize(rule.content) + "}"

    def reserved_family(self, content: Sequence[Any]) -> bool:
        for item in tinycss2.parse_declaration_list(content, skip_comments=True,
                                                     skip_whitespace=True):
            if item.type == "declaration" and item.lower_name == "font-family":
                family = "".join(t.value for t in item.value
                                 if t.type in ("string", "ident") and isinstance(t.value, str))
                return not family.strip() or family.strip().lower() in self.reserved
        return False

    def selectors(self, prelude: Sequence[Any]) -> str | None:
        """The selector list with every selector inside the wrapper, or None to drop."""
        groups: list[list[Any]] = [[]]
        for token in prelude:
            if token.type == "literal" and token.value == ",":
                groups.append([])
            else:
                groups[-1].append(token)
        out = []
        for group in groups:
            tokens = _trim(group)
            if not tokens or (tokens[0].type == "literal" and tokens[0].value in _COMBINATORS):
                return None
            out.append(self.root + " " + tinycss2.serialize(self.compounds(tokens)))
        return ",".join(out)

    def compounds(self, tokens: list[Any]) -> list[Any]:
        """`html`/`body` type selectors and `:root` (top level only) -> the stand-ins."""
        out: list[Any] = []
        at_start = True
        i = 0
        while i < len(tokens):
            token = tokens[i]
            kind = token.type
            if kind == "whitespace" or (kind == "literal" and token.value in _COMBINATORS):
                out.append(token)
                at_start = True
            elif at_start and kind == "ident" and token.lower_value in ("html", "body"):
                out.extend(self.html if token.lower_value == "html" else self.body)
                at_start = False
            elif (kind == "literal" and token.value == ":" and i + 1 < len(tokens)
                  and tokens[i + 1].type == "ident" and tokens[i + 1].lower_value == "root"
                  and not (out and out[-1].type == "literal" and out[-1].value == ":")):
                out.extend(self.html)
                i += 1
                at_start = False
            else:
                out.append(token)
                at_start = False
            i += 1
        return out


def _trim(tokens: list[Any]) -> list[Any]:
    start, end = 0, len(tokens)
    while start < end and tokens[start].type in ("whitespace", "comment"):
        start += 1
    while end > start and tokens[end - 1].type in ("whitespace", "comment"):
        end -= 1
    return tokens[start:end]


def _mentions_scope(tokens: Iterable[Any] | None) -> bool:
    """Whether a block holds an @scope (nested rules may carry one) anywhere."""
    for token in tokens or ():
        if token.type == "at-keyword" and token.lower_value == "scope":
            return True
        nested = getattr(token, "content", None)
        if isinstance(nested, list) and _mentions_scope(nested):
            return True
        arguments = getattr(token, "arguments", None)
        if isinstance(arguments, list) and _mentions_scope(arguments):
            return True
    return False


def scope(css: str, root: str, html: str, body: str, reserved: str = "") -> str:
    """`css` with every rule confined to the descendants of the selector `root`; `html`
    and `body` are the selectors of the elements standing in for <html> and <body>;
    `reserved` is lower-case text whose font names a sender's @font-face may not take.

    The result never contains `</style`, whatever the input's escapes decode to."""
    sheet = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    out = "".join(_Scope(root, html, body, reserved).rules(sheet))
    return _safe_in_style_element(out)


def _safe_in_style_element(css: str) -> str:
    """Escape `<` where the HTML tokenizer would read `</style` (a CSS escape decodes
    back to the same character, inside strings and out)."""
    low = css.lower()
    if "</style" not in low:
        return css
    parts = []
    pos = 0
    while (at := low.find("</style", pos)) >= 0:
        parts.append(css[pos:at] + "\\3c ")
        pos = at + 1
    parts.append(css[pos:])
    return "".join(parts)
