"""A catalogue of ways a sender's HTML/CSS tries to hide, shrink, recolour, move, cover or
reorder an external-sender banner (and footer), as data for tests/test_banner_browser.py.

Each entry is (name, what it tries, the sender's HTML). Sources: the SySS "phishing
banner" study, Hoxhunt's write-up on hiding Microsoft 365 warnings, the HTML5 parsing
spec (where a naive scanner and a browser disagree), and our own probing. Every message
also carries ORIGINAL, text the reader must still see.
"""

from __future__ import annotations

ORIGINAL = "Please review the attached invoice before Friday."
_P = f"<p>{ORIGINAL}</p>"


def _doc(style: str = "", body: str = _P, body_attrs: str = "", head: str = "") -> str:
    css = f"<style>{style}</style>" if style else ""
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8>{head}{css}</head>"
            f"<body{body_attrs}>{body}</body></html>")


FIXED_COVER = ("position:fixed;top:0;left:0;width:100%;height:160px;background:#fff;"
               "z-index:2147483647")

ATTACKS: list[tuple[str, str, str]] = [
    ("first-child", "hide the body's first element",
     _doc("body>div:first-child{display:none!important}")),
    ("banner-colour-selector", "select the banner by its own inline colour",
     _doc('div[style*="c00000"],div[style*="fff4f4"]{display:none!important}')),
    ("font-size-zero", "shrink every text to nothing",
     _doc("div,b,span{font-size:0!important;line-height:0!important}")),
    ("white-on-white", "recolour everything white",
     _doc("*{color:#fff!important;background:#fff!important;border-color:#fff!important}")),
    ("opacity", "make divs transparent", _doc("div{opacity:0!important}")),
    ("visibility", "hide all, show own text",
     _doc("*{visibility:hidden!important}p{visibility:visible!important}")),
    ("body-negative-margin", "pull the body up over the top",
     _doc("body{margin-top:-300px!important}")),
    ("html-transform", "translate the whole page up",
     _doc("html{transform:translateY(-200px)!important}")),
    ("fixed-overlay", "a white fixed box over the top",
     _doc(body=f'<div style="{FIXED_COVER}">Secure message</div>{_P}')),
    ("absolute-overlay", "a white absolute box over the top",
     _doc(body='<div style="position:absolute;top:0;left:0;right:0;height:160px;'
          f'background:#fff;z-index:99999">Verified sender</div>{_P}')),
    ("body-before", "a fixed ::before over the top",
     _doc('body::before{content:"";position:fixed;top:0;left:0;right:0;height:160px;'
          "background:#fff;z-index:2147483647}")),
    ("flex-column-reverse", "reorder the body's children",
     _doc("body{display:flex!important;flex-direction:column-reverse!important}")),
    ("flex-order", "send the first child last",
     _doc("body{display:flex;flex-direction:column}body>*:first-child{order:99}")),
    ("grid-placement", "place the first child in a far row",
     _doc("body{display:grid}body>*:first-child{grid-row:50}")),
    ("animation-fade", "fade it out with an animation",
     _doc("@keyframes gone{to{opacity:0;transform:scale(0)}}"
          "div{animation:gone 1ms forwards!important}")),
    ("starting-style", "a never-ending transition from invisible",
     _doc("div{transition:opacity 99999s,color 99999s}"
          "@starting-style{div{opacity:0;color:#fff}}")),
    ("abrupt-comment", "<!--> ends a comment at once in HTML5, not in naive scanners",
     '<!DOCTYPE html><html><head><!--></head><body><style>body>*:first-child,'
     f'body>div{{display:none!important}}</style>{_P}<!-- --></body></html>'),
    ("abrupt-comment-dash", "<!---> as well",
     f"<!DOCTYPE html><html><!---><body>{_P}<style>div{{display:none!important}}</style>"
     "</body><!-- --></html>"),
    ("template-body", "a <body> inside <template> is not the body",
     '<!DOCTYPE html><html><head><template><body class="t"></template></head>'
     f'<style>body>div{{display:none!important}}</style><p>{ORIGINAL}</p></html>'),
    ("svg-style", "an SVG <style> is a stylesheet the raw-text scanner misses",
     _doc(body="<svg width=1 height=1><style>div{display:none!important}</style></svg>" + _P)),
    ("svg-style-comment", "a comment inside an SVG <style> hides a </style>",
     _doc(body="<svg width=1 height=1><style><!--</style><body>--></style>"
          "<style>div{visibility:hidden!important}</style></svg>" + _P)),
    ("second-body", "a second <body> adds its attributes to the first",
     _doc(body=f'{_P}<body style="opacity:0!important;margin-top:-500px">')),
    ("text-before-html", "text before <html> opens the body early",
     f"Dear customer,<html><head></head><body>{_P}"
     "<style>body{margin-top:-400px}</style></body></html>"),
    ("element-in-head", "an element in <head> opens the body there",
     f'<html><head><div style="{FIXED_COVER}">Official notice</div></head>'
     f"<body>{_P}</body></html>"),
    ("link-data-css", "a <link> to a data: stylesheet",
     _doc(head='<link rel="stylesheet" href="data:text/css,div%7Bdisplay:none!important%7D">')),
    ("import-data-css", "@import of a data: stylesheet",
     _doc('@import url("data:text/css,div{display:none!important}");')),
    ("media-query", "hide inside @media", _doc("@media screen{div{display:none!important}}")),
    ("has-selector", ":has() picks the banner as the div without the text",
     _doc("body>div:not(:has(p)){display:none!important}")),
    ("clip-path-body", "clip the top of the body away",
     _doc("body{clip-path:inset(200px 0 0 0)!important}")),
    ("filter-html", "blur and fade the whole document",
     _doc("html{filter:opacity(0) blur(20px)!important}")),
    ("zoom", "zoom the banner to nothing", _doc("div{zoom:0.01!important}")),
    ("scale-zero", "transform:scale(0)", _doc("div{transform:scale(0)!important}")),
    ("height-zero", "collapse its box",
     _doc("div{height:0!important;overflow:hidden!important;padding:0!important;"
          "border:0!important;margin:0!important}")),
    ("offscreen", "move it far left", _doc("div{position:absolute!important;"
                                           "left:-9999px!important}")),
    ("text-indent", "indent the text out of view", _doc("div{text-indent:-9999px!important}")),
    ("letter-spacing", "crush the glyphs together",
     _doc("*{letter-spacing:-9px!important;word-spacing:-9px!important}")),
    ("first-line", "recolour the first line", _doc("div::first-line{color:#fff0!important}"
                                                   "div::first-letter{color:#fff!important}")),
    ("layer-important", "!important inside an early @layer beats unlayered !important",
     _doc("@layer a{div{display:none!important}}")),
    ("font-face-size-adjust", "redefine Arial as a 1% font",
     _doc('@font-face{font-family:"Arial";src:local("DejaVu Sans"),local("Liberation Sans");'
          "size-adjust:1%}@font-face{font-family:sans-serif;src:local(Arial);"
          "size-adjust:1%}")),
    ("display-contents", "drop the banner's box", _doc("div{display:contents!important}")),
    ("negative-margin-sibling", "an in-flow box pulled up over it",
     _doc(body='<div style="margin-top:-200px;height:200px;background:#fff;position:relative;'
          f'z-index:999"></div>{_P}')),
    ("html-style-attr", "style on <html>",
     f'<!DOCTYPE html><html style="transform:translateY(-300px)"><body>{_P}</body></html>'),
    ("body-style-attr", "style on <body>",
     _doc(body_attrs=' style="margin-top:-300px;opacity:0"')),
    ("noscript-head", "a stylesheet in <noscript> in the head (scripting off)",
     _doc(head="<noscript><style>div{display:none!important}</style></noscript>")),
    ("script-escape", "script data escapes hide a fake </script>",
     '<!DOCTYPE html><html><head><script><!--<script></script><body>--></script></head>'
     f"<body>{_P}<style>div{{display:none!important}}</style></body></html>"),
    ("writing-mode", "turn the page sideways",
     _doc("html{writing-mode:vertical-rl!important}")),
    ("box-shadow-cover", "a huge shadow painted over the top",
     _doc(body=f'<p style="box-shadow:0 -600px 0 600px #fff">{ORIGINAL}</p>')),
    ("outline-cover", "a huge outline painted over the top",
     _doc("p{outline:1200px solid #fff!important}")),
    ("sticky-top", "a sticky header stuck over it",
     _doc(body='<div style="position:sticky;top:0;height:160px;background:#fff;'
          f'z-index:99999;margin-top:-160px"></div>{_P}')),
    ("columns", "push the first child into a hidden column",
     _doc("body{columns:2;column-gap:0;height:50px;overflow:hidden}"
          "body>*:first-child{break-after:column}")),
    ("mix-blend", "blend white over the top",
     _doc(body='<div style="position:fixed;inset:0;background:#fff;mix-blend-mode:lighten;'
          f'z-index:9999"></div>{_P}')),
    ("dialog-open", "an open <dialog> over the page",
     _doc(body=f'<dialog open style="position:fixed;top:0;width:100%;height:200px;margin:0;'
          f'border:0;background:#fff">Trusted</dialog>{_P}')),
]

