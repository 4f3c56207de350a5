"""What one message shows in the preview report: its displayed body made inert, its
header fields decoded, and the header lines a flow changed.

A hostile message is shown, never run: the body goes into a sandboxed `srcdoc`
iframe (see `mimeops.preview.report`), and before that everything in it that would
fetch or run is renamed or removed, so nothing even tries. Header values are
shown decoded (RFC 2047), the way a mail client shows them, and escaped by the page.
"""

from __future__ import annotations

import difflib
import re
from html import escape

from mimeops.errors import UndecodableBody
from mimeops.mime import Message, charset, headers

# Inherited by the srcdoc iframes too: nothing is fetched, not even by a message.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# A message's own fetches are blocked by the policy above; made inert first, they do
# not even try (no console noise): scripts, links, metas, imports, remote URLs dropped.
_DEAD = re.compile(r"(?is)<script\b.*?</script\s*>|<script\b[^>]*>|<(?:link|meta|base)\b[^>]*>"
                   r"|@import[^;]*;?")
_TAG = re.compile(r"<[A-Za-z][^>]*>")
_FETCHING = re.compile(
    r"""(?i)(\s)(src|srcset|lowsrc|background|poster|data|xlink:href|on[a-z]+)(\s*=\s*)"""
    r"""("[^"]*"|'[^']*'|[^\s>]*)""")
_SVG_FETCH = re.compile(r"(?i)<(?:image|use|feimage|script)\b")
_SVG_HREF = re.compile(r"(?i)(\s)href(?=\s*=)")
# A previewed message must not move the report's focus (the guarded banner carries
# autofocus against a sender's own); the sandbox refuses it, but logs an error.
_AUTOFOCUS = re.compile(r"(?i)(\s)autofocus\b")
_CSS_URL = re.compile(r"""(?i)url\(\s*(?!["']?data:)[^)]*\)""")
_SHOWN_VALUE = 2000  # characters of one header value shown in a diff line


def document(body: str) -> str:
    """A complete HTML document for `srcdoc`, under the report's policy."""
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">"
            f"</head><body>{body}</body></html>")


def _inert_tag(tag: re.Match[str]) -> str:
    text = _AUTOFOCUS.sub(r"\1data-inert-autofocus", _FETCHING.sub(_inert_attribute, tag.group(0)))
    # SVG fetches through plain href too.
    return _SVG_HREF.sub(r"\1data-inert-href", text) if _SVG_FETCH.match(text) else text


def _inert_attribute(match: re.Match[str]) -> str:
    space, name, equals, value = match.groups()
    if name.lower() != "data" and value.strip("'\"").lower().startswith("data:"):
        return match.group(0)
    return f"{space}data-inert-{name}{equals}{value}"


def inert(html: str) -> str:
    """The HTML with what would fetch or run renamed or removed (display stays)."""
    html = _CSS_URL.sub("none", _DEAD.sub("", html))
    return _TAG.sub(_inert_tag, html)


def rendered_body(raw: bytes) -> str:
    """The body a mail client would show, as a complete HTML document for `srcdoc`:
    the HTML body made inert (the iframe sandbox contains it anyway), else the text escaped."""
    bodies = Message(raw).bodies()
    part = bodies.get("html") or bodies.get("plain")
    if part is None:
        return document("<p><em>(no displayed text or HTML body)</em></p>")
    try:
        data = part.decoded()
    except UndecodableBody as error:
        return document(f"<p><em>(body does not decode: {escape(str(error))})</em></p>")
    text, _ = charset.decode_lossless(data, charset.lookup(part.charset_label))
    if part.subtype == "html":
        return document(inert(text))
    style = "white-space:pre-wrap;font:13px monospace"
    return document(f'<pre style="{style}">{escape(text)}</pre>')


def header_block(raw: bytes) -> headers.HeaderBlock:
    """The top-level header block alone (the body is not parsed: cheap for any size)."""
    block, _, _ = headers.parse(raw, 0, len(raw))
    return block


def shown(field: headers.Field) -> str:
    """One header field as a line people read: `Name: value`, unfolded, RFC 2047-decoded,
    a very long value cut short."""
    value = field.decoded() if field.name else field.raw.decode("utf-8", "replace").strip()
    value = value.replace("\r", " ").replace("\n", " ")
    if len(value) > _SHOWN_VALUE:
        value = value[:_SHOWN_VALUE] + f"\u2026 ({len(value) - _SHOWN_VALUE} more characters)"
    return f"{field.name}: {value}" if field.name else value


def header_diff(before: headers.HeaderBlock, after: headers.HeaderBlock) -> list[str]:
    """The header fields removed (-) and added (+), with one field of context, shown
    decoded. Fields are compared by their bytes; only those in the diff are decoded."""
    fields = {f"{index}:{side}": field for side, block in (("a", before), ("b", after))
              for index, field in enumerate(block)}
    keys = {key: field.raw.decode("latin-1") for key, field in fields.items()}
    by_raw = {raw: key for key, raw in keys.items()}
    old = [keys[f"{n}:a"] for n in range(len(before.fields))]
    new = [keys[f"{n}:b"] for n in range(len(after.fields))]
    lines = []
    for line in difflib.unified_diff(old, new, lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            lines.append(line)
        else:
            lines.append(line[0] + shown(fields[by_raw[line[1:]]]))
    return lines


def fields(block: headers.HeaderBlock, *names: str) -> list[str]:
    """Decoded header values ('' when absent)."""
    found = [block.field(name) for name in names]
    return [f.decoded() if f else "" for f in found]
