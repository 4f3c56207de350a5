"""The organization's directory: who the sender is, which groups people are in.

`Directory` is the protocol flows read (docs/directory.md); `load_directory` reads the
static directory file (`mimeops apply --directory DIR.yaml`); `CachedDirectory` puts a
TTL- and size-bounded cache in front of any directory. The WorkMail API implementation
lives on the AWS side, in `mimeops_workmail.directory`.
"""

from mimeops.directory.base import Directory
from mimeops.directory.cache import CachedDirectory
from mimeops.directory.records import ATTRIBUTES, User
from mimeops.directory.static import Group, StaticDirectory, load_directory, parse_directory
from mimeops.errors import DirectoryError, DirectoryUnavailable

__all__ = [
    "ATTRIBUTES", "CachedDirectory", "Directory", "DirectoryError", "DirectoryUnavailable",
    "Group", "StaticDirectory", "User", "load_directory", "parse_directory",
]
