"""What an error message may show a client: no memory addresses, object reprs or server paths.

The messages themselves are written to be safe, but some quote a library's
exception text (Pillow's "cannot identify image file <_io.BytesIO object at
0x...>", an `OSError` naming a file). Both apps pass every message they send
through `redact`, the last check before a message leaves the server.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath

# `<_io.BytesIO object at 0x7f...>`, `<function f at 0x...>`: the repr of an object.
_OBJECT_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
# An absolute POSIX path of at least two parts: "/tmp/x/audit.db", "/work/artifacts/runs".
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/[\w.@+-]+(?:/[\w.@+-]*)+")


def _shorten(match: re.Match) -> str:
    """A server path as its last part; an API route ("/api/models") has no folder on disk and is kept."""
    path = PurePosixPath(match.group(0))
    if not os.path.isdir(f"/{path.parts[1]}"):
        return match.group(0)
    return path.name or "a server folder"


def redact(message: str) -> str:
    """`message` without object reprs, memory addresses or server paths (a path becomes its file name)."""
    message = _OBJECT_REPR.sub("the upload", message)
    message = _ADDRESS.sub("an address", message)
    return _ABSOLUTE_PATH.sub(_shorten, message)
