"""Safe rollout: audit mode, activation windows, `explain` and `validate` (docs/rollout.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mimeops import Envelope, FlowError, load_flow
from mimeops.flow.explain import explain

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = ROOT / "events" / "messages" / "external.eml"
DEFAULT = [{"action": {"type": "DEFAULT"}, "allRecipients": True}]
KEY = b"rollout-test-key"


def message(extra: str = "", attachment: str = "", body: str = "Hi there.") -> bytes:
    mixed = (f"--m\nContent-Type: application/octet-stream\n"
             f"Content-Disposition: attachment; filename=\"{attachment}\"\n"
             f"Content-Transfer-Encoding: base64\n\nTVo=\n") if attachment else ""
    return (
        "From: Eve <eve@outside.example.net>\nTo: Bob <bob@example.com>\nSubject: Invoice 42\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <m1@outside.example.net>\n"
        f"{extra}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n"
        f"--m\nContent-Type: text/plain; charset=utf-8\n\n{body}\n{mixed}--m--\n"
    ).encode()


INBOUND = Envelope("INBOUND", "eve@outside.example.net", ["bob@example.com"])


def flow(rules: str, **top: object) -> object:
    head = "".join(f"{k}: {json.dumps(v)}\n" for k, v in top.items())
    return load_flow(f"internal_domains: [example.com]\n{head}rules:\n{rules}", marker_key=KEY)


AUDIT_WARN = """\
  - name: warn
    mode: audit
    when: {direction: INBOUND, sender: external}
    apply:
      - banner: {text: "CAUTION", html: "<p>CAUTION</p>"}
      - subject_prefix: "[EXT]"
  - name: junk
    mode: audit
    when: {direction: INBOUND}
    action: MOVE_TO_JUNK
"""


# -- audit mode -------------------------------------------------------------------------------


def test_audit_rule_changes_nothing_and_is_reported() -> None:
    raw = message()
    result = flow(AUDIT_WARN).apply(raw, INBOUND)
    assert result.message is raw and not result.changed
    assert result.actions == DEFAULT
    assert result.applied == [] and result.matched == []
    assert result.audited == ["warn:banner", "warn:subject_prefix", "junk:MOVE_TO_JUNK"]
    assert result.summary()["audited"] == result.audited
    assert "audited" not in flow(AUDIT_WARN).apply(message(), Envelope("OUTBOUND")).summary()


def test_audit_rule_beside_an_enforced_one_leaves_only_the_enforced_edit() -> None:
    rules = AUDIT_WARN + """\
  - name: tag
    when: {sender: external}
    apply: [{add_header: {name: X-Tag, value: "yes"}}]
"""
    result = flow(rules).apply(message(), INBOUND)
    assert result.applied == ["tag:add_header"] and result.matched == ["tag"]
    assert b"CAUTION" not in result.message and b"[EXT]" not in result.message
    assert result.actions == DEFAULT
    assert "warn:banner" in result.audited


def test_audit_rule_with_stop_does_not_stop_enforced_rules() -> None:
    rules = """\
  - {name: trial, mode: audit, stop: true, action: DROP}
  - {name: tag, apply: [{add_header: {name: X-Tag, value: "yes"}}]}
"""
    result = flow(rules).apply(message(), INBOUND)
    assert result.audited == ["trial:DROP"] and result.applied == ["tag:add_header"]


def test_audit_rule_that_does_not_match_is_not_reported() -> None:
    result = flow(AUDIT_WARN).apply(message(), Envelope("OUTBOUND", "bob@example.com", ["x@y.net"]))
    assert result.audited == []


@pytest.mark.parametrize("bad", ["Audit", "off", "true", "[audit]"])
def test_mode_must_be_enforce_or_audit(bad: str) -> None:
    with pytest.raises(FlowError, match=r"rule 'r'.*mode.*expected enforce or audit"):
        flow(f"  - {{name: r, mode: {bad}, action: DROP}}\n")


# -- activation windows -------------------------------------------------------------------------

WINDOW = """\
  - name: holiday
    active: {from: "2026-12-24T00:00:00+01:00", until: "2027-01-02T00:00:00Z"}
    apply: [{subject_prefix: "[HOLIDAY]"}]
