"""The guard without a browser: where HTML5 puts the body, how sender CSS is confined, and
what a guarded corpus message keeps (the browser suite checks what a reader sees)."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
import tinycss2
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mimeops import Envelope, load_flow
from mimeops.flow import marker
from mimeops.mime import Message, charset, guard, transfer
from mimeops.mime.css_scope import scope
from mimeops.mime.html5 import closing_tags, outline
from tests.conftest import corpus_params
from tests.invariants import check_structure
from tests.mime_strategies import messages

TOKEN = "abcdefghijklmnopqrstuvwx"
IDS = guard.names(TOKEN)
BANNER = "<div>BANNER</div>"
FOOTER = "<p>FOOTER</p>"


def banner_point(markup: str) -> int:
    return outline(markup).body_point


@pytest.mark.parametrize(("markup", "before"), [
    ("<html><body><p>x</p>", "<p>x"),
    ("<!DOCTYPE html><!-- c --><p>x</p>", "<p>x"),
    ("Hello<html><body><p>x</p>", "Hello"),  # text before <html> opens the body
    ("<html><head><div>d</div></head><body>", "<div>d"),  # an element in the head
    ("<html><head><title>a<body>b</title></head><body>x", "x"),  # RCDATA
    ("<head><!--></head><body>x", "x"),  # abrupt comment: <!--> is a whole comment
    ("<head><!---><p>x</p>", "<p>x"),
    ("<head><!-- a --!><p>x</p>", "<p>x"),  # --!> ends a comment too
    ("<head><template><body><p>t</p></template></head><p>x</p>", "<p>x"),
    ("<head><noscript><style>a{}</style></noscript><p>x</p>", "<p>x"),
    ("<head><noscript><p>n</p></noscript></head>", "<p>n"),
    ("<head><script><!--<script></script><body>--></script><p>x</p>", "<p>x"),
    ("<head><style><body></style></head><body>x", "x"),
    ("<html><head></head>\n  <body class=a>x</body>", "x"),
    ("<html><head></head>\n  x", "x"),
    ("<html>\n<!--[if mso]><body class=o><![endif]-->\n<body class=r>x", "x"),
    ("<html><head></head><![if !mso]><body class=w><![endif]>x", "<![endif]>x"),
    ("\xef\xbb\xbf<!DOCTYPE html><p>x", "<p>x"),  # a UTF-8 byte order mark stays first
])
def test_banner_point_is_where_html5_starts_the_body(markup: str, before: str) -> None:
    at = banner_point(markup)
    assert markup[at:].startswith(before), markup[at:]


def test_styles_and_switches_found_as_html5_tokenizes() -> None:
    markup = ("<head><style>a{}</style><link rel=stylesheet href=x></head><body>"
              "<svg><style>b{}</style><foreignObject><style>c{}</style></foreignObject></svg>"
              "<!--<style>d{}</style>--><textarea><style>e{}</style></textarea>"
              "<svg><p>out</p><style>f{}</style>")
    shape = outline(markup)
    assert [markup[a:b] for a, b in shape.styles] == ["a{}", "c{}", "f{}"]
    assert [markup[a - 6:a] for a in shape.inert] == ["<style"]
    assert [markup[a - 5:a] for a in shape.links] == ["<link"]


def test_outlook_only_stylesheets_are_confined_too() -> None:
    markup = ('<head><!--[if mso]><style>div{mso-hide:all}</style><![endif]-->'
              '<!--[if !mso]><!--><style>p{}</style><!--<![endif]--></head><body>x')
    out = guard.insert(markup, TOKEN, BANNER, None)
    assert f"<style>#{IDS.wrapper} div{{mso-hide:all}}</style><![endif]-->" in out
    assert f"<style>#{IDS.wrapper} p{{}}</style><!--<![endif]-->" in out


@pytest.mark.parametrize(("markup", "closer"), [
    ("<p>x<textarea>y", "</textarea>"),
    ("<p>x<style>y", "</style>"),
    ("<p>x<script><!--<script>", "--></script>"),
    ("<svg><![CDATA[<style>x{}</style>", "]]>"),
])
def test_raw_text_left_open_is_closed(markup: str, closer: str) -> None:
    assert outline(markup).closer == closer


def test_closing_tags_pop_what_is_left_open() -> None:
    markup = "<div><table><tr><td><b><p>x"
    assert closing_tags(markup, len(markup)) == ("</p>" + "</td></tr></table></div>" * 2,
                                                 "</b></b>")
    assert closing_tags("<div>a</div><p>b</p>", 20) == ("", "")


@pytest.mark.parametrize(("css", "expected"), [
    ("p{color:red}", "#W p{color:red}"),
    ("body>div:first-child{display:none}", "#W B>div:first-child{display:none}"),
    ("html body .x, :root p{margin:0}", "#W H B .x,#W H p{margin:0}"),
    ("@media screen{body{margin:0}}", "@media screen{#W B{margin:0}}"),
    ("@import url(x.css);p{a:b}", "#W p{a:b}"),
    ("@scope (html){p{a:b}}p{c:d}", "#W p{c:d}"),
    ("+ div{a:b}p{c:d}", "#W p{c:d}"),  # a leading combinator would reach our siblings
    ("p{content:'<\\/style><b>'}", "#W p{content:\"\\3c /style><b>\"}"),
    ('@font-face{font-family:"Arial";src:local(x)}', ""),
    ('@font-face{font-family:Mine;src:local(x)}', '@font-face{font-family:Mine;src:local(x)}'),
    ("@keyframes k{to{opacity:0}}", "@keyframes k{to{opacity:0}}"),
])
def test_sender_css_is_confined(css: str, expected: str) -> None:
    assert scope(css, "#W", "H", "B", reserved="font-family:arial") == expected


def test_guarded_html_keeps_everything_outside_stylesheets() -> None:
    markup = ('<!DOCTYPE html><html lang=en><head><style>body{margin:0}</style></head>'
              '<body style="color:red" class=k><div>one</div><div>two</div></body></html>')
    out = guard.insert(markup, TOKEN, BANNER, FOOTER)
    assert is_subsequence(without_styles(markup), without_styles(out))
    assert out.index(BANNER) < out.index("<div>one")
    assert f'<{IDS.body} class=k style="color:red">' in out or \
        f'<{IDS.body} style="color:red" class=k>' in out
    assert out.index("</body>") > out.index(FOOTER) > out.index(IDS.closing())


@pytest.mark.parametrize("web_body", [
    "<![if !mso]><body class=web><![endif]>",
    "<!--[if !mso]><!--><body class=web><!--<![endif]-->",
])
def test_outlook_gets_its_own_banner_when_the_body_starts_in_a_block_it_skips(
        web_body: str) -> None:
    markup = f"<html><head></head>{web_body}<!--[if mso]><body><![endif]--><p>x</p>"
    out = guard.insert(markup, TOKEN, BANNER, None)
    block_end = out.index("endif]", out.index(BANNER)) + len("endif]") + 1
    assert out.count(BANNER) == 2
    assert out[block_end:].lstrip("->").startswith("<!--[if mso]><div id=")
    assert out.index(BANNER, block_end) < out.index("<p>x")


class _Tags(HTMLParser):
    """Every start tag's attribute names, duplicates included (the stdlib reader)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def start_tags(markup: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    reader = _Tags()
    reader.feed(markup)
    reader.close()
    return reader.tags