# Found by attacking the design after the list above passed (each one failed at first
# or probes a parser differential): kept as regression cases.
_COVER_STYLE = ("position:fixed;top:0;left:0;width:100%;height:300px;background:#fff;"
                "z-index:2147483647")
ATTACKS += [
    ("autofocus", "an autofocus field far down scrolls the page to it",
     _doc(body=_P + '<div style="height:3000px"></div><input autofocus value=x>')),
    ("rtl", "right-to-left page direction", f"<!DOCTYPE html><html dir=rtl><body dir=rtl>{_P}"
     "</body></html>"),
    ("meta-csp", "a Content-Security-Policy that blocks our inline styles, not the sender's",
     _doc(".x{position:fixed;top:0;left:0;width:100%;height:300px;background:#fff}",
          head="<meta http-equiv=\"Content-Security-Policy\" content=\"style-src 'nonce-a'\">",
          body=f'<div class=x>Verified</div>{_P}').replace("<style>", '<style nonce="a">')),
    ("meta-refresh", "navigate the reading pane away",
     _doc(head='<meta http-equiv="refresh" content="0;url=about:blank">')),
    ("vertical-tab-in-tag", "\\v is not HTML white space: <style\\v> is no <style>",
     _doc(body="<style\x0b></style><link rel=stylesheet href='data:text/css,"
          "div{display:none!important}'>" + _P)),
    ("nbsp-in-tag", "nor is U+00A0",
     _doc(body="<style\xa0><style>div{display:none!important}</style>" + _P)),
    ("iframe-srcdoc", "a fixed iframe over the top",
     _doc(body=f'<iframe srcdoc="<p>x</p>" style="{_COVER_STYLE};border:0"></iframe>' + _P)),
    ("svg-foreignobject-style", "an HTML <style> inside SVG's foreignObject",
     _doc(body="<svg><foreignObject><style>div{display:none!important}</style>"
          "</foreignObject></svg>" + _P)),
    ("mathml-mtext-style", "an HTML <style> inside MathML text",
     _doc(body="<math><mtext><style>div{display:none!important}</style></mtext></math>" + _P)),
    ("css-nesting", "nested rules", _doc("p{ & , div{display:none!important} }"
                                         "body{ & > div{display:none!important}}")),
    ("is-selector", ":is() hides the body compound from a naive rewrite",
     _doc(":is(body > div),:where(html) div{display:none!important}")),
    ("escaped-ident", "CSS escapes in type selectors",
     _doc("b\\ody>d\\iv{display:none!important}")),
    ("cdata-outside-svg", "CDATA is a bogus comment outside foreign content",
     _doc(body="<![CDATA[<style>div{display:none!important}</style>]]>" + _P)),
    ("plaintext", "<plaintext> with a covering style",
     _doc(body=_P + f'<plaintext style="{_COVER_STYLE}">covered')),
    ("table-foster-parenting", "a box foster-parented out of a table",
     _doc(body=f'<table><tr><td>x</td></tr><div style="{_COVER_STYLE}">y</div></table>' + _P)),
    ("html-body-after-end", "<html>/<body> tags after </html> add attributes",
     _doc() + '<html style="opacity:0"><body style="opacity:0">'),
    ("layer-statement", "a layer declared first", "<!DOCTYPE html><html><head><style>@layer x;"
     "@layer x{div{display:none!important}}</style></head><body>" + _P + "</body></html>"),
    ("presentational-body", "bgcolor/text in the banner's colour, negative margins",
     _doc(body_attrs=' bgcolor="#c00000" text="#c00000" topmargin=-500 leftmargin=-500')),
    ("zoom-html", "zoom the root", _doc("html{zoom:0.1}")),
]

