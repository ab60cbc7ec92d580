"""Output files: claimed before the work, moved into place together, nothing left by a failure."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from epiphany_sim.errors import SimError
from epiphany_sim.files import OutputFiles, write_atomic


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process's umask after a test that sets its own."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_claimed_files_appear_only_at_commit(tmp_path: Path) -> None:
    with OutputFiles() as out:
        a = out.file(tmp_path / "a.json", "--json")
        b = out.file(tmp_path / "b.txt", "--trace")
        assert a == tmp_path / "a.json"
        assert b == tmp_path / "b.txt"
        out.write(a, '{"x": 1}\n')
        out.write(b, b"trace")
        assert not a.exists()
        assert not b.exists()
        assert len(list(tmp_path.glob(".a.json.*.tmp"))) == 1  # the claim made its temporary at once
    assert _names(tmp_path) == ["a.json", "b.txt"]
    assert (tmp_path / "a.json").read_text() == '{"x": 1}\n'
    assert (tmp_path / "b.txt").read_bytes() == b"trace"


def _interrupted(tmp_path: Path) -> None:
    with OutputFiles() as out:
        out.file(tmp_path / "old.json", "--json")
        out.directory(tmp_path / "figs")
        out.write(tmp_path / "old.json", "after")
        out.write(tmp_path / "figs" / "one.png", b"png")
        raise KeyboardInterrupt


def test_an_exception_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("before")
    with pytest.raises(KeyboardInterrupt):
        _interrupted(tmp_path)
    assert _names(tmp_path) == ["old.json"]  # the made directory went too, the old file stayed whole
    assert (tmp_path / "old.json").read_text() == "before"


def _claim_then_fail(directory: Path) -> None:
    with OutputFiles() as out:
        out.directory(directory)
        raise KeyboardInterrupt


def test_an_existing_directory_takes_files_and_stays(tmp_path: Path) -> None:
    figures = tmp_path / "figs"
    figures.mkdir()
    (figures / "mine.txt").write_text("kept")
    for round_ in range(2):  # the second run of a plot command writes over the first's figures
        with OutputFiles() as out:
            out.directory(figures)
            out.write(figures / "timeline.png", f"png {round_}".encode())
    assert _names(figures) == ["mine.txt", "timeline.png"]
    assert (figures / "timeline.png").read_bytes() == b"png 1"
    with pytest.raises(KeyboardInterrupt):
        _claim_then_fail(figures)
    assert _names(figures) == ["mine.txt", "timeline.png"]  # not made by the claim: not removed


@pytest.mark.parametrize(
    ("make", "claim", "message"),
    [
        (lambda p: p.mkdir(), "file", "cannot write {p}: it is a directory"),
        (lambda p: None, "missing", "cannot write {p}/x: directory {p} does not exist"),
        (lambda p: p.write_text(""), "directory", "cannot write into {p}: it is a file, not a directory"),
        (lambda p: None, "missing directory", "cannot create {p}/x: directory {p} does not exist"),
    ],
)
def test_bad_claims_fail_before_any_work(tmp_path: Path, make, claim: str, message: str) -> None:
    target = tmp_path / "t"
    make(target)
    out = OutputFiles()
    claims = {
        "file": lambda: out.file(target),
        "missing": lambda: out.file(target / "x"),
        "directory": lambda: out.directory(target),
        "missing directory": lambda: out.directory(target / "x"),
    }
    with pytest.raises(SimError, match="^" + message.format(p=target) + "$"):
        claims[claim]()
    assert _names(tmp_path) == ([] if claim.startswith("missing") else ["t"])


def test_the_same_file_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    out = OutputFiles()
    out.file(tmp_path / "x.json", "--json")
    with pytest.raises(SimError, match=f"^--json and --trace both name {tmp_path}/sub/../x.json$"):
        out.file(tmp_path / "sub" / ".." / "x.json", "--trace")
    out.discard()
    assert _names(tmp_path) == ["sub"]


def test_a_write_error_names_the_file_asked_for_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    """A full disk on the second file: the first is not placed either, and the message names the output."""
    real_open = open
    calls = []

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode:
            calls.append(path)
            if len(calls) == 2:
                raise OSError(28, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_disk)
    out = OutputFiles()
    out.file(tmp_path / "a.json")
    out.file(tmp_path / "b.png")
    out.write(tmp_path / "a.json", "{}")
    with pytest.raises(SimError) as caught:
        out.write(tmp_path / "b.png", b"png")
    out.discard()
    assert str(caught.value) == f"cannot write {tmp_path / 'b.png'}: No space left on device"
    assert _names(tmp_path) == []


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_umasks_permissions(tmp_path: Path, umask: None, mask: int, mode: int) -> None:
    os.umask(mask)
    write_atomic(tmp_path / "a.json", "{}")
    with OutputFiles() as out:
        out.directory(tmp_path / "figs")
        out.write(tmp_path / "figs" / "f.png", b"png")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "figs" / "f.png").stat().st_mode) == mode