"""


@pytest.mark.parametrize(("now", "applies"), [
    (datetime(2026, 12, 23, 22, 59, 59, tzinfo=UTC), False),  # 23:59:59 +01:00
    (datetime(2026, 12, 23, 23, 0, 0, tzinfo=UTC), True),     # from is inclusive
    (datetime(2027, 1, 1, 23, 59, 59, tzinfo=UTC), True),
    (datetime(2027, 1, 2, 0, 0, 0, tzinfo=UTC), False),       # until is exclusive
])
def test_rule_applies_only_inside_its_window(now: datetime, applies: bool) -> None:
    loaded = flow(WINDOW)
    loaded.clock = lambda: now
    result = loaded.apply(message(), INBOUND)
    assert (result.applied == ["holiday:subject_prefix"]) is applies


def test_unquoted_yaml_timestamps_with_a_zone_are_accepted() -> None:
    loaded = flow("  - {name: r, active: {until: 2030-01-01T00:00:00Z}, action: DROP}\n")
    loaded.clock = lambda: datetime(2029, 6, 1, tzinfo=timezone(timedelta(hours=-7)))
    assert loaded.apply(message(), INBOUND).actions[0]["action"]["type"] == "DROP"


@pytest.mark.parametrize(("active", "error"), [
    ('{from: "2026-12-24T00:00:00"}', "has no time zone"),
    ("{from: 2026-12-24}", "expected an ISO 8601 date-time with a time zone"),
    ('{until: "2026-12-24 10:00"}', "has no time zone"),
    ('{from: "next tuesday"}', "is not an ISO 8601 date-time"),
    ('{from: "2026-12-24T00:00:00Z", until: "2026-12-23T00:00:00Z"}', "is not after from"),
    ('{since: "2026-12-24T00:00:00Z"}', "unknown field 'since'"),
    ("{}", "expected a mapping with from and/or until"),
    ('"2026-12-24T00:00:00Z"', "expected a mapping with from and/or until"),
])
def test_bad_window_is_one_clear_load_error(active: str, error: str) -> None:
    with pytest.raises(FlowError) as caught:
        flow(f"  - name: r\n    active: {active}\n    action: DROP\n")
    text = str(caught.value)
    assert "\n" not in text and error in text and "rule 'r'" in text and "active" in text


# -- explain: one line per rule, through the evaluator apply uses --------------------------------


def explained(rules: str, raw: bytes | None = None, envelope: Envelope = INBOUND,
              **top: object) -> list[str]:
    return explain(flow(rules, **top), raw or message(), envelope)


@pytest.mark.parametrize(("when", "words"), [
    ("{direction: OUTBOUND}", ["direction: the message is INBOUND, the rule wants OUTBOUND"]),
    ("{sender: internal}", ["the sender is external, the rule wants internal",
                            "eve@outside.example.net (external: outside.example.net)",
                            "internal_domains: example.com"]),
    ("{sender: '*@partner.example.org'}", ["envelope eve@outside.example.net",
                                           '"*@partner.example.org"']),
    ("{recipient: external}", ["recipients bob@example.com (internal: example.com)",
                               '"external"']),
    ("{recipient: carol@example.com}", ["recipients bob@example.com", "carol@example.com"]),
    ("{header: {Subject: '^Receipt'}}", ['Subject: "Invoice 42" against /^Receipt/']),
    ("{header: {X-Spam: 'yes'}}", ["X-Spam: no such header against /yes/"]),
    ("{size_over: 10MB}", ["size_over: the message is ", " bytes, the limit is 10MB"]),
    ("{attachment_extension: [exe]}", ["attachments (none)", '["exe"]']),
    ("{attachment_type: 'application/pdf'}", ["attachments (none)", "application/pdf"]),
    ("{all: [{direction: INBOUND}, {sender: internal}]}", ["the sender is external"]),
    ("{any: [{direction: OUTBOUND}, {size_over: 10MB}]}",
     ["any: none held (direction: the message is INBOUND", "| size_over:"]),
    ("{not: {direction: INBOUND}}", ["not: (direction: the message is INBOUND, the rule wants "
                                     "INBOUND) held"]),
])
def test_explain_names_the_failed_condition_and_the_values_compared(
        when: str, words: list[str]) -> None:
    rules = f"  - {{name: r, when: {when}, action: DROP}}\n"
    assert flow(rules).apply(message(), INBOUND).actions == DEFAULT  # it really fails
    (line,) = explained(rules)
    assert line.startswith("r: not matched: ")
    for word in words:
        assert word in line


def test_explain_stops_at_the_first_condition_that_did_not_hold() -> None:
    (line,) = explained("  - {name: r, when: {direction: INBOUND, sender: internal, "
                        "size_over: 1}, action: DROP}\n")
    assert "sender:" in line and "size_over" not in line and "direction" not in line


def test_explain_matched_rule_shows_what_held_and_what_it_applies() -> None:
    raw = message(attachment="setup.exe")
    (line,) = explained("  - {name: r, when: {direction: INBOUND, attachment_extension: exe}, "
                        "apply: [{subject_prefix: '[X]'}], action: MOVE_TO_JUNK}\n", raw)
    assert line.startswith("r: matched: direction: the message is INBOUND")
    assert "setup.exe (application/octet-stream)" in line
    assert line.endswith("-> applies subject_prefix, MOVE_TO_JUNK")


def test_explain_reports_audit_inactive_and_stopped_rules() -> None:
    rules = AUDIT_WARN + """\
  - {name: first, stop: true, action: DROP}
  - {name: later, action: BOUNCE}
  - {name: past, active: {until: "2000-01-01T00:00:00Z"}, action: DROP}