# A third round (2026-12-02): newer CSS, late or misplaced stylesheets, parser corners,
# covers that are no <style>. Each held at once; kept so that it keeps holding.
_TALL = '<div style="height:3000px"></div><div id=s style="height:800px">x</div>'
_HIDE = "<style>div{display:none!important}</style>"
ATTACKS += [
    ("content-visibility", "skip rendering the boxes",
     _doc("div{content-visibility:hidden!important}")),
    ("container-query", "hide inside a container query",
     _doc("html,body{container-type:inline-size}"
          "@container (min-width:1px){div{display:none!important}}")),
    ("supports", "hide inside @supports",
     _doc("@supports (display:block){div{display:none!important}}")),
    ("scope-rule", "hide inside @scope (body)", _doc("@scope (body){div{display:none!important}}")),
    ("where-child", "zero-specificity :where() on the body's children",
     _doc(":where(body) > :where(div){display:none!important}")),
    ("universal-transparent", "every text transparent on white",
     _doc("*{color:transparent!important;background:#fff!important}")),
    ("text-fill", "-webkit-text-fill-color white",
     _doc("*{-webkit-text-fill-color:#fff!important}")),
    ("text-stroke", "a white stroke wider than the glyphs",
     _doc("*{-webkit-text-stroke:20px #fff!important}")),
    ("scroll-snap-html", "a mandatory snap point far down moves the first view",
     _doc("html{scroll-snap-type:y mandatory!important}#s{scroll-snap-align:start}",
          body=_P + _TALL)),
    ("scroll-snap-body", "the body as a snapping scroller",
     _doc("body{scroll-snap-type:y mandatory;overflow:auto;height:100vh}"
          "#s{scroll-snap-align:start}", body=_P + _TALL)),
    ("mask-html", "a mask that makes the top of the page transparent",
     _doc("html{-webkit-mask-image:linear-gradient(transparent 0 300px,#000 300px)!important;"
          "mask-image:linear-gradient(transparent 0 300px,#000 300px)!important}")),
    ("mask-body", "the same mask on the body",
     _doc("body{-webkit-mask-image:linear-gradient(transparent 0 300px,#000 300px)!important}")),
    ("relative-top", "a white paragraph moved up over the top",
     _doc(body=f'<p style="position:relative;top:-300px;background:#fff;height:400px;'
          f'z-index:99999">{ORIGINAL}</p>')),
    ("svg-fixed", "a fixed white SVG rectangle",
     _doc(body='<svg style="position:fixed;top:0;left:0;z-index:2147483647" width=2000 '
          f'height=400><rect width=2000 height=400 fill=white /></svg>{_P}')),
    ("font-face-local", "Arial and sans-serif redefined as a symbol font",
     _doc("@font-face{font-family:Arial;src:local('Wingdings')}"
          "@font-face{font-family:sans-serif;src:local('Wingdings')}")),
    ("root-font-size", "1px root and body font size", _doc("html{font-size:1px!important}"
                                                          "body{font-size:1px!important}")),
    ("color-scheme-dark", "a dark colour scheme",
     _doc(head='<meta name="color-scheme" content="dark">')),
    ("invert-root", "invert the whole page",
     _doc(":root{forced-color-adjust:none;filter:invert(1)}")),
    ("viewport-meta", "a viewport that zooms out 100x",
     _doc(head='<meta name="viewport" content="width=10000, initial-scale=0.01">')),
    ("backdrop-filter", "a fixed backdrop that blurs what is under it",
     _doc(body='<div style="position:fixed;inset:0;backdrop-filter:blur(30px) opacity(0);'
          f'z-index:2147483647"></div>{_P}')),
    ("drop-shadow-up", "white drop shadows cast upwards",
     _doc("p{filter:drop-shadow(0 -300px 0 #fff) drop-shadow(0 -150px 0 #fff)}")),
    ("border-top-up", "a white border pulled up by a negative margin",
     _doc("p{margin-top:-300px!important;border-top:300px solid #fff}")),
    ("float-up", "a white float pulled up",
     _doc(body='<div style="float:left;margin-top:-400px;width:100%;height:400px;'
          f'background:#fff"></div>{_P}')),
    ("table-caption-up", "a white table caption pulled up",
     _doc(body='<table style="margin-top:-400px"><caption style="height:400px;'
          f'background:#fff">x</caption></table>{_P}')),
    ("style-attr-escape", "a CSS escape inside a style attribute's property name",
     _doc(body='<p style="posi\\tion:fixed;top:0;left:0;width:100%;height:300px;'
          f'background:#fff;z-index:2147483647">{ORIGINAL}</p>')),
    ("style-late-in-body", "a stylesheet after the content",
     f"<!DOCTYPE html><html><body>{_P}{_HIDE}</body></html>"),
    ("style-after-html", "a stylesheet after </html>",
     f"<!DOCTYPE html><html><body>{_P}</body></html>{_HIDE}"),
    ("link-in-body", "a data: stylesheet linked from the body",
     f"<!DOCTYPE html><html><body>{_P}<link rel=stylesheet "
     "href='data:text/css,div%7Bdisplay:none!important%7D'></body></html>"),
    ("html-attr-late", "<html style> after the end",
     f"<!DOCTYPE html><html><body>{_P}</body></html><html style='display:none'>"),
    ("noframes-head", "a stylesheet inside <noframes> in the head",
     f"<!DOCTYPE html><html><head><noframes>{_HIDE}</noframes></head><body>{_P}</body></html>"),
    ("noembed", "a stylesheet after an empty <noembed>",
     f"<!DOCTYPE html><html><body><noembed></noembed>{_HIDE}{_P}</body></html>"),
    ("xmp", "a stylesheet after an empty <xmp>",
     f"<!DOCTYPE html><html><body><xmp></xmp>{_HIDE}{_P}</body></html>"),
    ("title-in-body", "a stylesheet after a <title> in the body",
     f"<!DOCTYPE html><html><body><title>x</title>{_HIDE}{_P}</body></html>"),
    ("select-style", "a stylesheet inside <select>",
     f"<!DOCTYPE html><html><body><select>{_HIDE}</select>{_P}</body></html>"),
    ("math-style", "a <style> inside MathML (foreign content)",
     f"<!DOCTYPE html><html><body><math>{_HIDE}</math>{_P}</body></html>"),
    ("svg-desc-style", "a <style> inside an SVG <desc> (an HTML integration point)",
     f"<!DOCTYPE html><html><body><svg><desc>{_HIDE}</desc></svg>{_P}</body></html>"),
    ("nul-in-tag", "a NUL inside a tag name",
     "<!DOCTYPE html><html><body><sty\x00le>div{display:none!important}</style>"
     f"{_P}</body></html>"),
    ("upper-case", "tags, properties and !IMPORTANT in capitals",
     f"<!DOCTYPE html><HTML><BODY><STYLE>DIV{{DISPLAY:NONE!IMPORTANT}}</STYLE>{_P}</BODY></HTML>"),
    ("css-comments", "comments between every token",
     _doc("/*</style>*/div/**/{display:none/**/!/**/important}")),
    ("css-escaped-property", "a CSS escape in the property name",
     _doc("div{\\64 isplay:none!important}")),
    ("css-escaped-important", "a CSS escape in !important", _doc("div{display:none!\\69mportant}")),
    ("css-bad-string", "a bad string swallows a brace: error recovery",
     _doc("p{content:'\n}div{display:none!important}")),
    ("any-id", "every element with an id", _doc("[id]{display:none!important}")),
    ("nth-child", "the body's first two children",
     _doc("body>:nth-child(1){display:none!important}body>:nth-child(2){display:none!important}")),
    ("sibling-combinator", "everything after the first element",
     _doc("*+*{display:none!important} p{display:block!important}")),
    ("declarative-shadow", "a declarative shadow root styling its host as a cover",
     "<!DOCTYPE html><html><body><div><template shadowrootmode=open><style>:host{"
     f"{_COVER_STYLE}}}</style></template></div>{_P}</body></html>"),
    ("marquee-cover", "a fixed <marquee>",
     _doc(body=f'<marquee style="{FIXED_COVER}">x</marquee>{_P}')),
    ("inset-up", "an absolute box reaching 500px above the page",
     _doc(body='<div style="position:absolute;inset:-500px 0 auto 0;height:800px;'
          f'background:#fff;z-index:2147483647"></div>{_P}')),
]

