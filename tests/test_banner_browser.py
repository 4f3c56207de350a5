"""The external-warning banner in every browser engine: visible and first, whatever the
sender writes, and the sender's content kept.

Each message (a catalogue attack from tests/banner_attacks.py, a sender layout, or an
HTML message of the shared corpus) goes through the external-warning recipe plus a
footer, and each engine a mail client uses renders its HTML body: Chromium, Gecko
(Firefox ESR) and WebKit (WebKitGTK), JavaScript and network off, a 900x700 pane. The
judgement is tests/judge.py, the same in every engine (and in Thunderbird,
tests/test_thunderbird.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mimeops.flow import Result
from mimeops.mime import Message, guard
from tests.banner_attacks import ATTACKS, FOOTER_ATTACKS, FOOTER_INSIDE, LAYOUTS
from tests.judge import build, corpus_cases, judge, judging, recipe_flow
from tests.panes import Pane
from tests.panes.batch import Batch, Job
from tests.test_guard import BANNER, FRAGMENTS, TOKEN

pytestmark = pytest.mark.browser


def _attack(params: dict[str, Any]) -> Job:
    name, markup = params["name"], params["markup"]
    return lambda pane: judging(pane, build(markup, name), footer=name not in FOOTER_INSIDE)


def _named(prefix: str) -> Callable[[dict[str, Any]], Job]:
    return lambda params: lambda pane: judging(
        pane, build(params["markup"], prefix + params["name"]))


@pytest.mark.parametrize(("name", "why", "markup"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_banner_withstands(batch: Batch, request: pytest.FixtureRequest, name: str, why: str,
                           markup: str) -> None:
    assert batch.verdict(request, _attack) == [], why


@pytest.mark.parametrize(("name", "why", "markup"), FOOTER_ATTACKS,
                         ids=[a[0] for a in FOOTER_ATTACKS])
def test_footer_withstands(batch: Batch, request: pytest.FixtureRequest, name: str, why: str,
                           markup: str) -> None:
    assert batch.verdict(request, _named("footer-")) == [], why


@pytest.mark.parametrize(("name", "why", "markup"), LAYOUTS, ids=[a[0] for a in LAYOUTS])
def test_sender_layout_is_kept(batch: Batch, request: pytest.FixtureRequest, name: str,
                               why: str, markup: str) -> None:
    assert batch.verdict(request, _named("layout-")) == [], why


def test_the_judge_fails_an_unguarded_banner(pane: Pane) -> None:
    """Without the guard the same catalogue hides the banner: the judge can fail."""
    unguarded = recipe_flow(guarded=False)
    failed = sum(bool(judge(pane, build(markup, name), unguarded))
                 for name, _, markup in ATTACKS[:6])
    assert failed >= 5


def _html_changed(raw: bytes, result: Result) -> bool:
    before, after = Message(raw).bodies().get("html"), Message(result.message).bodies().get("html")
    return before is not None and after is not None and after.body() != before.body()


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_cases(_html_changed))
def test_corpus_banner_visible_and_first(batch: Batch, request: pytest.FixtureRequest,
                                         path: Path) -> None:
    assert batch.verdict(request, _corpus) == []


def _corpus(params: dict[str, Any]) -> Job:
    raw = params["path"].read_bytes()
    return lambda pane: judging(pane, raw)


# The parser differential: for random tricky markup, the engine's own tree must have our
# stylesheet and the banner's column as the body's only children, the banner and the
# wrapper first in it, with no text before them (the engine, not our scanner, decides).
STRUCTURE = """function (doc, arg) {
  const kids = node => Array.from(node.childNodes).filter(
      n => n.nodeType !== 8 && !(n.nodeType === 3 && !n.textContent.trim()))
    .map(n => n.nodeType === 3 ? "#text" : (n.id || n.localName));
  const body = doc.body;
  if (!body) return "no body";
  const column = doc.getElementById(arg);
  return kids(body).join(" ") + " | " + (column ? kids(column).join(" ") : "-");
}"""


@settings(max_examples=int(os.environ.get("MIMEOPS_BROWSER_FUZZ", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join))
# A stray end tag before the link it seems to close: the link stayed open after our end
# tags (counted without order, they cancelled out) and the parser re-opened it there.
@example("</a><a href=x> ")
def test_engine_puts_banner_first_in_any_markup(pane: Pane, markup: str) -> None:
    ids = guard.names(TOKEN)
    pane.show_html(guard.insert(markup, TOKEN, BANNER, None))
    found = pane.run(STRUCTURE, ids.column)
    assert found == f"{ids.wrapper}s {ids.column} | {ids.banner} {ids.wrapper}", (markup, found)
