"""Output files written whole or not at all: a failure never leaves half a file behind."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from epiphany_sim.errors import SimError


def check_output_path(path: str | Path | None) -> None:
    """Raise ``SimError`` unless ``path`` (if given) can be written as a file.

    Called before any work, so a bad path costs nothing and leaves nothing behind.
    """
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise SimError(f"cannot write {path}: it is a directory")
    if not target.resolve().parent.is_dir():
        raise SimError(f"cannot write {path}: directory {target.parent} does not exist")


def write_atomic(path: str | Path, write: Callable[[str], Any], prefix: str | None = None) -> None:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then move it into place.

    ``prefix`` names the temporary file (by default a random name with ``path``'s suffix).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=path.suffix, prefix=prefix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, which JSON can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_json(data: Any, path: str | Path) -> None:
    """Write ``data`` as indented JSON (NaN as null), atomically."""
    text = json.dumps(json_safe(data), indent=2) + "\n"
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def write_bytes(data: bytes, path: str | Path) -> None:
    """Write ``data`` atomically."""
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
