"""The flow file's JSON Schema says what the loader says: same flows accepted, same rejected."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mimeops import FlowError, load_flow, ops
from mimeops.flow import actions, conditions, core, loader
from mimeops.mail import template
from mimeops.mime import header_rules

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "mimeops" / "flow.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
FLOWS = sorted((ROOT / "examples" / "flows").glob("*.yaml"))


def schema_accepts(data: Any) -> bool:
    return VALIDATOR.is_valid(data)


def loader_accepts(text: str) -> bool:
    try:
        load_flow(text)
    except FlowError:
        return False
    return True


def both(text: str) -> tuple[bool, bool]:
    """(schema accepts, loader accepts) for one flow written as YAML."""
    return schema_accepts(yaml.safe_load(text)), loader_accepts(text)


def rule(body: str) -> str:
    """A one-rule flow; `body` is the rule's YAML flow-mapping content after the name."""
    return f"rules:\n  - {{name: r, {body}}}\n"


# -- the schema itself -------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema_with_an_id() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"]
    assert SCHEMA["required"] == ["rules"]


def _described(node: dict[str, Any]) -> bool:
    if "description" in node:
        return True
    ref = node.get("$ref")
    return bool(ref) and _described(SCHEMA["$defs"][ref.rsplit("/", 1)[1]])