@pytest.mark.parametrize(("markup", "tag", "attribute"), [
    ('<html><body style="margin:0" class=k><p>x', "body", "style"),
    ("<HTML STYLE=x lang=ja><body><p>x", "html", "style"),
    ("<html><body style=a STYLE='b'><p>x", "body", "style"),
    ('<head><link rel=stylesheet href="data:text/css,p{}"></head><p>x', "link", "rel"),
    ('<head><meta http-equiv=refresh content="0;url=x"></head><p>x', "meta", "http-equiv"),
    ("<p>x<svg><style type=text/css media=all>p{}</style></svg>", "style", "type"),
])
def test_tags_we_write_into_stay_well_formed(markup: str, tag: str, attribute: str) -> None:
    """Our attribute is the tag's only one of its name; the sender's keeps its bytes under
    a name of ours (issue 19: a second `style` on <body> was a malformed tag)."""
    out = guard.insert(markup, TOKEN, BANNER, FOOTER)
    (attrs,) = [attrs for name, attrs in start_tags(out)
                if name == tag and any(n.startswith(f"x-{IDS.wrapper}-") for n, _ in attrs)]
    names = [name for name, _ in attrs]
    assert names.count(attribute) == 1, names
    assert is_subsequence(without_styles(markup), without_styles(out))


def test_html_and_body_attributes_move_to_the_stand_ins() -> None:
    out = guard.insert('<html dir=rtl lang=ar style="color:red"><body class=k dir=rtl>'
                       "<p>x</p>", TOKEN, BANNER, None)
    assert f'<{IDS.html} dir=rtl lang=ar style="color:red">' in out
    assert f"<{IDS.body} class=k dir=rtl>" in out


