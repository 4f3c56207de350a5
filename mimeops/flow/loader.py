"""Load and check a flow file (YAML or JSON) into a Flow, or fail with one clear line.

Every mistake is found at load time, never while mail is waiting, and the
error names the rule, the field and the YAML line: `flow.yaml: rule
'external-warning' (line 4): apply[0].banner: unknown field 'txt'`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mimeops.errors import FlowError
from mimeops.flow import actions, window
from mimeops.flow.conditions import compile_when, internal_domains
from mimeops.flow.core import MODES, ON_ERROR, PROTECTED, Flow, Rule
from mimeops.flow.marker import HEADER as MARKER_HEADER
from mimeops.mail import Transform
from mimeops.mail.template import Template
from mimeops.mime.headers import UNIQUE
from mimeops.ops.base import Op
from mimeops.ops.body import Insert
from mimeops.ops.header import AddHeader, RemoveHeader, SetHeader
from mimeops.ops.subject import SubjectPrefix

_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FIELD_NAME = re.compile(r"^[!-9;-~]{1,76}$")
_ORG_ID = re.compile(r"^m-[0-9a-f]{32}$")
# WorkMail refuses changes to these; the marker header is ours alone.
IMMUTABLE = frozenset({"from", "date", "message-id"})
_TOP_KEYS = ("internal_domains", "rules", "on_error", "protected", "organization_id",
             "directory")
DIRECTORIES = ("workmail",)
_RULE_KEYS = ("name", "when", "apply", "action", "stop", "mode", "active")
PLACEMENTS = ("end", "above_reply")


class _Map(dict[str, Any]):
    """A YAML mapping that remembers the line of each key."""

    lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    result = _Map()
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise FlowError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_flow(
    source: str | Path, *, marker_key: bytes | tuple[bytes, ...] | None = None
) -> Flow:
    """A Flow from a file path, or from YAML/JSON text.

    A string is read as a path when it names an existing file, or when it does
    not look like a flow: no line break, no leading `{` or `---`, no `key: value`
    (so a mistyped path is reported as a missing file); otherwise it is the flow.
    `marker_key`: the HMAC key for processed markers, or several (newest first:
    sign with the first, accept any); default $MIMEOPS_MARKER_KEY or a per-user
    key file. Raises FlowError (a ValueError) naming the problem.
    """
    label, text = _read(source)
    try:
        try:
            data = yaml.load(text, Loader=_LineLoader)
        except yaml.YAMLError as error:
            raise FlowError(f"not valid YAML or JSON: {_one_line(error)}") from None
        flow = _flow(data)
    except FlowError as error:
        raise FlowError(f"{label}: {error}" if label else str(error)) from None
    flow.marker_key = marker_key
    return flow


def _is_file(source: str) -> bool:
    try:
        return Path(source).is_file()
    except (OSError, ValueError):  # a long one-line JSON flow is no file name
        return False


def _is_text(source: str) -> bool:
    """The flow itself, not a path: several lines, a JSON object or YAML document start, or
    a one-line YAML mapping (`key: value`) not ending in .yaml/.yml/.json. Anything else is
    a path — so a mistyped file name is reported as a missing file, not parsed as YAML."""
    if "\n" in source:
        return True
    if source.rstrip().endswith((".yaml", ".yml", ".json")):
        return False
    return source.lstrip().startswith(("{", "---")) or ": " in source


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and not source.strip():
        raise FlowError("the flow is empty (give a flow file's path, or YAML/JSON text)")
    if isinstance(source, Path) or _is_file(source) or not _is_text(source):
        path = Path(source)
        if path.is_dir():
            raise FlowError(f"{path}: is a directory, not a flow file")
        if path.exists() and not path.is_file():
            raise FlowError(f"{path}: not a regular file")
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as error:
            raise FlowError(f"{path}: cannot read flow file: {error.strerror}") from None
        except UnicodeDecodeError:
            raise FlowError(f"{path}: flow file is not UTF-8 text") from None
    return "", source


def _one_line(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{problem} (line {mark.line + 1})" if mark else problem


def _line(mapping: Any, key: str) -> str:
    lines = getattr(mapping, "lines", {})
    return f" (line {lines[key]})" if key in lines else ""


def _flow(data: Any) -> Flow:
    if not isinstance(data, dict):
        raise FlowError("a flow must be a mapping with a 'rules' list")
    _no_unknown(data, _TOP_KEYS, "flow")
    rules_spec = data.get("rules")
    if not isinstance(rules_spec, list) or not rules_spec:
        raise FlowError(f"rules{_line(data, 'rules')}: expected a non-empty list of rules")
    on_error = data.get("on_error", "deliver")
    if on_error not in ON_ERROR:
        raise FlowError(f"on_error{_line(data, 'on_error')}: expected deliver or retry, "
                        f"got {on_error!r}")
    protected = data.get("protected", "skip")
    if protected not in PROTECTED:
        raise FlowError(f"protected{_line(data, 'protected')}: expected skip, headers or wrap, "
                        f"got {protected!r}")
    org = data.get("organization_id")
    if org is not None and (not isinstance(org, str) or not _ORG_ID.fullmatch(org)):
        raise FlowError(f"organization_id{_line(data, 'organization_id')}: expected "
                        f"m- and 32 hex digits, got {org!r}")
    rules: list[Rule] = []
    for index, spec in enumerate(rules_spec):
        rule = _rule(spec, index)
        if any(r.name == rule.name for r in rules):
            raise FlowError(f"rule {rule.name!r}{_line(spec, 'name')}: duplicate rule name")
        rules.append(rule)
    domains = internal_domains(data.get("internal_domains"),
                               f"internal_domains{_line(data, 'internal_domains')}")
    directory = data.get("directory")
    if directory is not None and directory not in DIRECTORIES:
        raise FlowError(f"directory{_line(data, 'directory')}: expected workmail (the CLI "
                        f"takes a static file with --directory DIR.yaml), got {directory!r}")
    return Flow(rules, domains, on_error, protected, org, directory_source=directory)


def _no_unknown(spec: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in spec:
        if key not in known:
            raise FlowError(f"{where}{_line(spec, key)}: unknown field {key!r} "
                            f"(expected: {', '.join(known)})")


def _rule(spec: Any, index: int) -> Rule:
    if not isinstance(spec, dict):
        raise FlowError(f"rules[{index}]: expected a mapping with name, when, apply/action")
    name = spec.get("name")
    if not isinstance(name, str) or not _RULE_NAME.fullmatch(name):
        raise FlowError(f"rules[{index}]{_line(spec, 'name')}: name: expected letters, digits, "
                        f"'-', '_' or '.' (up to 64), got {name!r}")
    where = f"rule {name!r}"
    try:
        _no_unknown(spec, _RULE_KEYS, "")
        rule = Rule(name)
        if "when" in spec:
            rule.when = compile_when(spec["when"], f"when{_line(spec, 'when')}")
        if "apply" in spec:
            rule.ops = _ops(spec["apply"], f"apply{_line(spec, 'apply')}")
        if "action" in spec:
            rule.action = actions.parse(spec["action"], f"action{_line(spec, 'action')}")
            _check_direction(spec, rule.action)
        stop = spec.get("stop", False)
        if not isinstance(stop, bool):
            raise FlowError(f"stop{_line(spec, 'stop')}: expected true or false, got {stop!r}")
        rule.stop = stop
        rule.mode = spec.get("mode", "enforce")
        if rule.mode not in MODES:
            raise FlowError(f"mode{_line(spec, 'mode')}: expected enforce or audit, "
                            f"got {rule.mode!r}")
        if "active" in spec:
            rule.active = window.parse(spec["active"], f"active{_line(spec, 'active')}")
        if not rule.ops and rule.action is None:
            raise FlowError("needs 'apply' (ops) or 'action'")
    except FlowError as error:
        detail = str(error)
        raise FlowError(where + (detail if detail.startswith(" (") else f": {detail}")) from None
    return rule


def _check_direction(spec: dict[str, Any], action: actions.Action) -> None:
    if action.type not in actions.INBOUND_ONLY:
        return
    when = spec.get("when")
    direction = when.get("direction") if isinstance(when, dict) else None
    if direction != "INBOUND":
        raise FlowError(f"action{_line(spec, 'action')}.type: {action.type} is allowed only on "
                        "inbound mail; add 'direction: INBOUND' to the rule's 'when'")


def _ops(spec: Any, where: str) -> list[Transform]:
    if not isinstance(spec, list) or not spec:
        raise FlowError(f"{where}: expected a non-empty list of ops")
    ops: list[Transform] = []
    for i, item in enumerate(spec):
        here = f"{where}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise FlowError(f"{here}: expected one op, like '- banner: {{text: ...}}'")
        (op_name, arg), = item.items()
        factory = _OPS.get(op_name)
        if factory is None:
            raise FlowError(f"{here}: unknown op {op_name!r} (known: {', '.join(_OPS)})")
        ops.append(factory(arg, f"{here}.{op_name}"))
    return ops


def _insert(kind: str) -> Callable[[Any, str], Op]:
    def build(arg: Any, where: str) -> Op:
        if isinstance(arg, str):
            arg = {"text": arg}
        if not isinstance(arg, dict) or not arg:
            raise FlowError(f"{where}: expected text and/or html")
        allowed = (("text", "html", "placement", "once_per_thread", "guard") if kind == "footer"
                   else ("text", "html", "guard"))
        _no_unknown(arg, allowed, where)
        if "text" not in arg and "html" not in arg:
            raise FlowError(f"{where}: expected text and/or html")
        text = Template(arg["text"], f"{where}.text") if "text" in arg else None
        markup = Template(arg["html"], f"{where}.html") if "html" in arg else None
        placement = arg.get("placement", "end")
        if placement not in PLACEMENTS:
            raise FlowError(f"{where}.placement: expected end or above_reply, got {placement!r}")
        # A footer with the sender's directory fields is a signature: once per thread
        # unless the flow says otherwise.
        signature = any(t is not None and t.directory for t in (text, markup))
        once = arg.get("once_per_thread", signature)
        if not isinstance(once, bool):
            raise FlowError(f"{where}.once_per_thread: expected true or false, got {once!r}")
        guard = arg.get("guard", "auto")
        if not isinstance(guard, bool) and guard != "auto":
            raise FlowError(f"{where}.guard: expected auto, true or false, got {guard!r}")
        return Insert(kind, text, markup, placement == "above_reply", once,
                      None if guard == "auto" else guard)

    return build


def _subject_prefix(arg: Any, where: str) -> Op:
    return SubjectPrefix(Template(arg, where))


def _header_name(arg: dict[str, Any], where: str, verb: str) -> str:
    name = arg.get("name")
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise FlowError(f"{where}.name: expected a header field name, got {name!r}")
    key = name.lower()
    if key in IMMUTABLE or key == MARKER_HEADER.lower():
        raise FlowError(f"{where}.name: {name} cannot be changed (WorkMail rejects the message)"
                        if key in IMMUTABLE else f"{where}.name: {name} is mimeops' own marker")
    if verb == "add_header" and key in UNIQUE:
        raise FlowError(f"{where}.name: {name} may appear only once; use set_header")
    if key.startswith("content-") or key == "mime-version":
        raise FlowError(f"{where}.name: {name} describes the MIME structure; it is not editable")
    return name


def _header_op(verb: str) -> Callable[[Any, str], Op]:
    def build(arg: Any, where: str) -> Op:
        if verb == "remove_header" and isinstance(arg, str):
            arg = {"name": arg}
        if not isinstance(arg, dict):
            raise FlowError(f"{where}: expected a mapping with name" +
                            ("" if verb == "remove_header" else " and value"))
        allowed = ("name",) if verb == "remove_header" else ("name", "value")
        _no_unknown(arg, allowed, where)
        name = _header_name(arg, where, verb)
        if verb == "remove_header":
            return RemoveHeader(name)
        if "value" not in arg:
            raise FlowError(f"{where}.value: missing")
        raw = arg["value"]
        numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
        value = Template(str(raw) if numeric else raw, f"{where}.value")
        return AddHeader(name, value) if verb == "add_header" else SetHeader(name, value)

    return build


_OPS: dict[str, Callable[[Any, str], Op]] = {
    "banner": _insert("banner"),
    "footer": _insert("footer"),
    "subject_prefix": _subject_prefix,
    "add_header": _header_op("add_header"),
    "set_header": _header_op("set_header"),
    "remove_header": _header_op("remove_header"),
}
