"""How a command ends: its exit status, and at most one line on stderr saying why.

Both command lines (``epiphany-sim`` and ``nnmap``) run their work through ``exit_status``:

- 0 when done, or the status the work returns (1 for a result that failed its own check);
- 2 (``EXIT_ERROR``) for a ``SimError``, the project's own errors, each a message that says
  what to change, printed as ``<program>: error: <message>``; also for a file that could
  not be read or written after all (``OSError``) and for a machine too small for what
  passed every size check (``MemoryError``);
- 130 (``EXIT_INTERRUPTED``, the shell's status for SIGINT) for Ctrl-C, printed as
  ``<program>: interrupted``, never as a traceback;
- 143 (``EXIT_TERMINATED``, the shell's status for SIGTERM, 128 + 15) for ``kill``, a
  service manager stopping the job or a batch system's time limit, printed as
  ``<program>: terminated``.

SIGTERM is handled as Ctrl-C is: while the work runs it raises ``Terminated``, a
``KeyboardInterrupt``, so everything that cleans up after Ctrl-C (the output files'
temporaries, a sweep's cluster) cleans up after it too; only the line and the status differ.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from epiphany_sim.errors import SimError

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised where the work was, and cleaned up after as Ctrl-C is."""


def error_line(program: str, message: str) -> None:
    """Print ``<program>: error: <message>`` as one line on stderr."""
    print(f"{program}: error: {message}".replace("\n", " "), file=sys.stderr)


def interrupted(program: str) -> int:
    """Print ``<program>: interrupted`` on stderr; return ``EXIT_INTERRUPTED``."""
    print(f"{program}: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` meanwhile (only the main thread can own a signal handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_status(program: str, work: Callable[[], int]) -> int:
    """Run ``work`` and return the exit status it ends with (see the module docstring)."""
    try:
        with sigterm_raises():
            return work()
    except SimError as exc:
        error_line(program, str(exc))
    except OSError as exc:
        error_line(program, f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc))
    except MemoryError:
        error_line(program, "out of memory: this machine cannot hold the simulation asked for")
    except Terminated:
        print(f"{program}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        return interrupted(program)
    except SystemExit as exc:  # argparse's --help and --version
        return int(exc.code or 0)
    return EXIT_ERROR
