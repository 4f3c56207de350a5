"""The browser set-up itself: Chromium renders a page with JavaScript and network off."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_chromium_renders_text_without_javascript_or_network(page: Any) -> None:
    page.set_content("<p id=t>hello</p><script>document.getElementById('t').textContent='js'"
                     "</script><img src='http://127.0.0.1:9/x.png'>")
    assert page.inner_text("#t") == "hello"  # the script did not run
    box = page.locator("#t").bounding_box()
    assert box is not None and box["height"] > 0
