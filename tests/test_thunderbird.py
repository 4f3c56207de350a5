"""The warning in the real mail client: Thunderbird 153 shows the rewritten .eml.

Thunderbird (tests/panes/thunderbird.py) opens each output in its standalone message
window, its message pane 900x700; the judgement is the one every engine gets
(tests/judge.py): the first warning in the pane where it sits when shown alone, nothing
of the sender's above it, its pixels those of its clean rendering, the footer likewise,
and every word the original showed still shown. Thunderbird shows every inline part of
a message, so here the order of parts matters too: the MIME-order attacks of
tests/mime_order_attacks.py, the CSS catalogue of tests/banner_attacks.py, and every
HTML message of the shared corpus.

A word counts as shown by the original when Firefox ESR (the same engine, as a plain
browser) shows it in the original's HTML body too: a sender rule that only reaches
Thunderbird's own markup around the body is no content the guard must keep.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mimeops.flow import Result
from mimeops.mime import Message
from mimeops.mime import wrap as wrap_module
from tests.banner_attacks import ATTACKS as CSS_ATTACKS
from tests.banner_attacks import FOOTER_ATTACKS, FOOTER_INSIDE, LAYOUTS
from tests.invariants import leaves
from tests.judge import ENVELOPE, FLOW, build, corpus_cases, judge, judging
from tests.mime_order_attacks import ATTACKS, CONTROLS, SIGNED_PHISH
from tests.panes import Pane, html_of
from tests.panes.batch import Batch, Job

pytestmark = pytest.mark.browser


def _order_attack(gecko: Pane) -> Callable[[dict[str, Any]], Job]:
    return lambda params: lambda pane: judging(pane, params["raw"], baseline=gecko)


@pytest.mark.parametrize(("name", "why", "raw"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_mime_order_attack(thunderbird_batch: Batch, gecko: Pane,
                           request: pytest.FixtureRequest, name: str, why: str,
                           raw: bytes) -> None:
    assert thunderbird_batch.verdict(request, _order_attack(gecko)) == [], why


@pytest.mark.parametrize(("name", "why", "raw"), CONTROLS, ids=[c[0] for c in CONTROLS])
def test_a_body_that_comes_first_gets_no_part_in_front(thunderbird: Pane, gecko: Pane,
                                                       name: str, why: str,
                                                       raw: bytes) -> None:
    out = FLOW.apply(raw, ENVELOPE).message
    assert len(leaves(Message(out).root)) == len(leaves(Message(raw).root)), why
    assert judge(thunderbird, raw, baseline=gecko) == [], why


def test_the_judge_sees_a_banner_pushed_down(thunderbird: Pane, gecko: Pane,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the part in front, the tall image comes first: the judge can fail."""
    monkeypatch.setattr(Message, "shown_before_body", lambda self: None)
    problems = judge(thunderbird, dict((a[0], a[2]) for a in ATTACKS)["image-first"],
                     baseline=gecko)
    assert any("not first" in p or "painted above" in p for p in problems), problems


def test_the_judge_sees_an_attached_message_hide_the_banner(
        thunderbird: Pane, gecko: Pane, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the wrap, a forwarded message's stylesheet hides the banner in the page
    Thunderbird builds around it: the judge can fail."""
    monkeypatch.setattr(Message, "unconfined", lambda self: [])
    attacks = dict((a[0], a[2]) for a in ATTACKS)
    for name in ("forward-stylesheet", "octet-stream-html"):
        problems = judge(thunderbird, attacks[name], baseline=gecko)
        assert any("banner" in p for p in problems), (name, problems)


def test_signed_phish_is_wrapped_as_a_file(thunderbird: Pane, gecko: Pane) -> None:
    """`protected: wrap` on a signed phish whose HTML hides the text parts: the original
    goes as an .eml file, the banner is first and the file is listed."""
    out = Message(FLOW.apply(SIGNED_PHISH, ENVELOPE).message).root.children
    assert out is not None and out[1].ctype == "application/octet-stream"
    assert judge(thunderbird, SIGNED_PHISH, baseline=gecko) == []


def test_the_judge_sees_a_wrapped_message_hide_the_banner(
        thunderbird: Pane, gecko: Pane, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attached as message/rfc822, the same phish hides the banner: the judge can fail."""
    monkeypatch.setattr(wrap_module, "draws_html", lambda root: False)
    out = Message(FLOW.apply(SIGNED_PHISH, ENVELOPE).message).root.children
    assert out is not None and out[1].ctype == "message/rfc822"
    problems = judge(thunderbird, SIGNED_PHISH, baseline=gecko)
    assert any("banner" in p for p in problems), problems


def _css_attack(gecko: Pane) -> Callable[[dict[str, Any]], Job]:
    def job(params: dict[str, Any]) -> Job:
        name, markup = params["name"], params["markup"]
        return lambda pane: judging(pane, build(markup, "tb-" + name),
                                    footer=name not in FOOTER_INSIDE, baseline=gecko)
    return job


@pytest.mark.parametrize(("name", "why", "markup"), CSS_ATTACKS,
                         ids=[a[0] for a in CSS_ATTACKS])
def test_banner_withstands_in_thunderbird(thunderbird_batch: Batch, gecko: Pane,
                                          request: pytest.FixtureRequest, name: str,
                                          why: str, markup: str) -> None:
    assert thunderbird_batch.verdict(request, _css_attack(gecko)) == [], why


@pytest.mark.parametrize(("name", "why", "markup"), FOOTER_ATTACKS + LAYOUTS,
                         ids=[a[0] for a in FOOTER_ATTACKS + LAYOUTS])
def test_footer_and_layout_in_thunderbird(thunderbird_batch: Batch, gecko: Pane,
                                          request: pytest.FixtureRequest, name: str,
                                          why: str, markup: str) -> None:
    assert thunderbird_batch.verdict(request, _css_attack(gecko)) == [], why


def _warned_html(raw: bytes, result: Result) -> bool:
    """An HTML message the recipe rewrites (not a signed one it leaves alone under
    `protected: headers`: that gets the subject tag only)."""
    return html_of(raw) is not None and result.changed and result.skipped is None


def _corpus(gecko: Pane) -> Callable[[dict[str, Any]], Job]:
    return lambda params: lambda pane: judging(pane, params["path"].read_bytes(),
                                               baseline=gecko)


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_cases(_warned_html))
def test_corpus_banner_first_in_thunderbird(thunderbird_batch: Batch, gecko: Pane,
                                            request: pytest.FixtureRequest,
                                            path: Path) -> None:
    assert thunderbird_batch.verdict(request, _corpus(gecko)) == []
