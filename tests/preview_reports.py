"""Reading a `mimeops preview --report` back: what its entries say, page by page."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path


def pages(path: Path) -> list[Path]:
    """The report file and its pages (when it has any), in order."""
    return [path, *sorted(path.with_name(f"{path.stem}-pages").glob("*.html"))]


def report_entries(path: Path) -> Counter[tuple[str, ...]]:
    """What each message's entry says, without its label: flags, rules, facts, diff."""
    found: Counter[tuple[str, ...]] = Counter()
    for page in pages(path):
        for section in re.findall(r'<section class="msg".*?</section>', page.read_text(), re.S):
            flags, rules = re.search(r'data-flags="([^"]*)" data-rules="([^"]*)"',
                                     section).groups()  # type: ignore[union-attr]
            facts = re.search(r"<dl>(.*?)</dl>", section, re.S)
            diff = re.search(r'<pre class="diff">(.*?)</pre>', section, re.S)
            found[(flags, rules, facts.group(1) if facts else "",
                   diff.group(1) if diff else "")] += 1
    return found
