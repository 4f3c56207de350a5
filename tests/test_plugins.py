"""Plugins: installed packages whose transforms and conditions a flow names like built-ins.

The example plugin (examples/plugins/linkguard) is really installed (pip, into a folder
put on the path, so the project's own environment stays as it was) and driven through
`mimeops validate`, `apply` and `invoke`, the Lambda handler, the `workmail` fixture and
its own pytest file. Small probe plugins, installed the same way, pin the calling
convention, the load errors and the name clashes (docs/extending.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimeops import Envelope, FlowError, Mail, load_flow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "plugins" / "linkguard"
FLOW = EXAMPLE / "flow.yaml"
PHISH = EXAMPLE / "tests" / "phish.eml"
MIMEOPS = [sys.executable, "-m", "mimeops"]
EVENT = {"summaryVersion": "2018-10-10",
         "envelope": {"mailFrom": {"address": "support@bank-secure.example.net"},
                      "recipients": [{"address": "bob@example.com"}]},
         "messageId": "6d1e3b1a-4c2f-4e8a-9b7d-2f5a8c0e9d41",
         "flowDirection": "INBOUND", "truncated": False}


def install(source: Path, target: Path) -> None:
    """`pip install` of a plugin folder (copied first: a build leaves files beside it)."""
    work = target.parent / f"src-{source.name}"
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check",
                    "--target", str(target), str(work)], check=True, timeout=300)


def probe(root: Path, name: str, transforms: dict[str, str], conditions: dict[str, str],
          code: str) -> Path:
    """A plugin package of our own making: module `name` with `code`, entry points."""
    folder = root / name
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(textwrap.dedent(code))
    groups = "".join(
        f'[project.entry-points."mimeops.{group}"]\n'
        + "".join(f'{key} = "{value}"\n' for key, value in entries.items())
        for group, entries in (("transforms", transforms), ("conditions", conditions))
        if entries)
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=70.1"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name.replace("_", "-")}"\nversion = "0.1"\n\n{groups}')
    return folder


PROBE = """
    from mimeops import Mail, Context


    class Tag:
        '''`tag: ...`: records how it was called, and adds X-Tag.'''

        def __init__(self, *args, **kwargs):
            if args == ("boom",):
                raise ValueError("boom is not a tag")
            if args == ("crash",):
                raise RuntimeError("the plugin itself broke")
            self.called = (args, kwargs)

        def apply(self, mail: Mail, context: Context) -> bool:
            mail.headers.add("X-Tag", repr(self.called))
            return True


    class Always:
        def __init__(self, value=True):
            self.value = value

        def matches(self, mail: Mail, context: Context) -> bool:
            return self.value


    class NotATransform:
        def __init__(self, value=None):
            pass


    class AsksTheDirectory:
        '''Asks for what no deployment here has, without saying so: permanent.'''

        def __init__(self, value=None):
            pass

        def apply(self, mail: Mail, context: Context) -> bool:
            return bool(context.sender_groups)
"""


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example plugin and the probes installed in a folder on sys.path (and on
    PYTHONPATH for the commands); removed from both after the module."""
    root = tmp_path_factory.mktemp("plugins")
    target = root / "site"
    install(EXAMPLE, target)
    install(probe(root, "probe_one", {"tag": "probe_one:Tag", "not_a_transform":
                                      "probe_one:NotATransform", "broken": "probe_one:Missing",
                                      "asks_the_directory": "probe_one:AsksTheDirectory"},
                  {"always": "probe_one:Always"}, PROBE), target)
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))


