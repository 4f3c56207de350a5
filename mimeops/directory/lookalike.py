"""Impersonation signals: display names that copy a colleague's, domains that mimic ours.

Both compare *skeletons* (Unicode TR39): each character is replaced by the prototype
of its confusable class, so Cyrillic `\u0430` and Latin `a`, digit `1` and letter `l`,
`rn` and `m` become the same. The confusable classes come from the Unicode
confusables table as shipped by the `confusable_homoglyphs` package (loaded on first
use: ~40 ms, only for flows that use these conditions).

- Display names: NFKC, case-folded, accents removed, invisible and punctuation
  characters dropped, "Last, First" turned around, words in any order, then skeleton.
- Domains: IDNA (xn--) labels decoded; a domain (or a parent of it) mimics an internal
  domain when their skeletons are equal, or when one edit (insert, delete, replace or
  swap two neighbours) turns one into the other, also after skeletons.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

_LRM = "\u200e"  # the table wraps right-to-left characters in LEFT-TO-RIGHT MARKs


@cache
def _prototypes() -> dict[str, str]:
    """character -> prototype of its confusable class (only characters that change)."""
    from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

    graph: dict[str, list[str]] = {
        key.replace(_LRM, ""): [h["c"].replace(_LRM, "") for h in homoglyphs]
        for key, homoglyphs in confusables.confusables_data.items()
    }
    table: dict[str, str] = {}
    for node, neighbours in graph.items():
        if len(node) != 1 or len(neighbours) != 1:
            continue  # prototypes: several sources, or several code points
        other = neighbours[0]
        if len(graph.get(other, ())) > 1 or len(other) > 1:
            table[node] = other  # a source of a prototype with several sources
        else:  # a pair: either may be the prototype; pick one the same way for both
            prototype = min(node, other)
            if node != prototype:
                table[node] = prototype
    return table


@lru_cache(maxsize=8192)
def skeleton(text: str) -> str:
    """TR39-style skeleton, case-folded: equal skeletons look alike."""
    table = _prototypes()
    folded = unicodedata.normalize("NFD", text.casefold())
    mapped = "".join(table.get(c, c) for c in folded)
    return unicodedata.normalize("NFD", mapped).casefold()


@lru_cache(maxsize=8192)
def name_key(display_name: str) -> str:
    """The comparison key of a display name ('' when nothing is left of it)."""
    text = unicodedata.normalize("NFKC", display_name).strip().strip("\"'")
    if text.count(",") == 1:
        last, first = text.split(",")
        text = f"{first} {last}"
    decomposed = unicodedata.normalize("NFD", text.casefold())
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn" or category == "Cf":  # accents, zero-width characters
            continue
        kept.append(char if char.isalnum() else " ")
    words = skeleton("".join(kept)).split()
    return " ".join(sorted(words))


def one_edit(a: str, b: str) -> bool:
    """Whether exactly one insert, delete, replace or swap of neighbours makes b from a."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) < len(b):
        return a[start:] == b[start + 1:]
    if a[start + 1:] == b[start + 1:]:
        return True
    return (start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start]
            and a[start + 2:] == b[start + 2:])


@lru_cache(maxsize=4096)
def unicode_domain(domain: str) -> str:
    """A domain with its xn-- labels decoded (as a reader sees it), lower-cased."""
    labels = []
    for label in domain.strip().rstrip(".").lower().split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                try:
                    import idna

                    label = idna.decode(label)
                except (ImportError, idna.IDNAError, UnicodeError):
                    pass
        labels.append(label)
    return ".".join(labels)


def mimics(domain: str, internal: frozenset[str]) -> str | None:
    """The internal domain `domain` imitates, or None.

    Our own domains never imitate (they are internal), nor does a subdomain of one
    (`mail.example.com` is ours in form). A parent of `domain` that mimics counts:
    `mail.examp1e.com` imitates example.com.
    """
    if not domain or domain in internal:
        return None
    labels = domain.split(".")
    suffixes = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    if any(s in internal for s in suffixes):
        return None
    for suffix in suffixes:
        shown = unicode_domain(suffix)
        for ours in sorted(internal):
            mine = unicode_domain(ours)
            if (skeleton(shown) == skeleton(mine) or one_edit(shown, mine)
                    or one_edit(skeleton(shown), skeleton(mine))):
                return ours
    return None