"""
    lines = explained(rules)
    assert lines[0].startswith("warn [audit]: matched: ")
    assert lines[0].endswith("would apply (audit: nothing is changed) banner, subject_prefix")
    assert lines[2] == "first: matched: no conditions: every message -> applies DROP"
    assert lines[3] == "later: not evaluated: rule 'first' matched and has stop: true"
    assert len(lines) == 5 and lines[4].startswith("past: not evaluated")  # after the stop


def test_explain_window_line_names_the_window_and_now() -> None:
    loaded = flow("  - {name: past, active: {until: \"2000-01-01T00:00:00Z\"}, action: DROP}\n")
    loaded.clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    assert explain(loaded, message(), INBOUND) == [
        "past: not active: active from the start until 2000-01-01T00:00:00+00:00; "
        "now 2026-01-01T00:00:00+00:00"]


def test_a_condition_type_without_an_observer_still_explains_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mimeops.flow import conditions

    class Never:
        def matches(self, mail: object, context: object) -> bool:
            return False

    monkeypatch.setitem(conditions.BUILTINS, "never", lambda value, where: Never())
    (line,) = explained("  - {name: r, when: {never: [a, b]}, action: DROP}\n")
    assert line == 'r: not matched: never: ["a", "b"]'


# -- the commands -----------------------------------------------------------------------------


def mimeops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mimeops", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)


def test_explain_command_prints_one_line_per_rule(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("internal_domains: [example.com]\nrules:\n" + AUDIT_WARN
                    + "  - {name: out, when: {direction: OUTBOUND}, action: DROP}\n")
    done = mimeops("explain", "--config", str(path), str(EXTERNAL))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["warn [audit]", "junk [audit]", "out"]
    assert "partner.example.net (external: partner.example.net)" in lines[0]
    outbound = mimeops("explain", "--config", str(path), "--direction", "OUTBOUND",
                       "--mail-from", "jane@example.com", str(EXTERNAL))
    assert outbound.stdout.splitlines()[2].startswith("out: matched")


def test_validate_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("rules:\n" + AUDIT_WARN)
    done = mimeops("validate", str(good))
    assert done.returncode == 0
    assert done.stdout == f"{good}: valid flow, 2 rule(s), 2 in audit mode\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: r, mode: dry-run, action: DROP}\n")
    done = mimeops("validate", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "mode (line 2): expected enforce or audit" in done.stderr
    missing = mimeops("validate", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "cannot read flow file" in missing.stderr


def test_validate_takes_an_inline_flow_as_apply_does(tmp_path: Path) -> None:
    inline = '{"rules": [{"name": "r", "when": {"direction": "INBOUND"}, "action": "DROP"}]}'
    done = mimeops("validate", inline)
    assert (done.returncode, done.stdout) == (0, "inline flow: valid flow, 1 rule(s)\n")
    applied = mimeops("apply", "--config", inline, str(EXTERNAL), "-o", os.devnull)
    assert applied.returncode == 0, applied.stderr  # the same text, the same verdict
    yaml_text = "rules:\n  - {name: r, mode: audit, action: DROP}\n"
    assert mimeops("validate", yaml_text).stdout == "inline flow: valid flow, 1 rule(s), " \
                                                    "1 in audit mode\n"
    bad = mimeops("validate", '{"rules": [{"name": "r", "action": "DRP"}]}')
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "DRP" in bad.stderr
    typo = mimeops("validate", "internal_domains: [example..com]\n" + yaml_text)
    assert typo.returncode == 2 and typo.stderr.count("\n") == 1
    assert "'example..com' is not a valid domain name" in typo.stderr


# -- the JSON Schema says what the loader says ---------------------------------------------------


def test_schema_knows_mode_and_active() -> None:
    import jsonschema

    from mimeops.flow import core, window
    from mimeops.flow.loader import _RULE_KEYS

    schema = json.loads((ROOT / "mimeops" / "flow.schema.json").read_text())
    rule = schema["$defs"]["rule"]["properties"]
    assert tuple(rule["mode"]["enum"]) == core.MODES
    assert tuple(rule["active"]["properties"]) == window.KEYS
    assert {"mode", "active"} <= set(_RULE_KEYS)
    validator = jsonschema.Draft202012Validator(schema)
    for instant, valid in [("2026-12-24T00:00:00Z", True), ("2026-12-24T00:00+01:00", True),
                           ("2026-12-24 10:00:00.5-07:00", True), ("2026-12-24T00:00:00", False),
                           ("2026-12-24", False)]:
        spec = {"rules": [{"name": "r", "mode": "audit", "active": {"from": instant},
                           "action": "DROP"}]}
        assert validator.is_valid(spec) is valid, instant
        try:
            load_flow(json.dumps(spec))
            loaded = True
        except FlowError:
            loaded = False
        assert loaded is valid, instant


def test_apply_command_with_an_audit_rule_writes_the_input_bytes(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text("internal_domains: [example.com]\nrules:\n" + AUDIT_WARN)
    out = tmp_path / "out.eml"
    done = mimeops("apply", "--config", str(path), str(EXTERNAL), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == EXTERNAL.read_bytes()
    assert json.loads(done.stdout) == {
        "changed": False, "skipped": None, "applied": [], "actions": DEFAULT, "bare": [],
        "audited": ["warn:banner", "warn:subject_prefix", "junk:MOVE_TO_JUNK"]}
