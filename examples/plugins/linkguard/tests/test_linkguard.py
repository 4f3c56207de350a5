"""The plugin, tested as an organization tests its own: through the real Lambda handler
against the embedded WorkMail emulator (the `workmail` fixture of mimeops[local])."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from linkguard import DefangUrls

from mimeops import FlowError, Mail, load_flow

HERE = Path(__file__).resolve().parent
FLOW = HERE.parent / "flow.yaml"
PHISH = (HERE / "phish.eml").read_bytes()


def test_mail_from_outside_gets_its_links_defanged(workmail) -> None:
    inv = workmail.invoke(PHISH, flow=str(FLOW), direction="INBOUND",
                          mail_from="support@bank-secure.example.net",
                          recipients=["bob@example.com"])
    assert inv.response == {"actions": [{"action": {"type": "DEFAULT"},
                                         "allRecipients": True}]}
    text = inv.message.decode("utf-8")
    assert "https://" not in text.replace("=\n", "") and "hxxps://www[.]bank[.]example" in text
    assert "Links in this message from outside the organization were disabled." in text
    assert "Subject: [SUSPICIOUS LINK] Your account" in text
    digest = hashlib.sha256(b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n").hexdigest()
    assert Mail(inv.message).headers.get_all("X-Attachment-Manifest") == [
        f"statement.pdf; application/pdf; 19 bytes; sha256={digest}"]


def test_mail_from_inside_keeps_its_links_but_not_a_deceptive_one(workmail) -> None:
    inside = PHISH.replace(b"support@bank-secure.example.net", b"alice@example.com")
    inv = workmail.invoke(inside, flow=str(FLOW), direction="INBOUND",
                          mail_from="alice@example.com", recipients=["bob@example.com"])
    assert b"https://www.bank.example/login" in inv.message
    assert b"Subject: [SUSPICIOUS LINK] Your account" in inv.message
    honest = inside.replace(b">www.bank.example<", b">our login page<")
    again = workmail.invoke(honest, flow=str(FLOW), direction="INBOUND",
                            mail_from="alice@example.com", recipients=["bob@example.com"])
    assert not again.updated and again.message == honest


def test_a_dict_flow_with_transform_objects(workmail) -> None:
    flow = {"internal_domains": ["example.com"],
            "rules": [{"name": "defang",
                       "apply": [DefangUrls("hxxp"), {"subject_prefix": "[EXT]"}]}]}
    inv = workmail.invoke(PHISH, flow=flow, direction="INBOUND",
                          mail_from="support@bank-secure.example.net",
                          recipients=["bob@example.com"])
    assert b"hxxps://www[.]bank[.]example" in inv.message
    assert b"Subject: [EXT] Your account" in inv.message


def test_a_bad_argument_is_a_load_error_naming_rule_and_line() -> None:
    with pytest.raises(FlowError) as info:
        load_flow("rules:\n  - name: r\n    apply:\n      - defang_urls: {scheme: http}\n")
    assert "rule 'r'" in str(info.value) and "line 3" in str(info.value)
    assert "scheme" in str(info.value)