# Where the footer cannot leave the sender's wrapper (nothing ends <plaintext>): it goes
# before it, inside; the banner is judged as everywhere else.
FOOTER_INSIDE = frozenset({"plaintext"})

# A footer attack: what a sender tries against the disclaimer at the end.
FOOTER_ATTACKS: list[tuple[str, str, str]] = [
    ("last-child", "hide the body's last element",
     _doc("body>*:last-child,body>p~*{display:none!important}")),
    ("unclosed-textarea", "a <textarea> left open swallows what follows",
     _doc(body=f"{_P}<textarea>")),
    ("unclosed-comment", "a comment left open", _doc(body=f"{_P}<!-- ")),
    ("unclosed-formatting", "an <a>/<font> left open is re-opened around what follows",
     _doc(body=f'{_P}<a style="font-size:0;color:transparent"><font style="display:none">')),
    ("unclosed-div-table", "elements left open around the end",
     _doc("div.trap{display:none}", body=f"{_P}<div class=trap><table><tr><td>")),
    ("after-html", "content after </html> goes after an insertion before </body>",
     _doc() + f'<div style="{FIXED_COVER};top:auto;bottom:0">Nothing below</div>'),
    ("bottom-cover", "a fixed box over the bottom",
     _doc(body=f'{_P}<div style="position:fixed;left:0;right:0;bottom:0;height:300px;'
          'background:#fff;z-index:2147483647"></div>')),
]