def test_nul_becomes_what_a_parser_makes_of_it() -> None:
    """Thunderbird drops the rest of a line after a NUL: no NUL may precede our banner."""
    out = guard.insert("<html><head><!-- \0 --></head><body>\n--><p>x</p>", TOKEN,
                       BANNER, FOOTER)
    assert "\0" not in out
    assert "<!-- &#xFFFD; -->" in out


def test_banner_wrapper_and_footer_stand_in_a_column() -> None:
    out = guard.insert("<p>x</p>", TOKEN, BANNER, FOOTER)
    column = out.index(f'<{IDS.column} id="{IDS.column}"')
    assert column < out.index(BANNER) < out.index(f"<{IDS.wrapper} ") < out.index(FOOTER)
    assert out.endswith(FOOTER + "</div>" + IDS.column_end())
    assert "min-height:100vh!important" in out[column:out.index(">", column)]


def test_second_op_adds_to_the_guarded_body() -> None:
    once = guard.insert("<p>x</p>", TOKEN, BANNER, None)
    twice = guard.insert(once, TOKEN, None, FOOTER)
    assert twice.count(f"<{IDS.wrapper} ") == 1
    assert twice.index(BANNER) < twice.index("<p>x") < twice.index(FOOTER)
    assert twice.index(FOOTER) < twice.index(IDS.column_end())


def without_styles(markup: str) -> str:
    shape = outline(markup)
    out, pos = [], 0
    for start, end in shape.styles:
        out.append(markup[pos:start])
        pos = end
    out.append(markup[pos:])
    return "".join(out)


def is_subsequence(small: str, big: str) -> bool:
    """Whether `big` is `small` with only insertions (greedy, linear)."""
    it = iter(big)
    return all(ch in it for ch in small)


FLOW = load_flow(Path(__file__).resolve().parent.parent / "examples" / "flows"
                 / "external-warning.yaml", marker_key=b"corpus-test-key")
INBOUND = Envelope("INBOUND", "someone@outside.example.net", ["user@example.com"])


def decoded_html(raw: bytes) -> str | None:
    part = Message(raw).bodies().get("html")
    if part is None:
        return None
    data = transfer.decode(part.cte, part.body())
    text = charset.decode_lossless(data, charset.lookup(part.charset_label))[0]
    return text.replace("\r\n", "\n")  # line breaks may be re-encoded


@pytest.mark.parametrize("path", corpus_params())
def test_guarded_corpus_message_keeps_the_invariants(path: Path) -> None:
    raw = path.read_bytes()
    result = FLOW.apply(raw, INBOUND)
    if result.skipped:
        return
    check_structure(raw, result.message)
    before, after = decoded_html(raw), decoded_html(result.message)
    if before is None or after is None or before == after:
        return
    ids = guard.names(marker.token(b"corpus-test-key", Message(raw), "INBOUND"))
    # Only insertions outside the sender's stylesheets ...
    assert is_subsequence(without_styles(before), without_styles(after))
    # ... the banner first in the body as HTML5 reads the result ...
    assert after[outline(after).body_point:].startswith(f'<style id="{ids.wrapper}s">')
    # ... and every sender rule confined to the wrapper.
    for start, end in outline(after).styles:
        if after[:start].endswith(f'<style id="{ids.wrapper}s">'):
            continue
        for rule in tinycss2.parse_stylesheet(after[start:end], skip_comments=True,
                                              skip_whitespace=True):
            if rule.type == "qualified-rule":
                for selector in tinycss2.serialize(rule.prelude).split(","):
                    assert selector.startswith(f"#{ids.wrapper} "), selector
    again = FLOW.apply(result.message, INBOUND)
    assert not again.changed and again.message is result.message


FRAGMENTS = [
    "<!DOCTYPE html>", "<html>", "<HTML lang=en>", "<head>", "</head>", "<body>",
    '<body style="opacity:0">', "</body>", "</html>", "text", " ", "\n", "<p>para</p>",
    "<div>", "</div>", "<!-- c -->", "<!-->", "<!--->", "<!--", "-->", "--!>",
    "<style>p{color:red}body>div{display:none}</style>", "<style>", "</style>",
    "<svg>", "</svg>", "<svg><style>x{}</style></svg>", "<math><mtext>", "<foreignObject>",
    "<template>", "</template>", "<script><!--<script>", "</script>", "<textarea>",
    "</textarea>", "<title>t</title>", "<noscript>", "</noscript>", "<![if !mso]>",
    "<![endif]>", "<!--[if mso]>", "<![endif]-->", "<!--[if !mso]><!-->", "<!--<![endif]-->",
    "<![CDATA[", "]]>", "<table><tr><td>", "<select>", '<a href="x', '">', "<plaintext>",
    "<link rel=stylesheet href=x>", "<meta http-equiv=refresh content=0>", "\ufeff", "<",
    "</", "<p", ">", "<br/>", "<input autofocus>", "é", "<style>@import url(x);</style>",
    "<font color=red>", "<b>", "<a href=x>", "</a>", "<xmp>", "</xmp>", "<noembed>",
    "<iframe>", "</iframe>", "<desc>", "<mi>", '<annotation-xml encoding="text/html">',
    "<frameset>", "</p>", "<object>", "<li>", "<h1>", "<button>", "<form>", "<image>",
]


