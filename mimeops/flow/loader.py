"""Load and check a flow (a YAML/JSON file or text, or a dict from Python) into a Flow,
or fail with one clear line.

Every mistake is found at load time, never while mail is waiting, and the
error names the rule, the field and the YAML line: `flow.yaml: rule
'external-warning': apply (line 4)[0].banner: unknown field 'txt'`. Op and condition
names come from one registry of built-ins and installed plugins (`registry`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mimeops import ops
from mimeops.errors import FlowError
from mimeops.flow import actions, conditions, window
from mimeops.flow.conditions import compile_when, internal_domains
from mimeops.flow.core import MODES, ON_ERROR, PROTECTED, Flow, Rule
from mimeops.flow.registry import CONDITION, TRANSFORM, Registry, installed
from mimeops.mail import Transform, transform_name
from mimeops.ops.spec import line as _line
from mimeops.ops.spec import no_unknown as _no_unknown

_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ORG_ID = re.compile(r"^m-[0-9a-f]{32}$")
_TOP_KEYS = ("internal_domains", "rules", "on_error", "protected", "organization_id",
             "directory")
DIRECTORIES = ("workmail",)
_RULE_KEYS = ("name", "when", "apply", "action", "stop", "mode", "active")


class Names:
    """The two registries one load reads (built-ins plus the plugins installed now)."""

    def __init__(self) -> None:
        plugins = installed()
        self.transforms = Registry(TRANSFORM, ops.BUILTINS, plugins[TRANSFORM])
        self.conditions = Registry(CONDITION, conditions.BUILTINS, plugins[CONDITION],
                                   conditions.RESERVED)


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
    source: str | Path | Mapping[str, Any], *,
    marker_key: bytes | tuple[bytes, ...] | None = None
) -> Flow:
    """A Flow from a file path, from YAML/JSON text, or from a dict of that shape.

    A string is read as a path when it names an existing file, or when it does
    not look like a flow: no line break, no leading `{` or `---`, no `key: value`
    (so a mistyped path is reported as a missing file); otherwise it is the flow.
    In a dict, an `apply` item may be a transform object (anything with
    `apply(mail, context)`) and a `when` may hold condition objects under `custom`
    (one, or a list). Names come from the built-ins and the installed plugins
    (`mimeops.flow.registry`).

    `marker_key`: the HMAC key for processed markers, or several (newest first:
    sign with the first, accept any); without one the Flow signs with a random key of
    its own (see `Flow`). Raises FlowError (a ValueError) naming the problem.
    """
    if isinstance(source, Mapping):
        label, data = "", source
    else:
        label, text = _read(source)
    try:
        if not isinstance(source, Mapping):
            try:
                data = yaml.load(text, Loader=_LineLoader)
            except yaml.YAMLError as error:
                raise FlowError(f"not valid YAML or JSON: {_one_line(error)}") from None
        flow = _flow(data, Names())
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


def _flow(data: Any, names: Names) -> Flow:
    if not isinstance(data, Mapping):
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
        rule = _rule(spec, index, names)
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


def _rule(spec: Any, index: int, names: Names) -> Rule:
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
            rule.when = compile_when(spec["when"], f"when{_line(spec, 'when')}",
                                     names.conditions)
        if "apply" in spec:
            rule.ops, rule.labels = _ops(spec["apply"], f"apply{_line(spec, 'apply')}",
                                         names.transforms)
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


def _ops(spec: Any, where: str, registry: Registry) -> tuple[list[Transform], list[str]]:
    """The transforms of an `apply` list, and the name each is reported under."""
    if not isinstance(spec, list) or not spec:
        raise FlowError(f"{where}: expected a non-empty list of ops")
    ops: list[Transform] = []
    labels: list[str] = []
    for i, item in enumerate(spec):
        here = f"{where}[{i}]"
        if _transform_object(item):
            ops.append(item)  # a dict flow from Python: the object itself
            labels.append(transform_name(item))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise FlowError(f"{here}: expected one op, like '- banner: {{text: ...}}'")
        (op_name, arg), = item.items()
        build = registry.builder(str(op_name), here)
        assert build is not None  # transforms reserve no names
        ops.append(build(arg, f"{here}.{op_name}"))  # type: ignore[arg-type]
        labels.append(str(op_name))
    return ops, labels


def _transform_object(item: Any) -> bool:
    """A transform object in a dict flow (not a mapping naming one)."""
    return not isinstance(item, Mapping | str) and callable(getattr(item, "apply", None))