def _property_maps(node: Any, path: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            found.append((path, node["properties"]))
        for key, value in node.items():
            found.extend(_property_maps(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_property_maps(value, f"{path}/{i}"))
    return found


def test_every_key_an_admin_types_has_hover_help() -> None:
    # if/then/not and add_header's extra name check only constrain keys described elsewhere
    skip = {"if", "then", "not", "add_header"}
    missing = [f"{path}/{name}" for path, props in _property_maps(SCHEMA)
               if not skip & set(path.split("/"))
               for name, sub in props.items() if not _described(sub)]
    assert missing == []


def test_schema_lists_exactly_what_the_loader_knows() -> None:
    defs = SCHEMA["$defs"]
    assert tuple(SCHEMA["properties"]) == loader._TOP_KEYS
    assert tuple(defs["rule"]["properties"]) == loader._RULE_KEYS
    assert tuple(defs["op"]["properties"]) == tuple(ops.BUILTINS)
    assert set(defs["conditions"]["properties"]) == {*conditions.BUILTINS,
                                                     *conditions.COMBINATORS}
    assert tuple(defs["conditions"]["properties"]["direction"]["enum"]) == conditions.DIRECTIONS
    action_forms = defs["action"]["oneOf"]
    assert tuple(action_forms[0]["enum"]) == actions.TYPES
    assert tuple(action_forms[1]["properties"]["type"]["enum"]) == actions.TYPES
    assert set(defs["rule"]["if"]["properties"]["action"]["anyOf"][0]["enum"]) == set(
        actions.INBOUND_ONLY)
    assert tuple(SCHEMA["properties"]["on_error"]["enum"]) == core.ON_ERROR
    assert tuple(SCHEMA["properties"]["protected"]["enum"]) == core.PROTECTED
    assert SCHEMA["properties"]["organization_id"]["pattern"] == loader._ORG_ID.pattern
    assert defs["rule"]["properties"]["name"]["pattern"] == loader._RULE_NAME.pattern
    assert defs["header_name"]["pattern"] == header_rules.FIELD_NAME.pattern
    for field in template.FIELDS:
        assert "{" + field + "}" in defs["template"]["description"]


# -- every recipe is valid ---------------------------------------------------------------------


@pytest.mark.parametrize("path", FLOWS, ids=[p.name for p in FLOWS])
def test_example_flow_validates_and_loads(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    VALIDATOR.validate(yaml.safe_load(text))
    assert load_flow(path, marker_key=b"t").rules


def test_the_recipes_are_there() -> None:
    names = {p.name for p in FLOWS}
    assert {"external-warning.yaml", "outbound-disclaimer.yaml", "block-executables.yaml",
            "internal-confidential.yaml", "routing-header.yaml", "demo.yaml"} <= names
    assert {"directory-signature.yaml", "impersonation-warning.yaml"} <= names


# -- the same flows rejected by both -----------------------------------------------------------

INVALID = {
    "unknown op": rule("apply: [{bannr: {text: x}}]"),
    "unknown op among known": rule("apply: [{banner: x}, {prepend: y}]"),
    "two ops in one item": rule("apply: [{banner: x, footer: y}]"),
    "empty op item": rule("apply: [{}]"),
    "empty apply": rule("apply: []"),
    "unknown condition": rule("when: {sendr: external}, apply: [{banner: x}]"),
    "unknown nested condition": rule("when: {not: {subjct: x}}, apply: [{banner: x}]"),
    "condition list for not": rule("when: {not: [{direction: INBOUND}]}, apply: [{banner: x}]"),
    "empty all": rule("when: {all: []}, apply: [{banner: x}]"),
    "when is a list": rule("when: [{direction: INBOUND}], apply: [{banner: x}]"),
    "lower-case direction": rule("when: {direction: inbound}, apply: [{banner: x}]"),
    "rule name starts with dash": "rules:\n  - {name: -r, apply: [{banner: x}]}\n",
    "rule name with space": "rules:\n  - {name: 'a b', apply: [{banner: x}]}\n",
    "rule name too long": "rules:\n  - {name: " + "a" * 65 + ", apply: [{banner: x}]}\n",
    "rule name empty": "rules:\n  - {name: '', apply: [{banner: x}]}\n",
    "rule name number": "rules:\n  - {name: 42, apply: [{banner: x}]}\n",
    "rule without name": "rules:\n  - {apply: [{banner: x}]}\n",
    "rule without apply or action": rule("when: {direction: INBOUND}"),
    "unknown rule key": rule("aply: [{banner: x}]"),
    "unknown top-level key": "version: 1\nrules:\n  - {name: r, apply: [{banner: x}]}\n",
    "misspelt rules": "rule:\n  - {name: r, apply: [{banner: x}]}\n",
    "no rules": "internal_domains: [example.com]\n",
    "empty rules": "rules: []\n",
    "rules is a mapping": "rules: {name: r, apply: [{banner: x}]}\n",
    "flow is a list": "- {name: r, apply: [{banner: x}]}\n",
    "flow is a string": "just some text\n",
    "stop is a string": rule("apply: [{banner: x}], stop: 'yes'"),
    "banner is a number": rule("apply: [{banner: 3}]"),
    "banner is empty": rule("apply: [{banner: {}}]"),
    "banner unknown field": rule("apply: [{banner: {txt: x}}]"),
    "footer html is a list": rule("apply: [{footer: {html: [x]}}]"),
    "banner text is yes": rule("apply: [{banner: {text: yes}}]"),
    "unknown template field": rule("apply: [{banner: '{nope}'}]"),
    "template conversion": rule("apply: [{banner: '{sender!r}'}]"),
    "template format spec": rule("apply: [{banner: '{sender:>9}'}]"),
    "single brace": rule("apply: [{banner: 'a } b'}]"),
    "subject_prefix is a list": rule("apply: [{subject_prefix: [x]}]"),
    "subject_prefix is a mapping": rule("apply: [{subject_prefix: {text: x}}]"),
    "add_header without value": rule("apply: [{add_header: {name: X-A}}]"),
    "add_header is a string": rule("apply: [{add_header: X-A}]"),
    "add_header value true": rule("apply: [{add_header: {name: X-A, value: true}}]"),
    "add_header unknown field": rule("apply: [{add_header: {name: X-A, value: b, mode: c}}]"),
    "add_header Subject": rule("apply: [{add_header: {name: Subject, value: x}}]"),
    "add_header reply-to": rule("apply: [{add_header: {name: reply-TO, value: x}}]"),
    "set_header From": rule("apply: [{set_header: {name: From, value: x}}]"),
    "set_header message-id": rule("apply: [{set_header: {name: message-id, value: x}}]"),
    "set_header Content-Type": rule("apply: [{set_header: {name: Content-Type, value: x}}]"),
    "set_header MIME-Version": rule("apply: [{set_header: {name: MIME-Version, value: x}}]"),
    "set_header marker": rule("apply: [{set_header: {name: X-Mimeops-Processed, value: x}}]"),
    "set_header name with colon": rule("apply: [{set_header: {name: 'X:A', value: x}}]"),
    "set_header name with space": rule("apply: [{set_header: {name: 'X A', value: x}}]"),
    "remove_header Date": rule("apply: [{remove_header: Date}]"),
    "remove_header content-transfer-encoding":
        rule("apply: [{remove_header: content-transfer-encoding}]"),
    "remove_header number": rule("apply: [{remove_header: 3}]"),
    "remove_header value field": rule("apply: [{remove_header: {name: X-A, value: b}}]"),
    "sender empty list": rule("when: {sender: []}, apply: [{banner: x}]"),
    "sender number": rule("when: {sender: 7}, apply: [{banner: x}]"),
    "recipient wildcard inside": rule("when: {recipient: 'x.*.example.com'}, action: DROP"),
    "recipient bare wildcard": rule("when: {recipient: '*'}, action: DROP"),
    "recipient empty local part": rule("when: {recipient: '@example.com'}, action: DROP"),
    "recipient with space": rule("when: {recipient: 'a b@example.com'}, action: DROP"),
    "recipient blank": rule("when: {recipient: '  '}, action: DROP"),
    "header is a string": rule("when: {header: Subject}, action: DROP"),
    "header empty": rule("when: {header: {}}, action: DROP"),
    "header regex number": rule("when: {header: {Subject: 3}}, action: DROP"),
    "header bad regex": rule("when: {header: {Subject: '(['}}, action: DROP"),
    "size_over boolean": rule("when: {size_over: true}, action: DROP"),
    "size_over word": rule("when: {size_over: lots}, action: DROP"),
    "size_over negative": rule("when: {size_over: -1}, action: DROP"),
    "size_over float": rule("when: {size_over: 1.5}, action: DROP"),
    "size_over unit": rule("when: {size_over: 10TB}, action: DROP"),
    "attachment_extension empty list": rule("when: {attachment_extension: []}, action: DROP"),
    "attachment_extension blank": rule("when: {attachment_extension: [exe, ' ']}, action: DROP"),
    "attachment_type number": rule("when: {attachment_type: 5}, action: DROP"),
    "unknown action": rule("action: REJECT"),
    "action lower case": rule("action: bounce"),
    "action without type": rule("action: {message: x}"),
    "action unknown field": rule("action: {type: BOUNCE, reason: x}"),
    "message on DROP": rule("action: {type: DROP, message: x}"),
    "bounce message unknown field": rule("action: {type: BOUNCE, message: '{why}'}"),
    "action recipients empty": rule("action: {type: DROP, recipients: []}"),
    "MOVE_TO_JUNK outbound": rule("when: {direction: OUTBOUND}, action: MOVE_TO_JUNK"),
    "MOVE_TO_JUNK without when": rule("action: MOVE_TO_JUNK"),
    "BYPASS_SPAM_CHECK direction nested":
        rule("when: {all: [{direction: INBOUND}]}, action: {type: BYPASS_SPAM_CHECK}"),
    "on_error unknown": "on_error: ignore\nrules:\n  - {name: r, action: DROP}\n",
    "protected boolean": "protected: yes\nrules:\n  - {name: r, action: DROP}\n",
    "organization_id upper hex": "organization_id: m-" + "A" * 32
                                 + "\nrules:\n  - {name: r, action: DROP}\n",
    "organization_id short": "organization_id: m-1234\nrules:\n  - {name: r, action: DROP}\n",
    "internal_domains string": "internal_domains: example.com\n"
                               "rules:\n  - {name: r, action: DROP}\n",
    "internal_domains empty name": "internal_domains: ['']\nrules:\n  - {name: r, action: DROP}\n",
    "internal_domains number": "internal_domains: [42]\nrules:\n  - {name: r, action: DROP}\n",
}


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_invalid_flow_is_rejected_by_schema_and_loader(text: str) -> None:
    assert both(text) == (False, False)


def test_loader_error_for_invalid_flow_is_one_line() -> None:
    for text in INVALID.values():
        with pytest.raises(FlowError) as info:
            load_flow(text)
        assert "\n" not in str(info.value)


# -- the same flows accepted by both -----------------------------------------------------------

VALID = {
    "banner string": rule("apply: [{banner: 'CAUTION {sender}'}]"),
    "footer html only": rule("apply: [{footer: {html: '<p>{sender_name}</p>'}}]"),
    "every template field": rule("apply: [{banner: '" + " ".join(
        "{" + f + "}" for f in template.FIELDS) + "'}]"),
    "literal braces": rule("apply: [{subject_prefix: '{{x}} {{{subject}}}'}]"),
    "empty banner text": rule("apply: [{banner: ''}]"),
    "header ops": rule("apply: [{add_header: {name: X-Tag, value: '{direction}'}}, "
                       "{set_header: {name: subject, value: x}}, {remove_header: X-Old}, "
                       "{remove_header: {name: Received}}, {set_header: {name: X-N, value: 3}}, "
                       "{add_header: {name: X-F, value: 1.5}}]"),
    "nested conditions": rule("when: {any: [{sender: internal}, {all: [{size_over: 0}, "
                              "{not: {recipient: [example.com, '*.example.org', "
                              "a@example.net]}}]}]}, apply: [{banner: x}]"),
    "sender patterns": rule("when: {sender: [bücher.example, '*.example.com']}, action: DROP"),
    "sizes": rule("when: {any: [{size_over: 1048576}, {size_over: 512k}, {size_over: 1.5GiB}, "
                  "{size_over: ' 10 MB '}]}, action: DROP"),
    "attachments": rule("when: {attachment_extension: .EXE, attachment_type: [image/*, "
                        "application/pdf]}, action: DROP"),
    "header regexes": rule("when: {header: {Subject: '(?i)invoice', X-Spam: ''}}, action: DROP"),
    "empty when": rule("when: {}, action: DROP"),
    "action forms": "rules:\n"
                    "  - {name: a, action: DEFAULT, stop: true}\n"
                    "  - {name: b, action: {type: BOUNCE}}\n"
                    "  - {name: c, action: {type: BOUNCE, message: 'No {subject}'}}\n"
                    "  - {name: d, action: {type: DROP, recipients: '*.example.com'}}\n"
                    "  - {name: e, action: {type: DROP, message: null, recipients: null}}\n"
                    "  - {name: f, when: {direction: INBOUND}, action: {type: MOVE_TO_JUNK,"
                    " recipients: [x@example.com]}}\n"
                    "  - {name: g, when: {direction: INBOUND}, action: BYPASS_SPAM_CHECK}\n",
    "apply and action": rule("apply: [{banner: x}], action: DROP, stop: false"),
    "all top-level keys": "internal_domains: [example.com, bücher.example]\non_error: retry\n"
                          "protected: headers\norganization_id: m-" + "0123456789abcdef" * 2
                          + "\nrules:\n  - {name: A.b_c-9, action: DROP}\n",
    "nulls where the loader takes defaults": "internal_domains: null\norganization_id: null\n"
                                             "rules:\n  - {name: r, action: DROP}\n",
    "json": json.dumps({"rules": [{"name": "r", "apply": [{"banner": {"text": "x"}}]}]}),
    "64-character name": "rules:\n  - {name: " + "a" * 64 + ", action: DROP}\n",
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_flow_is_accepted_by_schema_and_loader(text: str) -> None:
    assert both(text) == (True, True)


# -- the finer grammar agrees, value by value ------------------------------------------------


def test_template_syntax_agrees_with_the_loader() -> None:
    check = jsonschema.Draft202012Validator({"$ref": "#/$defs/template", "$defs": SCHEMA["$defs"]})

    def loads(text: str) -> bool:
        try:
            template.Template(text, "t")
        except FlowError:
            return False
        return True

    tokens = ["{", "}", "{{", "}}", "x", "{sender}", "{nope}", "sender", "!r", "!", ":", "{}"]
    texts = {"".join(p) for n in range(1, 5) for p in itertools.product(tokens, repeat=n)}
    assert [t for t in sorted(texts) if check.is_valid(t) != loads(t)] == []
    # and through a whole flow, for a few
    for text in ["{sender:}", "{{{subject}}}", "{sender!r}", "}{", "{date}{direction}"]:
        assert both(rule(f"apply: [{{subject_prefix: {json.dumps(text)}}}]")) in (
            (True, True), (False, False)), text


HEADER_NAMES = ["X-Route", "x-route", "Subject", "SUBJECT", "To", "cc", "Bcc", "Sender",
                "Reply-To", "In-Reply-To", "References", "Message-ID", "From", "from", "Date",
                "Return-Path",
                "Content-Type", "CONTENT-disposition", "Content-", "MIME-Version",
                "X-Mimeops-Processed", "x-mimeops-processed", "X-Content-Type", "Froms",
                "X-From", "Received", "a", "X" * 76, "X" * 77, "X:Y", "X Y", "", "Ü"]


@pytest.mark.parametrize("verb", ["add_header", "set_header", "remove_header"])
def test_header_names_agree_with_the_loader(verb: str) -> None:
    for name in HEADER_NAMES:
        arg = {"name": name} if verb == "remove_header" else {"name": name, "value": "v"}
        text = json.dumps({"rules": [{"name": "r", "apply": [{verb: arg}]}]})
        result = both(text)
        assert result in ((True, True), (False, False)), (verb, name, result)
        key = name.lower()
        expected = not (key in {"from", "date", "message-id", "sender", "return-path",
                                "mime-version", "x-mimeops-processed"}
                        or key.startswith("content-")
                        or (verb == "add_header" and key in header_rules.UNIQUE)
                        or not re.fullmatch(r"[!-9;-~]{1,76}", name))
        assert result[0] is expected, (verb, name)


PATTERNS = ["example.com", "EXAMPLE.com.", "*.example.com", "user@example.com",
            "First.Last+tag@Sub.Example.COM", "bücher.example", "jürgen@bücher.example",
            "*.", "*", "*.*.example.com", "x.*.example.com", "@example.com", "user@",
            "a b@example.com", "exa mple.com", "...", " example.com ", "", "   ",
            "user@*.example.com", "*example.com", "user@@example.com"]


def test_address_patterns_agree_with_the_loader() -> None:
    for pattern in PATTERNS:
        text = json.dumps({"rules": [{"name": "r", "when": {"recipient": pattern},
                                      "action": "DROP"}]})
        assert both(text) in ((True, True), (False, False)), pattern


SIZES = ["0", "10", "10MB", "10mb", "10 M", "512k", "512KiB", "1.5GiB", "2g", " 7 ", "10b",
         "1.", ".5M", "10TB", "ten", "-1", "1e6", "10 MB s", "", "1,5MB"]


def test_size_strings_agree_with_the_loader() -> None:
    for size in SIZES:
        text = json.dumps({"rules": [{"name": "r", "when": {"size_over": size},
                                      "action": "DROP"}]})
        assert both(text) in ((True, True), (False, False)), size


# -- mimeops schema --------------------------------------------------------------------------


def test_mimeops_schema_prints_the_file_as_valid_json() -> None:
    done = subprocess.run([sys.executable, "-m", "mimeops", "schema"], capture_output=True,
                          cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == SCHEMA_PATH.read_bytes()
    assert json.loads(done.stdout) == SCHEMA


# -- known loader gaps (see the report on issue 4) -------------------------------------------


@pytest.mark.parametrize("flow", [
    {"rules": [{"name": "warn\n", "apply": [{"banner": "x"}]}]},
    {"rules": [{"name": "r", "apply": [{"set_header": {"name": "X-Route\n", "value": "x"}}]}]},
    {"organization_id": "m-" + "0" * 32 + "\n", "rules": [{"name": "r", "action": "DROP"}]},
], ids=["rule name", "header name", "organization_id"])
def test_trailing_newline_in_a_name_is_rejected(flow: dict[str, Any]) -> None:
    with pytest.raises(FlowError):
        load_flow(json.dumps(flow))


# What JSON Schema cannot say: the loader is stricter, and says so at load time.
LOADER_ONLY = {
    "duplicate rule names": "rules:\n  - {name: r, action: DROP}\n  - {name: r, action: DROP}\n",
    "duplicate YAML key": "rules:\n  - name: r\n    name: s\n    action: DROP\n",
    "integral float size (JSON has one number type)": rule("when: {size_over: 1.0}, action: DROP"),
    "address the email-validator refuses": rule("when: {recipient: user@localhost}, action: DROP"),
}


@pytest.mark.parametrize("text", LOADER_ONLY.values(), ids=LOADER_ONLY.keys())
def test_what_only_the_loader_rejects(text: str) -> None:
    assert both(text) == (True, False)
