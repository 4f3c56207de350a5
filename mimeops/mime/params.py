"""Content-Type / Content-Disposition values: `main; name=value; ...`.

Tolerant like mail clients are: quoted strings with escapes, RFC 2231
continuations and charsets (`filename*0*=utf-8''...`), RFC 2047 words inside
quoted names (Outlook), stray semicolons and spaces.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from mimeops.mime import charset, words

_SECTION = re.compile(r"^(?P<name>[^*]+)\*(?:(?P<num>\d+)\*?|)$")
# An RFC 5322 comment (one level of nesting is plenty for a media type) and white space:
# `text/html (sent by X)` and `text / html` are text/html to clients.
_COMMENT_OR_SPACE = re.compile(r"\((?:[^()\\]|\\.|\([^()]*\))*\)|\s+")


def split(value: str) -> list[str]:
    """Split on semicolons outside quoted strings."""
    if "\\" not in value:
        # No escapes: a semicolon is quoted exactly when an odd number of quotes comes
        # before it since the last split, so split everywhere and rejoin those.
        pieces: list[str] = []
        for piece in value.split(";"):
            if pieces and pieces[-1].count('"') % 2:
                pieces[-1] += ";" + piece
            else:
                pieces.append(piece)
        return pieces
    pieces = []  # the general case, character by character
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner) if "\\" in inner else inner
    return value


def parse(value: str | None) -> tuple[str, dict[str, str]]:
    """(lower-cased main value, parameters with lower-cased names)."""
    if not value:
        return "", {}
    main, *rest = split(value)
    params: dict[str, str] = {}
    extended: dict[str, dict[int, tuple[str, bool]]] = {}
    for piece in rest:
        name, eq, raw = piece.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            continue
        section = _SECTION.match(name)
        if section is None:
            params.setdefault(name, words.decode(_unquote(raw)))
            continue
        index = int(section.group("num") or 0)
        encoded = name.endswith("*")
        extended.setdefault(section.group("name"), {})[index] = (_unquote(raw), encoded)
    for name, sections in extended.items():
        params[name] = _join_2231([sections[i] for i in sorted(sections)])
    return _COMMENT_OR_SPACE.sub("", main).lower(), params


def _join_2231(sections: list[tuple[str, bool]]) -> str:
    label = None
    data = b""
    for i, (text, encoded) in enumerate(sections):
        if encoded:
            if i == 0 and text.count("'") >= 2:
                label, _lang, text = text.split("'", 2)
            data += unquote_to_bytes(text)
        else:
            data += text.encode("utf-8")
    return data.decode(charset.lookup(label) or "utf-8", "replace")
