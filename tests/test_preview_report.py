"""The `mimeops preview --report` page in a real browser (headless Chromium, tests/browser.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mimeops.cli import main
from mimeops.preview.report import EAGER_PAIRS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
WARNING = ROOT / "examples" / "flows" / "external-warning.yaml"
EVENTS = ROOT / "events" / "messages"
TESTS = ROOT / "tests" / "messages"
BANNER = "CAUTION: This email came from outside the organization"

HOSTILE = b"""From: "Mallory <b>bold</b>" <mallory@outside.example.net>
To: bob@example.com
Subject: =?utf-8?q?Pay_now_<script>alert(1)</script>_"&amp;'?=
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/refresh">
<link rel="stylesheet" href="http://127.0.0.1:9/style.css">
<style>@import url(http://127.0.0.1:9/import.css); body{background:url('http://127.0.0.1:9/bg.png')}
</style></head><body onload="parent.document.title='pwned'">
<script>parent.document.title = 'pwned'; top.location = 'http://127.0.0.1:9/x';</script>
<img src="http://127.0.0.1:9/track.png" onerror="parent.document.title='pwned'">
<img srcset="http://127.0.0.1:9/a.png 2x"><iframe src="http://127.0.0.1:9/frame"></iframe>
<video poster="//127.0.0.1:9/p.png"></video><table background="http://127.0.0.1:9/t.png">
<tr><td>cell</td></tr></table><svg><image href="http://127.0.0.1:9/svg.png"/></svg>
<p>Hello "'</iframe></textarea>--> Bob</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="inline">
</body></html>
"""


@pytest.fixture
def mailbox_folder(tmp_path: Path) -> Path:
    root = tmp_path / "mail"
    root.mkdir()
    for source in (*EVENTS.glob("*.eml"), *TESTS.glob("*.eml")):
        shutil.copy(source, root / source.name)
    (root / "hostile <b>&amp;\".eml").write_bytes(HOSTILE)
    return root


def report_for(tmp_path: Path, *paths: Path, flow: Path = WARNING) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "report.html"
    assert main(["preview", "--config", str(flow), "--report", str(out),
                 *map(str, paths)]) == 0
    return out.read_text(encoding="utf-8"), {}


@pytest.fixture
def js_page(browser: Any) -> Iterator[Any]:
    """A page with JavaScript on (the report's filters), network off; requests recorded."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, offline=True)
    requests: list[str] = []

    def refuse(route: Any) -> None:
        requests.append(route.request.url)
        route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    page.requests = requests
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    try:
        yield page
    finally:
        context.close()


def entry(page: Any, label_part: str) -> Any:
    return page.locator("section.msg", has=page.locator("h2", has_text=label_part))


def test_report_renders_before_and_after_with_the_banner(
        js_page: Any, mailbox_folder: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    html, _ = report_for(tmp_path, mailbox_folder)
    tally = json.loads(capsys.readouterr().out.splitlines()[-1])
    js_page.set_content(html)
    assert js_page.locator("section.msg").count() == tally["messages"] == 7
    external = entry(js_page, "external.eml")
    after = external.frame_locator("iframe.after").locator("body")
    before = external.frame_locator("iframe.before").locator("body")
    assert BANNER in after.inner_text()
    assert BANNER not in before.inner_text() and before.inner_text().strip()
    diff = external.locator("pre.diff").inner_text()
    assert "+Subject: [EXTERNAL]" in diff and "-Subject:" in diff
    assert "+X-External-Sender: m.dupont@partner.example.net" in diff
    box = external.locator("iframe.after").bounding_box()
    assert box is not None and box["height"] > 200
    # unchanged, skipped: listed with why, no preview pair
    internal = entry(js_page, "internal.eml")
    assert internal.locator("iframe").count() == 0
    assert "unchanged" in internal.locator("h2").inner_text()
    signed = entry(js_page, "external-signed.eml")
    assert "signed message (multipart/signed)" in signed.inner_text()
    assert js_page.problems == [] and js_page.requests == []


def test_hostile_message_cannot_run_script_fetch_or_break_out(
        js_page: Any, mailbox_folder: Path, tmp_path: Path) -> None:
    html, _ = report_for(tmp_path, mailbox_folder)
    js_page.set_content(html)
    title = js_page.title()
    hostile = entry(js_page, "hostile <b>&amp;\".eml")
    assert hostile.count() == 1  # the file name shown as text, not markup
    assert "Pay now <script>alert(1)</script>" in hostile.locator("dl").inner_text()
    assert 'Mallory <b>bold</b>' in hostile.locator("dl").inner_text()
    after = hostile.frame_locator("iframe.after")
    assert BANNER in after.locator("body").inner_text()
    assert "cell" in after.locator("body").inner_text()
    assert after.locator("img[alt=inline]").count() == 1
    js_page.wait_for_timeout(300)  # a meta refresh or onload would have fired by now
    assert js_page.title() == title != "pwned"
    assert js_page.requests == [] and js_page.problems == []
    for frame in js_page.locator("iframe").all():
        assert frame.get_attribute("sandbox") == ""
        assert frame.get_attribute("src") is None


def test_filters_by_status_rule_and_text(js_page: Any, mailbox_folder: Path,
                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(WARNING.read_text() + """\
  - name: trial-junk
    mode: audit
    when: {direction: INBOUND, header: {Subject: "(?i)rechnung|invoice"}}
    action: MOVE_TO_JUNK
""")
    html, _ = report_for(tmp_path, mailbox_folder, flow=flow)
    tally = json.loads(capsys.readouterr().out.splitlines()[-1])
    js_page.set_content(html)
    visible = js_page.locator("section.msg:visible")
    assert visible.count() == 7 and js_page.inner_text("#shown") == "7"
    js_page.select_option("#status", "changed")
    assert visible.count() == tally["changed"] == int(js_page.inner_text("#shown"))
    js_page.select_option("#status", "skipped")
    assert visible.count() == sum(tally["skipped"].values()) >= 1
    js_page.select_option("#status", "")
    js_page.select_option("#rule", "trial-junk")
    assert visible.count() == tally["audited"]["trial-junk"] >= 1
    assert "trial-junk:MOVE_TO_JUNK" in visible.first.inner_text()
    js_page.select_option("#rule", "")
    js_page.fill("#q", "HOSTILE")
    assert visible.count() == 1
    js_page.fill("#q", "")
    assert visible.count() == 7
    assert js_page.problems == []


def test_later_previews_appear_when_scrolled_into_view(
        js_page: Any, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(EAGER_PAIRS + 3):
        shutil.copy(EVENTS / "external.eml", folder / f"m{n:03}.eml")
    html, _ = report_for(tmp_path, folder)
    js_page.set_content(html)
    assert js_page.locator("iframe.after").count() < EAGER_PAIRS + 3
    last = entry(js_page, f"m{EAGER_PAIRS + 2:03}.eml")
    last.scroll_into_view_if_needed()
    frame = last.frame_locator("iframe.after").locator("body")
    assert BANNER in frame.inner_text()
    assert js_page.problems == []


def test_report_is_readable_without_javascript(page: Any, mailbox_folder: Path,
                                               tmp_path: Path) -> None:
    html, _ = report_for(tmp_path, mailbox_folder)
    page.set_content(html)
    assert page.locator("section.msg:visible").count() == 7
    after = entry(page, "external.eml").frame_locator("iframe.after").locator("body")
    assert BANNER in after.inner_text()


def test_past_the_limit_changed_messages_keep_their_header_diff_only(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mimeops.preview import report

    monkeypatch.setattr(report, "MAX_PAIRS", 1)
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.eml", "b.eml"):
        shutil.copy(EVENTS / "external.eml", folder / name)
    html, _ = report_for(tmp_path, folder)
    assert html.count('class="after"') == 1 and html.count('<pre class="diff">') == 2
    assert "before/after shown for the first 1 changed messages" in html


def test_a_paged_report_is_navigable_and_each_page_filters(
        browser: Any, mailbox_folder: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mimeops.preview import report as module

    monkeypatch.setattr(module, "PAGE_SIZE", 2)
    out = tmp_path / "report.html"
    assert main(["preview", "--config", str(WARNING), "--report", str(out),
                 str(mailbox_folder)]) == 0
    context = browser.new_context(viewport={"width": 1200, "height": 800}, offline=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(out.as_uri())
        assert page.locator("table.counts").is_visible()
        page.click("text=page 1 (2)", strict=False)  # the first group's first page
        assert page.url.endswith("-pages/error-1.html") or "-pages/changed-1.html" in page.url
        page.goto(out.as_uri())
        page.locator("a[href$='changed-1.html']").click()
        sections = page.locator("section.msg")
        assert sections.count() == 2
        assert any(BANNER in sections.nth(n).frame_locator("iframe.after").locator(
            "body").inner_text() for n in range(2))
        page.select_option("#status", "error")
        assert page.locator("section.msg:visible").count() == 0
        page.click("a[rel=next]")
        assert page.url.endswith("changed-2.html")
        page.click("text=index")
        assert page.url == out.as_uri()
        assert problems == []
    finally:
        context.close()
