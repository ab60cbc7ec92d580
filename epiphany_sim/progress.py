"""What a running command tells its user on stderr: how far it is, and at the end which files it wrote.

A command line wraps its work in ``command(program, quiet)``; outside of one (the library,
the tests that call it) everything here is silent. Inside one:

- ``Bar`` counts the steps of a task (the ops the cores have taken, the strategies of a
  comparison, the epochs of a training run). On a terminal it is a tqdm bar. Anywhere else
  (a CI log, ``nohup``, a notebook's subprocess) it becomes lines such as
  ``nnmap compare: strategies: partitioned:dram (6/8) ...``: the latest state is printed at most
  once every ``LINE_INTERVAL_S`` seconds, the first one that long after the command started,
  so a quick command prints none and a long one is never silent for longer than that.
- ``phase`` names a step that has no count (one traffic run, one microbenchmark), the same way.
- ``compiling`` says, once, that the fabric is being compiled and how long that takes.
- ``wrote`` lists the files the command wrote, in one line, as its last word.

``quiet`` silences all of it.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

LINE_INTERVAL_S = 5.0
"""Off a terminal: the least time between two progress lines, and before the first."""

COMPILE_ESTIMATE = "about a minute, two to three on a busy machine"
"""How long numba takes to compile the fabric's loop and the loop that runs the cores' programs
with it: the first ``nnmap compare`` on an empty cache took 2 min 28 s on a 2-core VM (AMD EPYC,
CPython 3.11, numba 0.68) while a bare simpy loop ran at 0.6 M events/s, about 40% of its quiet
rate (the fabric's loop 2 min 6 s of it, alone, on a traffic run)."""


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """``--quiet``, which a command passes on to ``command``."""
    parser.add_argument(
        "--quiet", action="store_true", help="no progress on stderr, and no closing line of the files written"
    )


class _Command:
    """The progress state of the running command: where lines go, which is pending, when the last went."""

    def __init__(self, program: str, quiet: bool) -> None:
        self.program = program
        self.quiet = quiet
        self.terminal = sys.stderr.isatty()
        self.last_line = time.monotonic()  # the first line waits an interval too: quick commands say nothing
        self.pending: str | None = None
        self.timer: threading.Timer | None = None
        self.compiling_said = False
        self.lock = threading.Lock()

    def line(self, text: str, now: bool = False) -> None:
        """Print ``program: text`` once the interval since the last line is up (at once if ``now``)."""
        with self.lock:
            wait = self.last_line + LINE_INTERVAL_S - time.monotonic()
            if now or wait <= 0:
                self._print(text)
                return
            self.pending = text  # a newer state replaces an older one that has not been printed yet
            if self.timer is None:
                self.timer = threading.Timer(wait, self._flush)
                self.timer.daemon = True
                self.timer.start()

    def _flush(self) -> None:
        with self.lock:
            self.timer = None
            if self.pending is not None:
                self._print(self.pending)

    def _print(self, text: str) -> None:
        self.pending = None
        self.last_line = time.monotonic()
        message = f"{self.program}: {text}"
        if self.terminal:
            tqdm.write(message, file=sys.stderr)  # above any bar, which is redrawn below it
        else:
            print(message, file=sys.stderr, flush=True)

    def forget(self) -> None:
        """Drop the line waiting for its turn: the task it tells of is over."""
        with self.lock:
            self.pending = None

    def close(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            self.timer = None
            self.pending = None


_current: _Command | None = None


@contextmanager
def command(program: str, quiet: bool = False) -> Iterator[None]:
    """Report the progress of the work inside as ``program``'s (e.g. ``"nnmap compare"``), unless ``quiet``."""
    global _current
    previous, _current = _current, _Command(program, quiet)
    try:
        yield
    finally:
        _current.close()
        _current = previous


def _active() -> _Command | None:
    """The running command, if it reports anything."""
    return _current if _current is not None and not _current.quiet else None


def phase(text: str) -> None:
    """A step without a count begins: said once the interval is up, if the command still runs then."""
    cmd = _active()
    if cmd is not None:
        cmd.line(f"{text} ...")


def compiling() -> None:
    """Say, once per command and at once, that the fabric's loop is being compiled and how long that takes."""
    cmd = _active()
    if cmd is not None and not cmd.compiling_said:
        cmd.compiling_said = True
        cmd.line(
            f"compiling the simulator's fabric with numba, once per machine ({COMPILE_ESTIMATE}); "
            "later runs load it from disk",
            now=True,
        )


def wrote(paths: Iterable[str | Path]) -> None:
    """The command's last line: every file it wrote (nothing if it wrote none)."""
    cmd = _current
    names = [str(p) for p in paths]
    if cmd is not None and not cmd.quiet and names:
        print(f"wrote: {', '.join(names)}", file=sys.stderr, flush=True)


class Bar:
    """Progress over ``total`` steps of one task, named ``label`` and counted in ``unit``.

    Args:
        label: what the steps are of, e.g. ``"partitioned on e64"``.
        total: how many steps there are.
        unit: what a step is, e.g. ``"op"``.
        enabled: False for a task whose caller asked for no progress (the library's default).
    """

    def __init__(self, label: str, total: int, unit: str, enabled: bool = True) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done = 0
        self._cmd = _active() if enabled else None
        self._bar = (
            tqdm(total=total, desc=label, unit=unit, leave=False, file=sys.stderr)
            if self._cmd is not None and self._cmd.terminal
            else None
        )

    @property
    def shown(self) -> bool:
        """Whether updates go anywhere (a caller need not count steps nobody sees)."""
        return self._cmd is not None

    def begin(self, name: str) -> None:
        """The next step, ``name``, starts (a strategy, a trainer): a line such as ``strategies: dram (3/8) ...``."""
        if self._bar is not None:
            self._bar.set_postfix_str(name)
        elif self._cmd is not None:
            self._cmd.line(f"{self.label}: {name} ({self.done + 1}/{self.total}) ...")

    def update(self, n: int = 1, note: str = "", quietly: bool = False) -> None:
        """``n`` more steps done; ``note`` says how it stands (a loss, an accuracy).

        ``quietly``: counted on a terminal's bar but not worth a line of its own elsewhere
        (the next step's ``begin`` says more).
        """
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if note:
                self._bar.set_postfix_str(note, refresh=False)
        elif self._cmd is not None and not quietly:
            self._cmd.line(f"{self.label} {self.done}/{self.total} {self.unit}" + (f": {note}" if note else ""))

    def close(self) -> None:
        """The task is over: a terminal bar shows its final count, then goes."""
        if self._bar is not None:
            self._bar.refresh()  # the final count, even if the last updates fell inside tqdm's refresh interval
            self._bar.close()
        elif self._cmd is not None:
            self._cmd.forget()

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def each(items: Sequence[T], label: str, unit: str, names: Sequence[str] | None = None) -> Iterator[T]:
    """``items`` one by one, each announced as it starts (``names``, or the items as text) and counted when done."""
    with Bar(label, len(items), unit) as bar:
        for k, item in enumerate(items):
            bar.begin(names[k] if names is not None else str(item))
            yield item
            bar.update(quietly=True)
