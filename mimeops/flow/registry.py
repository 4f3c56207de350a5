"""Where the names a flow uses come from: the built-ins and installed plugins, one registry.

A flow names transforms (`apply` items) and conditions (`when` keys). Each name is looked
up in one table that holds the engine's own built-ins and what installed packages
declare in the entry-point groups `mimeops.transforms` and `mimeops.conditions`
(docs/extending.md), so a plugin's name is used exactly like `banner` or `sender`:

    [project.entry-points."mimeops.transforms"]
    defang_links = "acme_mail.ops:DefangLinks"

A plugin's entry point (a class or factory) is imported only when a flow names it, and
called with the YAML value: a mapping as keyword arguments, null as no argument,
anything else as one positional argument. A ValueError or TypeError it raises is a load
error naming the rule, field and line, like a built-in's. A name registered twice (by a
built-in and a plugin, or by two plugins) is a load error naming both, when a flow uses
it: neither silently wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from mimeops.errors import FlowError
from mimeops.ops.base import Builder

TRANSFORMS = "mimeops.transforms"
CONDITIONS = "mimeops.conditions"


@dataclass(frozen=True)
class Kind:
    """What a registry holds: its entry-point group, the word for one item in messages,
    and the method every item must have."""

    group: str
    noun: str
    method: str


TRANSFORM = Kind(TRANSFORMS, "op", "apply")
CONDITION = Kind(CONDITIONS, "condition", "matches")


class Registry:
    """Built-in builders plus the plugins installed when the registry was made."""

    def __init__(self, kind: Kind, builtins: Mapping[str, Builder],
                 plugins: Mapping[str, list[EntryPoint]], reserved: tuple[str, ...] = ()
                 ) -> None:
        self.kind = kind
        self.builtins = builtins
        self.plugins = plugins
        #: Names the loader reads itself (`all`, `any`, `not`, `custom`): built-in too.
        self.reserved = reserved

    def names(self) -> list[str]:
        """Every name a flow may use, built-ins first."""
        own = [*self.builtins, *self.reserved]
        return [*own, *sorted(set(self.plugins) - set(own))]

    def builder(self, name: str, where: str) -> Builder | None:
        """The builder of `name` (None for a reserved name: the loader reads it itself);
        FlowError for an unknown or ambiguous name."""
        noun = self.kind.noun
        found = self.plugins.get(name, [])
        if (name in self.builtins or name in self.reserved) and found:
            raise FlowError(f"{where}: {noun} {name!r} is both mimeops' built-in and "
                            f"{origin(found[0])}: uninstall or rename the plugin's")
        if len(found) > 1:
            raise FlowError(f"{where}: {noun} {name!r} is registered by both "
                            f"{origin(found[0])} and {origin(found[1])}: uninstall one")
        if name in self.reserved:
            return None
        if name in self.builtins:
            return self.builtins[name]
        if found:
            return _plugin(found[0], self.kind)
        raise FlowError(f"{where}: unknown {noun} {name!r} (known: {', '.join(self.names())})")


def installed() -> dict[Kind, dict[str, list[EntryPoint]]]:
    """The plugins installed now, per kind, by name (several when names clash): one
    read of the installed distributions' metadata."""
    scanned = entry_points()
    found: dict[Kind, dict[str, list[EntryPoint]]] = {}
    for kind in (TRANSFORM, CONDITION):
        named = found.setdefault(kind, {})
        for entry in scanned.select(group=kind.group):
            if not any(_same(entry, seen) for seen in named.get(entry.name, [])):
                named.setdefault(entry.name, []).append(entry)
    return found


def _same(a: EntryPoint, b: EntryPoint) -> bool:
    """One distribution seen twice on sys.path (an editable install and a build dir)."""
    return a.value == b.value and _dist(a) == _dist(b)


def _dist(entry: EntryPoint) -> str:
    dist = entry.dist
    return dist.name if dist is not None else ""


def origin(entry: EntryPoint) -> str:
    """"plugin acme-mail 1.2 (acme_mail.ops:DefangLinks)": who registered a name."""
    dist = entry.dist
    package = f" {dist.name} {dist.version}" if dist is not None else ""
    return f"plugin{package} ({entry.value})"


def _plugin(entry: EntryPoint, kind: Kind) -> Builder:
    def build(value: Any, where: str) -> object:
        try:
            factory = entry.load()
        except Exception as error:  # an import error in the plugin: name it, at load
            raise FlowError(f"{where}: {origin(entry)} cannot be imported: "
                            f"{type(error).__name__}: {_one_line(error)}") from None
        made = call(factory, value, where)
        if not callable(getattr(made, kind.method, None)):
            raise FlowError(f"{where}: {origin(entry)} made a {type(made).__name__}, which "
                            f"has no {kind.method}(mail, context) method")
        return made

    return build


def call(factory: Any, value: Any, where: str) -> object:
    """`factory` called with a flow file's value: a mapping as keyword arguments, null as
    no argument, anything else as one positional argument. What it raises is a load
    error naming `where` (a ValueError or TypeError says what is wrong with the value;
    anything else is a fault of the plugin, named as such)."""
    if isinstance(value, Mapping) and not all(isinstance(key, str) for key in value):
        raise FlowError(f"{where}: argument names must be strings, got "
                        f"{sorted(map(repr, value))}")
    try:
        if isinstance(value, Mapping):
            return factory(**value)
        return factory() if value is None else factory(value)
    except (ValueError, TypeError) as error:
        raise FlowError(f"{where}: {_one_line(error)}") from None
    except Exception as error:
        raise FlowError(f"{where}: the plugin failed: {type(error).__name__}: "
                        f"{_one_line(error)}") from None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
