"""Finding web addresses in text, and writing them so that nothing makes them a link."""

from __future__ import annotations

import re

# http(s):// and what follows up to white space, a quote or an angle bracket: in plain
# text and in HTML alike (attribute values included).
URL = re.compile(r"""\b(https?)://([^\s"'<>/?#]+)([^\s"'<>]*)""", re.IGNORECASE)


def defang(text: str, scheme: str) -> str:
    """Every http(s) address in `text` written as `hxxp://example[.]com/...`: mail
    clients no longer link it, people can still read (and copy) it."""

    def one(match: re.Match[str]) -> str:
        secure = "s" if match.group(1).lower() == "https" else ""
        host = match.group(2).replace(".", "[.]")
        return f"{scheme}{secure}://{host}{match.group(3)}"

    return URL.sub(one, text)
