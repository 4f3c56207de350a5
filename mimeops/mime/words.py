"""RFC 2047 encoded words: decode any charset for matching, encode UTF-8 for writing."""

from __future__ import annotations

import base64
import binascii
import re

from mimeops.mime import charset

_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t]+(?==\?)")
_MAX_WORD = 75
_PAYLOAD_BYTES = 45  # 60 base64 characters: "=?utf-8?B?" + 60 + "?=" fits in 75


def _decode_word(match: re.Match[str]) -> str:
    label, kind, text = match.groups()
    codec = charset.lookup(label.split("*", 1)[0])
    if codec is None:
        return match.group()
    try:
        if kind in "bB":
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = binascii.a2b_qp(text.replace("_", " ").encode("ascii"), header=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return match.group()
    return data.decode(codec, "replace")


def decode(value: str) -> str:
    """Decode encoded words; whitespace between two adjacent words is dropped (RFC 2047)."""
    if "=?" not in value:
        return value
    return _WORD.sub(_decode_word, _BETWEEN_WORDS.sub(r"\1", value))


def encode(value: str) -> list[str]:
    """Encoded words (UTF-8, base64), each within 75 characters, split on characters."""
    out: list[str] = []
    chunk = ""
    size = 0
    for char in value:
        n = len(char.encode("utf-8", "surrogatepass"))
        if size + n > _PAYLOAD_BYTES:
            out.append(_word(chunk))
            chunk, size = "", 0
        chunk += char
        size += n
    if chunk or not out:
        out.append(_word(chunk))
    return out


def _word(text: str) -> str:
    data = text.encode("utf-8", "replace")
    word = "=?utf-8?B?" + base64.b64encode(data).decode("ascii") + "?="
    assert len(word) <= _MAX_WORD
    return word