@pytest.fixture(scope="module")
def clash_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package that takes a built-in's names and probe_one's `tag`."""
    root = tmp_path_factory.mktemp("clash")
    install(probe(root, "probe_clash", {"banner": "probe_clash:Tag", "tag": "probe_clash:Tag"},
                  {"sender": "probe_clash:Always"},
                  "from probe_one import Tag, Always\n"), root / "site")
    return root / "site"


@pytest.fixture
def clashing(plugins: Path, clash_folder: Path) -> Iterator[Path]:
    """probe_clash installed too, for one test."""
    sys.path.insert(0, str(clash_folder))
    yield clash_folder
    sys.path.remove(str(clash_folder))


def run(plugins: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), str(ROOT)]),
           "MIMEOPS_MARKER_KEY": "plugin-test"}
    return subprocess.run([*MIMEOPS, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120, check=False)


# -- the example plugin through every door ---------------------------------------------


def test_validate_knows_the_plugins_names(plugins: Path) -> None:
    done = run(plugins, "validate", str(FLOW))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{FLOW}: valid flow, 2 rule(s)"


def test_apply_runs_plugin_and_built_in_ops_in_one_rule(plugins: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.eml"
    done = run(plugins, "apply", "--config", str(FLOW), str(PHISH), "-o", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["applied"] == ["outside-links:defang_urls", "outside-links:banner",
                                  "outside-links:attachment_manifest",
                                  "deceptive:subject_prefix"]
    text = out.read_bytes().decode("utf-8")
    assert "hxxps://www[.]bank[.]example/login" in text
    assert 'href=3D"hxxps://evil[.]example[.]net/login"' in text
    manifest = Mail(out.read_bytes()).headers.get_all("X-Attachment-Manifest")
    pdf = base64.b64decode("JVBERi0xLjQKJcOkw7zDtsOfCg==")
    assert manifest == [f"statement.pdf; application/pdf; 19 bytes; "
                        f"sha256={hashlib.sha256(pdf).hexdigest()}"]
    assert "Subject: [SUSPICIOUS LINK] Your account" in text
    # The attachment's bytes are untouched: only the two text parts were re-encoded.
    assert "JVBERi0xLjQKJcOkw7zDtsOfCg==" in text


@pytest.mark.parametrize(("op", "error"), [
    ("{defang_urls: {scheme: http}}",
     "rule 'r': apply (line 3)[1].defang_urls: scheme: expected a word like hxxp"),
    ("{defang_urls: {schem: hxxp}}",
     "rule 'r': apply (line 3)[1].defang_urls: DefangUrls.__init__() got an unexpected "
     "keyword argument 'schem'"),
    ("{attachment_manifest: {header: 'Bad Name:'}}",
     "rule 'r': apply (line 3)[1].attachment_manifest: header: expected a header field name"),
])
def test_a_bad_argument_is_one_line_naming_rule_field_and_line(
        plugins: Path, tmp_path: Path, op: str, error: str) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(f"rules:\n  - name: r\n    apply:\n      - banner: x\n      - {op}\n")
    for command in (["validate", str(flow)], ["apply", "--config", str(flow), str(PHISH)]):
        done = run(plugins, *command)
        assert done.returncode == 2
        assert done.stderr.startswith(f"mimeops: error: {flow}: {error}"), done.stderr
        assert done.stderr.count("\n") == 1


@pytest.mark.slow
def test_invoke_runs_the_handler_with_the_plugin(plugins: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(EVENT))
    out = tmp_path / "out.eml"
    done = run(plugins, "invoke", str(event), "--message", str(PHISH), "--config", str(FLOW),
               "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"actions": [{"action": {"type": "DEFAULT"},
                                                    "allRecipients": True}]}
    assert b"hxxps://www[.]bank[.]example/login" in out.read_bytes()


@pytest.mark.slow
def test_the_handler_reads_a_plugin_flow_from_mimeops_config(
        plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mimeops_emulator import LocalAWS
    from mimeops_workmail.local import LocalWorkMail

    monkeypatch.setenv("MIMEOPS_CONFIG", FLOW.read_text())
    with LocalAWS() as aws:
        done = LocalWorkMail(aws).run(dict(EVENT), PHISH.read_bytes())
    assert done.updated
    assert b"hxxps://www[.]bank[.]example/login" in done.message
    assert b"X-Attachment-Manifest: statement.pdf" in done.message


def test_the_workmail_fixture_with_the_plugin(plugins: Path, workmail) -> None:
    inv = workmail.invoke(PHISH.read_bytes(), flow=str(FLOW), direction="INBOUND",
                          mail_from="support@bank-secure.example.net",
                          recipients=["bob@example.com"])
    assert inv.response == {"actions": [{"action": {"type": "DEFAULT"}, "allRecipients": True}]}
    assert b"Subject: [SUSPICIOUS LINK] Your account" in inv.message


@pytest.mark.slow
def test_the_plugins_own_tests_pass_with_the_fixture(plugins: Path, tmp_path: Path) -> None:
    """What an organization runs in its own repository: pytest, mimeops[local] installed,
    the plugin installed, the `workmail` fixture there without a conftest."""
    tests = tmp_path / "tests"
    shutil.copytree(EXAMPLE / "tests", tests)
    shutil.copy(FLOW, tmp_path / "flow.yaml")
    env = {**os.environ, "PYTHONPATH": str(plugins)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tests)], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout


# -- the calling convention, load errors and clashes -------------------------------------


def flow_with(op: str, when: str = "") -> str:
    return f"rules:\n  - name: r\n{when}    apply:\n      - {op}\n"


@pytest.mark.parametrize(("value", "called"), [
    ("{a: 1, b: [x]}", "((), {'a': 1, 'b': ['x']})"),   # a mapping: keyword arguments
    ("null", "((), {})"),                                # null: no argument
    ("", "((), {})"),
    ("7", "((7,), {})"),                                 # anything else: one argument
    ("[1, 2]", "(([1, 2],), {})"),
    ("hello", "(('hello',), {})"),
])
def test_the_entry_point_is_called_with_the_yaml_value(
        plugins: Path, value: str, called: str) -> None:
    flow = load_flow(flow_with(f"tag: {value}"), marker_key=b"k")
    result = flow.apply(PHISH.read_bytes(), Envelope("INBOUND", "a@x.example", ["b@y.example"]))
    assert result.applied == ["r:tag"]
    assert f"X-Tag: {called}".encode() in result.message


@pytest.mark.parametrize(("op", "error"), [
    ("tag: boom", "rule 'r': apply (line 3)[0].tag: boom is not a tag"),
    ("tag: crash", "rule 'r': apply (line 3)[0].tag: the plugin failed: RuntimeError: "
                   "the plugin itself broke"),
    ("not_a_transform: 1", "rule 'r': apply (line 3)[0].not_a_transform: plugin probe-one 0.1 "
                           "(probe_one:NotATransform) made a NotATransform, which has no "
                           "apply(mail, context) method"),
    ("broken: 1", "rule 'r': apply (line 3)[0].broken: plugin probe-one 0.1 "
                  "(probe_one:Missing) cannot be imported: AttributeError"),
])
def test_load_errors_name_the_rule_field_and_line(plugins: Path, op: str, error: str) -> None:
    with pytest.raises(FlowError) as info:
        load_flow(flow_with(op))
    assert str(info.value).startswith(error), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("op", "error"), [
    ("banner: x", "rule 'r': apply (line 3)[0]: op 'banner' is both mimeops' built-in and "
                  "plugin probe-clash 0.1 (probe_clash:Tag): uninstall or rename the plugin's"),
    ("tag: x", "rule 'r': apply (line 3)[0]: op 'tag' is registered by both plugin probe-"),
])
def test_a_name_registered_twice_is_a_load_error_naming_both(
        clashing: Path, op: str, error: str) -> None:
    with pytest.raises(FlowError) as info:
        load_flow(flow_with(op))
    assert str(info.value).startswith(error), str(info.value)
    assert "probe_one:Tag" in str(info.value) or "built-in" in str(info.value)


def test_a_condition_name_taken_from_a_built_in_is_a_clash(clashing: Path) -> None:
    with pytest.raises(FlowError, match=r"rule 'r': when \(line 3\): condition 'sender' is "
                                        r"both mimeops' built-in and plugin probe-clash"):
        load_flow(flow_with("banner: x", "    when: {sender: external}\n"))


def test_a_plugin_condition_and_a_clash_free_name(plugins: Path) -> None:
    flow = load_flow(flow_with("subject_prefix: '[P]'", "    when: {always: false}\n")
                     + "  - name: s\n    when: {always: true, direction: INBOUND}\n"
                       "    apply: [{subject_prefix: '[Q]'}]\n", marker_key=b"k")
    result = flow.apply(PHISH.read_bytes(), Envelope("INBOUND", "a@x.example", ["b@y.example"]))
    assert result.applied == ["s:subject_prefix"]


def test_a_flow_naming_no_plugin_ignores_a_clash_it_does_not_use(clashing: Path) -> None:
    assert load_flow(flow_with("subject_prefix: x")).rules[0].labels == ["subject_prefix"]


def test_mimeops_schema_names_the_installed_plugins(plugins: Path) -> None:
    import jsonschema
    import yaml

    done = run(plugins, "schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert {"defang_urls", "attachment_manifest", "tag"} <= set(
        schema["$defs"]["op"]["properties"])
    assert "deceptive_link" in schema["$defs"]["conditions"]["properties"]
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(FLOW.read_text()))
    bare = json.loads(subprocess.run([*MIMEOPS, "schema"], capture_output=True, text=True,
                                     cwd=ROOT, check=True).stdout)
    assert "defang_urls" not in bare["$defs"]["op"]["properties"]


PERMANENT = ("on_error: retry\ninternal_domains: [example.com]\nrules:\n"
             "  - name: r\n    apply: [{subject_prefix: '[X]'}, {asks_the_directory: }]\n")


def test_a_permanent_error_in_a_plugin_is_never_retried_by_the_handler(
        plugins: Path, workmail) -> None:
    """A plugin that asks the directory without declaring `needs_directory`: the flow
    loads, the error comes per message, and is permanent: the message unchanged, no retry
    even under `on_error: retry`. Its rule warns (a subject tag) and matched, so the
    answer is the flow's fallback, Junk, not the inbox unwarned."""
    raw = PHISH.read_bytes().replace(b"support@bank-secure.example.net", b"alice@example.com")
    inv = workmail.invoke(raw, flow=PERMANENT, mail_from="alice@example.com",
                          recipients=["bob@example.com"])
    assert inv.response == {"actions": [{"action": {"type": "MOVE_TO_JUNK"},
                                         "allRecipients": True}]}
    assert not inv.updated and inv.message == raw


@pytest.mark.slow
def test_a_permanent_error_in_a_plugin_is_delivered_by_the_smtp_filter(
        plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.smtp_harness import Filter, free_port, sink, submit

    flow = tmp_path / "flow.yaml"
    flow.write_text(PERMANENT)
    raw = PHISH.read_bytes().replace(b"support@bank-secure.example.net", b"alice@example.com")
    raw = raw.replace(b"\n", b"\r\n")  # as SMTP carries it
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugins), str(ROOT)]))
    with sink() as (handler, hop), Filter(flow, free_port(), hop) as proc:
        assert submit(proc.port, "alice@example.com", ["bob@example.com"], raw) == {}
    assert [m.data for m in handler.messages] == [raw]
    assert proc.records()[0]["error"] == "flow: DirectoryMissing"
