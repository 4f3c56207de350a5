"""The organization's directory: who the sender is, which groups people are in.

`Directory` is the protocol flows read (docs/directory.md); `load_directory` reads the
static directory file (`mimeops apply --directory DIR.yaml`); `CachedDirectory` puts a
TTL- and size-bounded cache in front of any directory. The WorkMail API implementation
lives on the AWS side, in `mimeops_workmail.directory`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mimeops.directory.base import Directory
from mimeops.directory.records import ATTRIBUTES, User
from mimeops.errors import DirectoryError, DirectoryUnavailable

if TYPE_CHECKING:
    from mimeops.directory.cache import CachedDirectory
    from mimeops.directory.static import Group, StaticDirectory, load_directory, parse_directory

# Loaded on first use: a flow without directory keys (and the Lambda's cold start) never
# needs the file reader (PyYAML) or the cache.
_LAZY = {"CachedDirectory": "cache", "Group": "static", "StaticDirectory": "static",
         "load_directory": "static", "parse_directory": "static"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"mimeops.directory.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ATTRIBUTES", "CachedDirectory", "Directory", "DirectoryError", "DirectoryUnavailable",
    "Group", "StaticDirectory", "User", "load_directory", "parse_directory",
]
