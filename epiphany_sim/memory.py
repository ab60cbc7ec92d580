"""Memories that hold real data: a core's banked local SRAM and the shared DRAM window.

A buffer that has not been written holds NaN, so a program that reads before the data has
arrived computes NaN instead of a silently right answer. Each buffer counts the elements
written into it since allocation; a process waits on that count (the model of polling a
flag that the writer sets last).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from epiphany_sim.errors import MemoryAccessError, SramOverflowError

ALIGN_BYTES = 8  # doubleword alignment, the width of one mesh transaction


def aligned_bytes(n_bytes: int) -> int:
    """The room ``n_bytes`` take once rounded up to the doubleword alignment."""
    return -(-n_bytes // ALIGN_BYTES) * ALIGN_BYTES


@dataclass
class Buffer:
    """A named, allocated region holding float32 (or other) values.

    Attributes:
        name: unique within its memory.
        offset_bytes: start within the memory.
        data: the values; NaN until written (for float buffers).
        written: elements written since allocation (cumulative, never reset).
        waiters: ``(count, event)`` pairs to trigger once ``written`` reaches ``count``.
    """

    name: str
    offset_bytes: int
    data: np.ndarray
    written: int = 0
    waiters: list[tuple[int, simpy.Event]] = field(default_factory=list)

    @property
    def n_bytes(self) -> int:
        return int(self.data.nbytes)

    def store(self, offset: int, values: np.ndarray) -> None:
        """Write ``values`` at element ``offset`` and wake the waiters now satisfied."""
        n = len(values)
        data = self.data
        end = offset + n
        if offset < 0 or end > len(data):
            raise MemoryAccessError(
                f"write of {n} elements at {offset} overflows buffer {self.name!r} of {len(data)} elements"
            )
        data[offset:end] = values
        self.written += n
        if self.waiters:
            still = []
            for count, event in self.waiters:
                if self.written >= count:
                    event.succeed()
                else:
                    still.append((count, event))
            self.waiters = still

    def load(self, offset: int = 0, n: int | None = None) -> np.ndarray:
        """A copy of ``n`` elements from ``offset`` (all by default)."""
        n = len(self.data) - offset if n is None else n
        if offset < 0 or n < 0 or offset + n > len(self.data):
            raise MemoryAccessError(f"read of {n} elements at {offset} is outside buffer {self.name!r}")
        return self.data[offset : offset + n].copy()


class Memory:
    """A flat memory with a bump allocator of named buffers."""

    def __init__(self, where: str, capacity_bytes: int, reserved_bytes: int = 0) -> None:
        self.where = where
        self.capacity_bytes = capacity_bytes
        self.reserved_bytes = reserved_bytes
        self.buffers: dict[str, Buffer] = {}
        self._top = reserved_bytes
        self.peak_bytes = reserved_bytes

    @property
    def free_bytes(self) -> int:
        return self.capacity_bytes - self._top

    @property
    def used_bytes(self) -> int:
        return self._top

    def alloc(self, name: str, n: int, dtype: type = np.float32) -> Buffer:
        """Allocate ``n`` elements, filled with NaN (zeros for integer types).

        Raises:
            SramOverflowError: the buffer does not fit; the message names the memory,
                the bytes needed and the bytes free.
        """
        if name in self.buffers:
            raise MemoryAccessError(f"{self.where}: buffer {name!r} is already allocated")
        if n < 0:
            raise MemoryAccessError(f"{self.where}: buffer {name!r} cannot have {n} elements")
        data = np.full(n, np.nan, dtype=dtype) if np.issubdtype(dtype, np.floating) else np.zeros(n, dtype)
        size = aligned_bytes(data.nbytes)
        if size > self.free_bytes:
            raise SramOverflowError(self.where, name, size, self.free_bytes)
        buffer = Buffer(name, self._top, data)
        self._top += size
        self.peak_bytes = max(self.peak_bytes, self._top)
        self.buffers[name] = buffer
        return buffer

    def __getitem__(self, name: str) -> Buffer:
        try:
            return self.buffers[name]
        except KeyError:
            raise MemoryAccessError(f"{self.where}: no buffer named {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.buffers

    def usage(self) -> dict[str, int]:
        """Bytes per buffer, in allocation order, with the reserved code area first."""
        table = {"code": self.reserved_bytes} if self.reserved_bytes else {}
        table.update({name: b.n_bytes for name, b in self.buffers.items()})
        return table


class LocalSram(Memory):
    """A core's local SRAM: ``sram_bytes`` in ``sram_banks`` equal banks.

    Bank 0 opens with the interrupt vector table and holds the program; that code area
    (``code_bytes``) is reserved before any data buffer.
    """

    def __init__(self, where: str, capacity_bytes: int, banks: int, code_bytes: int) -> None:
        super().__init__(where, capacity_bytes, reserved_bytes=code_bytes)
        self.bank_bytes = capacity_bytes // banks
        self.banks = banks

    def bank_of(self, name: str) -> int:
        """The bank a buffer starts in."""
        return self[name].offset_bytes // self.bank_bytes

    def bank_usage(self) -> list[int]:
        """Bytes taken in each bank (code and alignment padding included)."""
        used = [0] * self.banks
        regions = [(0, self.reserved_bytes)] + [
            (b.offset_bytes, aligned_bytes(b.n_bytes)) for b in self.buffers.values()
        ]
        for start, size in regions:
            end = start + size
            while start < end:
                bank = start // self.bank_bytes
                chunk = min(end, (bank + 1) * self.bank_bytes) - start
                used[bank] += chunk
                start += chunk
        return used