# Sender layouts whose content must stay visible and scrollable under the guard (not
# attacks: real mail is built like this). The wrapper is the containing block of the
# sender's fixed and absolute boxes, so each of these gets its space from it.
_LONG = "".join(f"<p>Line {i} of the statement.</p>" for i in range(40)) + _P
LAYOUTS: list[tuple[str, str, str]] = [
    ("fixed-full-scroller", "one position:fixed;top:0;bottom:0;overflow:auto box",
     _doc(body='<div style="position:fixed;top:0;bottom:0;left:0;right:0;overflow:auto">'
          f"{_LONG}</div>")),
    ("fixed-inset-scroller", "the same with inset:0 and a width",
     _doc(body=f'<div style="position:fixed;inset:0;width:100%;overflow-y:auto">{_LONG}</div>')),
    ("absolute-full-scroller", "position:absolute;top:0;bottom:0;overflow:auto",
     _doc(body='<div style="position:absolute;top:0;bottom:0;left:0;right:0;overflow:auto">'
          f"{_LONG}</div>")),
    ("absolute-height-percent", "position:absolute;height:100%;overflow:scroll",
     _doc(body='<div style="position:absolute;top:0;left:0;width:100%;height:100%;'
          f'overflow:scroll">{_LONG}</div>')),
    ("viewport-height-scroller", "a 100vh box that scrolls",
     _doc(body=f'<div style="height:100vh;overflow:auto">{_LONG}</div>')),
    ("dynamic-viewport-units", "100dvh / 100svh / 100vmin boxes",
     _doc("main{height:100dvh;overflow:auto}aside{height:50svh;width:100vmin;overflow:auto}",
          body=f"<aside>{_LONG}</aside><main>{_LONG}</main>")),
    ("app-shell", "html,body{height:100%} and a 100% scroller",
     _doc("html,body{height:100%;margin:0;overflow:hidden}.app{height:100%;overflow:auto}",
          body=f'<div class="app">{_LONG}</div>')),
    ("body-viewport-hidden", "a 100vh body that hides its overflow, an inner scroller",
     _doc("body{height:100vh;overflow:hidden;margin:0}.s{height:100%;overflow-y:scroll}",
          body=f'<div class="s">{_LONG}</div>')),
    ("fixed-header", "a fixed header bar over padded content",
     _doc(".bar{position:fixed;top:0;left:0;right:0;height:48px;background:#123;color:#fff}"
          "body{padding-top:56px}", body=f'<div class="bar">Example Bank</div>{_LONG}')),
    ("centred-card", "a fixed full-page flex box centring a card",
     _doc(".o{position:fixed;inset:0;display:flex;align-items:center;justify-content:center}"
          ".c{width:400px;max-height:80vh;overflow:auto;border:1px solid #ccc}",
          body=f'<div class="o"><div class="c">{_LONG}</div></div>')),
    ("fixed-centred", "content centred with top:50% and a transform",
     _doc(body='<div style="position:fixed;top:50%;left:0;right:0;transform:translateY(-50%)">'
          f"{_P}</div>")),
    ("sticky-footer-flex", "a min-height:100vh flex column with a bottom bar",
     _doc("body{min-height:100vh;display:flex;flex-direction:column;margin:0}"
          "main{flex:1}footer{background:#eee}",
          body=f"<main>{_P}</main><footer>Unsubscribe</footer>")),
    ("grid-viewport", "a grid filling the viewport, rows scroll",
     _doc("body{margin:0;height:100vh;display:grid;grid-template-rows:60px 1fr}"
          ".r{overflow:auto}", body=f'<div>Header</div><div class="r">{_LONG}</div>')),
    ("absolute-columns", "two absolutely placed columns",
     _doc(".a,.b{position:absolute;top:0;width:45%}.a{left:0}.b{right:0}",
          body=f'<div class="a">{_P}</div><div class="b"><p>Second column.</p></div>')),
    ("fixed-bottom-bar", "a bar fixed at the bottom of the viewport",
     _doc(body=f'{_P}<div style="position:fixed;bottom:0;left:0;right:0;height:40px;'
          'background:#eee">Call us</div>')),
]
