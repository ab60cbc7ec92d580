"""How a command ends: its exit status, and at most one line on stderr saying why.

Both command lines (``epiphany-sim`` and ``nnmap``) run their work through ``exit_status``:

- 0 when done, or the status the work returns (1 for a result that failed its own check);
- 2 (``EXIT_ERROR``) for a ``SimError``, the project's own errors, each a message that says
  what to change, printed as ``<program>: error: <message>``; also for a file that could
  not be read or written after all (``OSError``) and for a machine too small for what
  passed every size check (``MemoryError``);
- 130 (``EXIT_INTERRUPTED``, the shell's status for SIGINT) for Ctrl-C, printed as
  ``<program>: interrupted``, never as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from epiphany_sim.errors import SimError

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def error_line(program: str, message: str) -> None:
    """Print ``<program>: error: <message>`` as one line on stderr."""
    print(f"{program}: error: {message}".replace("\n", " "), file=sys.stderr)


def interrupted(program: str) -> int:
    """Print ``<program>: interrupted`` on stderr; return ``EXIT_INTERRUPTED``."""
    print(f"{program}: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def exit_status(program: str, work: Callable[[], int]) -> int:
    """Run ``work`` and return the exit status it ends with (see the module docstring)."""
    try:
        return work()
    except SimError as exc:
        error_line(program, str(exc))
    except OSError as exc:
        error_line(program, f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc))
    except MemoryError:
        error_line(program, "out of memory: this machine cannot hold the simulation asked for")
    except KeyboardInterrupt:
        return interrupted(program)
    except SystemExit as exc:  # argparse's --help and --version
        return int(exc.code or 0)
    return EXIT_ERROR
