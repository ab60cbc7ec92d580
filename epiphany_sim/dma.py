"""DMA descriptors: which elements a transfer moves, and in what shape.

A descriptor of the Epiphany's DMA engine (architecture reference, "DMA Descriptors")
moves ``outer`` rows of ``inner`` elements: the inner stride steps between the elements of
a row, the outer stride between the starts of two rows, on the source and on the
destination alike. A chain of descriptors runs on one channel, one after the other, as the
engine's chain mode fetches the next descriptor when one finishes. Strides here count
elements (float32 values), not bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epiphany_sim.errors import SimError


@dataclass(frozen=True)
class Descriptor:
    """One DMA transfer between a buffer of one node and a buffer of another.

    Attributes:
        src: the node the elements are read from (a core coordinate or ``HOST``).
        src_buffer: its buffer.
        dst: the node they are written to.
        dst_buffer: its buffer.
        inner: elements per row.
        outer: rows.
        src_offset: the first element read.
        dst_offset: the first element written.
        src_inner_stride: elements between two read in a row.
        src_outer_stride: elements between the first elements of two rows read (default:
            the rows follow each other, ``inner * src_inner_stride``).
        dst_inner_stride: elements between two written in a row.
        dst_outer_stride: elements between the first elements of two rows written (default:
            ``inner * dst_inner_stride``).
    """

    src: tuple
    src_buffer: str
    dst: tuple
    dst_buffer: str
    inner: int
    outer: int = 1
    src_offset: int = 0
    dst_offset: int = 0
    src_inner_stride: int = 1
    src_outer_stride: int | None = None
    dst_inner_stride: int = 1
    dst_outer_stride: int | None = None

    def __post_init__(self) -> None:
        counts = ("inner", "outer", "src_offset", "dst_offset", "src_inner_stride", "dst_inner_stride")
        strides = ("src_outer_stride", "dst_outer_stride")
        for name in counts + strides:
            value = getattr(self, name)
            if not (value is None and name in strides) and (isinstance(value, bool) or not isinstance(value, int)):
                raise SimError(f"a DMA descriptor's {name} counts elements: an integer, got {value!r}")
        if self.inner < 1 or self.outer < 1:
            raise SimError(f"a DMA descriptor moves at least one element: inner {self.inner}, outer {self.outer}")

    def _indices(self, offset: int, inner_stride: int, outer_stride: int | None) -> np.ndarray:
        if outer_stride is None:
            outer_stride = self.inner * inner_stride
        rows = offset + outer_stride * np.arange(self.outer)
        return (rows[:, None] + inner_stride * np.arange(self.inner)[None, :]).reshape(-1)

    def source_indices(self) -> np.ndarray:
        """The elements read, in the order they are moved."""
        return self._indices(self.src_offset, self.src_inner_stride, self.src_outer_stride)

    def target_indices(self) -> np.ndarray:
        """The elements written, in the same order."""
        return self._indices(self.dst_offset, self.dst_inner_stride, self.dst_outer_stride)


def runs(*indices: np.ndarray) -> list[tuple[int, int]]:
    """Split positions ``0..n`` into ``(start, length)`` runs along which every index array
    goes up by one at each step (each run is contiguous in all of them)."""
    n = len(indices[0])
    breaks = np.zeros(n, dtype=bool)
    breaks[0] = True
    for index in indices:
        breaks[1:] |= np.diff(index) != 1
    starts = np.flatnonzero(breaks).tolist() + [n]
    return [(first, stop - first) for first, stop in zip(starts, starts[1:], strict=False)]
