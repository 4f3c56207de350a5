"""Charset labels as mail uses them, mapped to Python codecs without losing text.

Mail labels text wrongly all the time: no charset, unknown labels, latin-1
bytes labelled utf-8. Edits therefore work on bytes whenever the charset keeps
ASCII bytes as ASCII (then the original bytes are never decoded at all), and
only transcode, through a fallback chain that cannot drop a byte, when the
inserted text does not fit the part's charset.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

# Labels seen in real mail that Python does not know under that name.
_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    "ansi_x3.4-1968": "ascii",
    "x-sjis": "shift_jis",
    "x-gbk": "gbk",
}
# Stateful or non-ASCII-compatible encodings: bytes that look like "<" may not be.
_OPAQUE_PREFIXES = ("utf_16", "utf_32", "utf_7", "iso2022", "hz")
_PROBE = "<>!-/=\"' \r\nabcXYZ09:;&#"


@lru_cache(maxsize=256)
def lookup(label: str | None) -> str | None:
    """Python codec name for a MIME charset label, or None when unknown/absent."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # Python also knows bytes-to-bytes and str-to-str codecs (base64, hex, zlib,
    # rot13): not charsets, and str.encode / bytes.decode refuse them.
    return info.name if getattr(info, "_is_text_encoding", True) else None


@lru_cache(maxsize=256)
def ascii_transparent(codec: str | None) -> bool:
    """True when every ASCII character is the same single byte in `codec`.

    Then markup and line breaks can be found and spliced in the raw bytes. An
    unknown or missing charset is assumed ASCII-compatible: mail is.
    """
    if codec is None:
        return True
    if codec.replace("-", "_").startswith(_OPAQUE_PREFIXES):
        return False
    try:
        return _PROBE.encode(codec) == _PROBE.encode("ascii")
    except UnicodeError:
        return False


def encode(text: str, codec: str | None) -> bytes | None:
    """`text` in `codec` (ASCII when unknown), or None when it does not fit."""
    try:
        return text.encode(codec or "ascii")
    except UnicodeEncodeError:
        return None


def decode_lossless(data: bytes, codec: str | None) -> tuple[str, str]:
    """Decode for transcoding: the declared codec, then UTF-8, then windows-1252.

    Returns the text and the codec that read it. The last step maps every
    byte to a character (latin-1 for the five bytes cp1252 leaves undefined),
    so no byte of the original is ever dropped.
    """
    for candidate in (codec, "utf-8"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", _LATIN1_FALLBACK), "cp1252"


def _latin1(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


_LATIN1_FALLBACK = "mimeops.latin1"
codecs.register_error(_LATIN1_FALLBACK, _latin1)


# Supersets Python knows of the ISO-2022 family: what clients display as "ISO-2022-JP"
# includes half-width katakana (ESC ( I) and the JIS X 0212 / 0213 designations.
_ISO2022_SUPERSETS = ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3", "iso2022_jp_2004",
                      "iso2022_jp_1", "iso2022_kr")


def stateful(codec: str | None) -> bool:
    """True for the 7-bit ISO-2022 encodings: escape sequences switch the character set,
    and every line starts (and, well-formed, ends) in ASCII."""
    return codec is not None and codec.startswith("iso2022")


def decode_lenient(data: bytes, codec: str | None) -> str | None:
    """Text of a stateful-encoded body the strict codec refuses, read by a superset
    codec that accepts every byte of it (nothing dropped or replaced), or for ISO-2022-JP
    as browsers and Windows read it (`jis_as_windows`); else None."""
    if codec is None or not stateful(codec):
        return None
    for candidate in (codec, *_ISO2022_SUPERSETS):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    return jis_as_windows(data) if codec.startswith("iso2022_jp") else None


_JIS_SETS = {b"\x1b(B": "ascii", b"\x1b(J": "roman", b"\x1b(I": "kana", b"\x1b$@": "jis",
             b"\x1b$B": "jis"}
_JIS_SPLIT = re.compile(rb"(\x1b\(B|\x1b\(J|\x1b\(I|\x1b\$@|\x1b\$B)")
_JIS_ROMAN = str.maketrans({"\\": "\u00a5", "~": "\u203e"})


def jis_as_windows(data: bytes) -> str | None:
    """ISO-2022-JP read as browsers (the WHATWG decoder) and Windows (CP50220) read it:
    JIS X 0208 with the NEC row 13 and IBM extensions (circled digits, Roman numerals,
    ㍉ ...) that Python's strict codecs refuse, JIS X 0201 Roman and katakana. None when
    a byte fits none of that (8-bit data, an unknown escape sequence, an unassigned
    code)."""
    out = []
    mode = "ascii"
    for piece in _JIS_SPLIT.split(data):
        if piece in _JIS_SETS:
            mode = _JIS_SETS[piece]
            continue
        try:
            out.append(_jis_piece(piece, mode))
        except (UnicodeDecodeError, ValueError):
            return None
    return "".join(out)


def _jis_piece(piece: bytes, mode: str) -> str:
    if b"\x1b" in piece or not piece.isascii():
        raise ValueError("not ISO-2022-JP")
    if mode == "ascii":
        return piece.decode("ascii")
    if mode == "roman":
        return piece.decode("ascii").translate(_JIS_ROMAN)
    if mode == "kana":
        return "".join(chr(0xFF61 + b - 0x21) if 0x21 <= b <= 0x5F else chr(b) for b in piece)
    # JIS X 0208 pairs (line breaks between them): what the strict codec reads as it
    # reads it, the rest through Shift_JIS as Windows-31J (the NEC and IBM rows).
    text = []
    pos = 0
    while pos < len(piece):
        j1 = piece[pos]
        if j1 in (0x0A, 0x0D):
            text.append(chr(j1))
            pos += 1
            continue
        if pos + 1 >= len(piece):
            raise ValueError("half a character")
        j2 = piece[pos + 1]
        try:
            text.append((b"\x1b$B" + piece[pos : pos + 2]).decode("iso2022_jp"))
        except UnicodeDecodeError:
            s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F + (j2 >= 0x60) if j1 % 2 else 0x7E)
            text.append(bytes([s1, s2]).decode("cp932"))
        pos += 2
    return "".join(text)


def encode_lines(text: str, codec: str) -> str | None:
    """`text` in a stateful `codec`, line by line (each line back in ASCII at its end),
    viewed through latin-1 (7-bit bytes, one character each); None when it does not fit."""
    out = []
    for line in text.split("\n"):
        encoded = encode(line, codec)
        if encoded is None:
            return None
        out.append(encoded.decode("latin-1"))
    return "\n".join(out)
