"""Output files: checked before any work, written whole, moved into place together.

A command's outputs go through one ``OutputFiles``. Each path is claimed (``file``,
``directory``) before the work starts: claiming a file creates a hidden temporary next to
it, which proves the path writable then rather than after an hour of simulation. At the
end ``write`` fills the temporaries and ``commit`` moves them all into place. A failure or
an interrupt before that (``discard``, which leaving a ``with`` block by an exception
calls) removes every temporary and every directory the claims made, so a failed command
leaves no file behind, not even half of one. Files get the permissions the umask gives
any new file.
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from epiphany_sim.errors import SimError

TEMPORARY_SUFFIX = ".tmp"
"""Temporaries are named ``.<name>.<random>.tmp`` beside the file they become."""


def check_output_path(path: str | Path | None) -> None:
    """Raise ``SimError`` unless ``path`` (if given) names a file in an existing directory."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise SimError(f"cannot write {path}: it is a directory")
    if not target.resolve().parent.is_dir():
        raise SimError(f"cannot write {path}: directory {target.parent} does not exist")


def _temporary(target: Path) -> Path:
    """An empty new file beside ``target``, created with mode 0666 so that the umask decides."""
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}{TEMPORARY_SUFFIX}"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise SimError(f"cannot write {target}: {exc.strerror or exc}") from None
    return tmp


class OutputFiles:
    """The files one command writes: claimed first, moved into place together at the end.

    Use as a context manager: leaving the block normally commits, leaving it by an
    exception (``KeyboardInterrupt`` included) discards.
    """

    def __init__(self) -> None:
        self._claims: dict[Path, tuple[Path, Path, str]] = {}  # resolved path: (target, temporary, option)
        self._directories: set[Path] = set()
        self._made: list[Path] = []  # directories created by ``directory``, removed again by ``discard``
        self._written: set[Path] = set()
        self.placed: list[Path] = []
        """The files ``commit`` moved into place, as named (what a command reports it wrote)."""

    def file(self, path: str | Path | None, option: str = "") -> Path | None:
        """Claim ``path`` (if given) for a file; ``option`` names it in messages. Returns the path."""
        if not path:
            return None
        target = Path(path)
        check_output_path(target)
        key = target.resolve()
        if key in self._claims:
            raise SimError(f"{self._claims[key][2] or 'one output'} and {option or 'another'} both name {path}")
        self._claims[key] = (target, _temporary(target), option)
        return target

    def directory(self, path: str | Path | None) -> Path | None:
        """Claim a directory (if given) for files named later; made if missing, its parent must exist."""
        if not path:
            return None
        directory = Path(path)
        if directory.exists() and not directory.is_dir():
            raise SimError(f"cannot write into {path}: it is a file, not a directory")
        if not directory.exists():
            if not directory.resolve().parent.is_dir():
                raise SimError(f"cannot create {path}: directory {directory.parent} does not exist")
            try:
                directory.mkdir()
            except OSError as exc:
                raise SimError(f"cannot create {path}: {exc.strerror or exc}") from None
            self._made.append(directory)
        _temporary(directory / "probe").unlink()
        self._directories.add(directory.resolve())
        return directory

    def write(self, path: str | Path, data: str | bytes) -> None:
        """Fill the temporary of ``path``, a claimed file or a file in a claimed directory."""
        target = Path(path)
        key = target.resolve()
        if key not in self._claims:
            if key.parent not in self._directories:
                raise ValueError(f"{path} was not claimed")
            self._claims[key] = (target, _temporary(target), "")
        tmp = self._claims[key][1]
        try:
            with open(tmp, "wb") as fh:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        except OSError as exc:
            raise SimError(f"cannot write {target}: {exc.strerror or exc}") from None
        self._written.add(key)

    def commit(self) -> list[Path]:
        """Move every written file into place (claimed files never written are dropped); return their paths."""
        placed = []
        try:
            for key, (target, tmp, _) in self._claims.items():
                if key in self._written:
                    os.replace(tmp, target)
                    placed.append(target)
                else:
                    tmp.unlink(missing_ok=True)
        except OSError as exc:
            self.discard()
            raise SimError(f"cannot write {exc.filename or 'an output'}: {exc.strerror or exc}") from None
        self._claims.clear()
        self.placed += placed
        return placed

    def discard(self) -> None:
        """Remove every temporary, and the directories the claims made if nothing else is in them."""
        for _, tmp, _ in self._claims.values():
            tmp.unlink(missing_ok=True)
        self._claims.clear()
        for directory in reversed(self._made):
            try:
                directory.rmdir()
            except OSError:
                pass  # something else was put there meanwhile: not ours to remove
        self._made.clear()

    def __enter__(self) -> OutputFiles:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write one file whole or not at all."""
    with OutputFiles() as out:
        out.file(path)
        out.write(path, data)


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of the ``.npy`` file ``numpy.save`` writes."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, which JSON can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_text(data: Any) -> str:
    """``data`` as indented JSON text (NaN as null), ending in a newline."""
    return json.dumps(json_safe(data), indent=2) + "\n"


def write_json(data: Any, path: str | Path) -> None:
    """Write ``data`` as indented JSON (NaN as null), atomically."""
    write_atomic(path, json_text(data))
