"""The built-in transforms a rule applies: classes on the public Mail API, like a plugin's.

`BUILTINS` is what the flow's registry (`mimeops.flow.registry`) offers besides the
installed plugins: name -> builder from the flow file's value.
"""

from functools import partial

from mimeops.ops import body, header, subject
from mimeops.ops.base import Builder

BUILTINS: dict[str, Builder] = {
    "banner": partial(body.build, "banner"),
    "footer": partial(body.build, "footer"),
    "subject_prefix": subject.build,
    "add_header": partial(header.build, "add_header"),
    "set_header": partial(header.build, "set_header"),
    "remove_header": partial(header.build, "remove_header"),
}

__all__ = ["BUILTINS"]
