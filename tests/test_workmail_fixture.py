"""The test kit's `workmail` fixture (registered by the installed package, entry point
pytest11: no conftest provides it), as an organization uses it in its own tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = (ROOT / "events" / "messages" / "external.eml").read_bytes()
OUTBOUND = (ROOT / "events" / "messages" / "outbound.eml").read_bytes()
DEFAULT = {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}


def test_the_fixture_comes_from_the_installed_plugin(request) -> None:
    plugin = request.config.pluginmanager.get_plugin("mimeops")
    assert plugin is not None and plugin.__name__ == "mimeops_workmail.pytest_plugin"


def test_a_path_flow_and_the_envelope_from_the_headers(workmail) -> None:
    inv = workmail.invoke(EXTERNAL, flow=str(ROOT / "examples" / "flows" / "demo.yaml"))
    assert inv.response == DEFAULT and inv.updated
    assert b"CAUTION: external sender m.dupont@partner.example.net" in inv.message
    assert inv.location is not None and inv.location.startswith("s3://")


def test_yaml_text_and_actions(workmail) -> None:
    flow = ("rules:\n  - name: junk\n    when: {direction: INBOUND}\n"
            "    action: {type: MOVE_TO_JUNK, recipients: john.smith@example.com}\n")
    inv = workmail.invoke(EXTERNAL, flow=flow, recipients=["jane.doe@example.com",
                                                           "john.smith@example.com"])
    assert inv.response == {"actions": [
        {"action": {"type": "MOVE_TO_JUNK"}, "recipients": ["john.smith@example.com"]},
        {"action": {"type": "DEFAULT"}, "allRecipients": True}]}
    assert not inv.updated and inv.message == EXTERNAL


def test_a_static_directory_through_the_emulated_workmail_api(workmail) -> None:
    flow = (ROOT / "examples" / "flows" / "directory-signature.yaml").read_text()
    inv = workmail.invoke(OUTBOUND, flow=flow, direction="OUTBOUND",
                          directory=ROOT / "examples" / "directory" / "example-org.yaml")
    assert inv.updated and b"Head of Purchasing" in inv.message