@settings(max_examples=int(os.environ.get("MIMEOPS_FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join))
# The body begins in <![if !mso]> whose end sits inside a comment the sender left open:
# Outlook's copy of the banner there ended that comment, and a <style> it hid came alive.
@example("<![if !mso]><body><!--<![endif]><style>@import url(x);</style>")
def test_guard_on_any_markup(markup: str) -> None:
    out = guard.insert(markup, TOKEN, BANNER, None)
    assert is_subsequence(without_styles(markup), without_styles(out))
    # By our own HTML5 reading of the result, our stylesheet and banner open the body.
    assert out[outline(out).body_point:].startswith(f'<style id="{IDS.wrapper}s">')
    both = guard.insert(out, TOKEN, None, FOOTER)
    assert both.count(f'<{IDS.wrapper} id="{IDS.wrapper}"') == 1
    assert both.count(FOOTER) == 1
    # Every tag we wrote our style into carries one style attribute.
    for _, attrs in start_tags(out):
        if ("style", guard.PAGE_STYLE) in attrs:
            assert [name for name, _ in attrs].count("style") == 1, attrs


def test_bidi_controls_in_a_sender_value_cannot_reorder_the_banner() -> None:
    from mimeops.mail.template import Template
    banner = Template("<b>{sender}</b> is outside", "t")
    shown = banner.render({"sender": "x\u202eevil@example.com\u2066"}, escape_html=True)
    assert shown == "<b>xevil@example.com</b> is outside"


@pytest.mark.parametrize("css", [
    "a{" * 100_000,                    # a recursion error in any CSS parser written as ours
    "p{x:" + "[" * 50_000 + "}",
    "p{color:red}" * 20_000,           # past the per-message parsing budget
], ids=["nested-blocks", "nested-brackets", "over-budget"])
def test_pathological_css_is_dropped_not_fatal(css: str) -> None:
    out = guard.insert(f"<style>{css}</style><p>x", TOKEN, BANNER, None)
    assert "<style></style>" in out and BANNER in out


@pytest.mark.parametrize("markup", [
    "<head>" + "<meta a=b>" * 40_000 + "<style>div{display:none}</style></head><p>x",
    "<p>x<svg>" + "<g>" * 40_000 + "<style>div{display:none}</style>",
], ids=["long-head", "long-foreign-content"])
def test_markup_built_to_be_slow_is_read_conservatively(markup: str) -> None:
    shape = outline(markup)
    assert shape.degraded
    out = guard.insert(markup, TOKEN, BANNER, FOOTER)
    assert out[outline(out).body_point:].startswith(f'<style id="{IDS.wrapper}s">')
    assert '<style type="text/x-mimeops-off" media="not all">div{display:none}' in out
    assert out.endswith(FOOTER + "</div>" + IDS.column_end())


@settings(max_examples=int(os.environ.get("MIMEOPS_FUZZ_EXAMPLES", "300")), deadline=None)
@given(messages())
def test_every_html_part_a_client_shows_is_guarded(generated) -> None:  # type: ignore[no-untyped-def]
    """Thunderbird renders every shown part into one document: each HTML part's
    stylesheet is confined, not only the body's (the banner's own part is first)."""
    result = FLOW.apply(generated.raw, INBOUND)
    if result.skipped or not result.changed:
        return
    check_structure(generated.raw, result.message)
    ids = guard.names(marker.token(b"corpus-test-key", Message(generated.raw), "INBOUND"))
    out = Message(result.message)
    for part in out.shown_html():
        if charset.ascii_transparent(charset.lookup(part.charset_label)):
            assert f'<{ids.wrapper} id="{ids.wrapper}"'.encode() in part.decoded()
    assert out.shown_before_body() is None
    again = FLOW.apply(result.message, INBOUND)
    assert not again.changed and again.message is result.message
