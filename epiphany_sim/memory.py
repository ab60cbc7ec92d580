"""Memories that hold real data: a core's banked local SRAM and the shared DRAM window.

Every memory is a window of the fabric's flat float32 image, so that a message arriving
over the interconnect lands where a core reads it. A buffer that has not been written holds
NaN, so a program that reads before the data has arrived computes NaN instead of a silently
right answer. Each buffer counts the elements written into it since allocation, by the
fabric or by its own core; a process waits on that count (the model of polling a flag that
the writer sets last).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import simpy

from epiphany_sim.errors import MemoryAccessError, SramOverflowError

if TYPE_CHECKING:
    from epiphany_sim.fabric import Fabric

ALIGN_BYTES = 8  # doubleword alignment, the width of one mesh transaction
WORD_BYTES = 4  # every buffer holds float32 values


def aligned_bytes(n_bytes: int) -> int:
    """The room ``n_bytes`` take once rounded up to the doubleword alignment."""
    return -(-n_bytes // ALIGN_BYTES) * ALIGN_BYTES


class Buffer:
    """A named, allocated region of float32 values.

    Attributes:
        name: unique within its memory.
        offset_bytes: start within the memory.
        data: the values (a view of the fabric's memory image); NaN until written.
        id: the fabric's number for it.
        waiters: ``(count, event)`` pairs to trigger once ``written`` reaches ``count``.
    """

    __slots__ = ("name", "offset_bytes", "data", "id", "waiters", "_fabric", "_base_word")

    def __init__(
        self, name: str, offset_bytes: int, data: np.ndarray, fabric: Fabric, ident: int, base_word: int
    ) -> None:
        self.name = name
        self.offset_bytes = offset_bytes
        self.data = data
        self.id = ident
        self._base_word = base_word
        self.waiters: list[tuple[int, simpy.Event]] = []
        self._fabric = fabric

    @property
    def n_bytes(self) -> int:
        return int(self.data.nbytes)

    def word(self, index: int) -> int:
        """The memory image's word that holds element ``index``."""
        return self._base_word + index

    @property
    def written(self) -> int:
        """Elements written since allocation (cumulative, never reset)."""
        return self._fabric.written(self.id)

    def check_range(self, offset: int, n: int) -> None:
        """Raise ``MemoryAccessError`` unless ``n`` elements at ``offset`` lie inside the buffer."""
        if offset < 0 or offset + n > len(self.data):
            raise MemoryAccessError(
                f"write of {n} elements at {offset} overflows buffer {self.name!r} of {len(self.data)} elements"
            )

    def store(self, offset: int, values: np.ndarray) -> None:
        """Write ``values`` at element ``offset`` (a core's own store) and wake the waiters now satisfied."""
        n = len(values)
        self.check_range(offset, n)
        self.data[offset : offset + n] = values
        self._count(n)

    def store_one(self, index: int, value: float | np.floating) -> None:
        """``store`` of one value (a kernel's result), without an array around it."""
        self.check_range(index, 1)
        self.data[index] = value
        self._count(1)

    def _count(self, n: int) -> None:
        """Count ``n`` elements its own core stored and wake the waiters now satisfied."""
        self._fabric.count_written(self.id, n)
        if self.waiters:
            self.wake_ready()

    def add_waiter(self, count: int, event: simpy.Event) -> None:
        """Trigger ``event`` once ``written`` reaches ``count``."""
        self.waiters.append((count, event))
        self._fabric.wake_at(self.id, min(c for c, _ in self.waiters))

    def wake_ready(self) -> None:
        """Trigger the waiters whose count has been reached; ask the fabric for the next."""
        written = self.written
        still = []
        for count, event in self.waiters:
            if written >= count:
                event.succeed()
            else:
                still.append((count, event))
        self.waiters = still
        if still:
            self._fabric.wake_at(self.id, min(c for c, _ in still))

    def load(self, offset: int = 0, n: int | None = None) -> np.ndarray:
        """A copy of ``n`` elements from ``offset`` (all by default)."""
        n = len(self.data) - offset if n is None else n
        if offset < 0 or n < 0 or offset + n > len(self.data):
            raise MemoryAccessError(f"read of {n} elements at {offset} is outside buffer {self.name!r}")
        return self.data[offset : offset + n].copy()


class Memory:
    """A flat memory with a bump allocator of named buffers.

    Args:
        where: what to call it in messages.
        capacity_bytes: its size.
        fabric: the fabric whose memory image holds it.
        base_word: where it starts in that image.
        reserved_bytes: bytes at its start that no buffer may take.
    """

    def __init__(
        self, where: str, capacity_bytes: int, fabric: Fabric, base_word: int, reserved_bytes: int = 0
    ) -> None:
        self.where = where
        self.capacity_bytes = capacity_bytes
        self.reserved_bytes = reserved_bytes
        self.buffers: dict[str, Buffer] = {}
        self._fabric = fabric
        self._base_word = base_word
        self._top = reserved_bytes
        self.peak_bytes = reserved_bytes

    @property
    def free_bytes(self) -> int:
        return self.capacity_bytes - self._top

    @property
    def used_bytes(self) -> int:
        return self._top

    def alloc(self, name: str, n: int) -> Buffer:
        """Allocate ``n`` float32 elements, filled with NaN.

        Raises:
            SramOverflowError: the buffer does not fit; the message names the memory,
                the bytes needed and the bytes free.
        """
        if name in self.buffers:
            raise MemoryAccessError(f"{self.where}: buffer {name!r} is already allocated")
        if n < 0:
            raise MemoryAccessError(f"{self.where}: buffer {name!r} cannot have {n} elements")
        size = aligned_bytes(n * WORD_BYTES)
        if size > self.free_bytes:
            raise SramOverflowError(self.where, name, size, self.free_bytes)
        word = self._base_word + self._top // WORD_BYTES
        data = self._fabric.memory[word : word + n]
        data[:] = np.nan
        buffer = Buffer(name, self._top, data, self._fabric, self._fabric.add_buffer(name, word, n), word)
        self._fabric.buffers.append(buffer)
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

    def __init__(
        self, where: str, capacity_bytes: int, banks: int, code_bytes: int, fabric: Fabric, base_word: int
    ) -> None:
        super().__init__(where, capacity_bytes, fabric, base_word, reserved_bytes=code_bytes)
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
