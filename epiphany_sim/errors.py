"""The simulator's own exception types; the CLIs turn them into one line and exit 2."""

from __future__ import annotations


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""


class ConfigError(SimError):
    """A chip configuration is malformed or inconsistent."""


class SramOverflowError(SimError):
    """An allocation does not fit a core's local SRAM (or the DRAM window).

    ``args`` are the constructor's arguments, so that the error survives simpy
    re-raising it from a process as ``type(exc)(*exc.args)``.
    """

    def __init__(self, where: str, name: str, bytes_needed: int, bytes_free: int) -> None:
        super().__init__(where, name, bytes_needed, bytes_free)
        self.where = where
        self.name = name
        self.bytes_needed = bytes_needed
        self.bytes_free = bytes_free

    def __str__(self) -> str:
        return (
            f"{self.where}: buffer {self.name!r} needs {self.bytes_needed} bytes "
            f"but only {self.bytes_free} bytes are free"
        )


class MemoryAccessError(SimError):
    """A write or read outside an allocated buffer."""


class TrafficError(SimError):
    """A synthetic traffic request is malformed or impossible on the chip."""


class DeadlockError(SimError):
    """The event queue emptied while processes still waited for data.

    ``args`` is ``(waiting,)``, so that the error survives simpy re-raising it from a
    process as ``type(exc)(*exc.args)``.
    """

    def __init__(self, waiting: list[str]) -> None:
        super().__init__(list(waiting))
        self.waiting = list(waiting)

    def __str__(self) -> str:
        return "deadlock: no event left but " + "; ".join(self.waiting)
