"""How each training step's inputs and targets reach the cores that read them.

Cores read a step's inputs from buffer ``x`` and its targets from ``t``, both holding two
rows (the row is the step's parity), so the next sample can arrive while this one is used.
Two ways to fill them:

- ``HostFeed`` (the scheme's first step, once per sample): the host writes the sample into the
  first core of the chain over the eLink; that core passes it on to its neighbour and the
  cores relay it along the chain. Every reader tells the first core when it is done
  with a sample, and the first core tells the host (a flag per chain, so several chains
  can share a chip), so a row is never overwritten while a core still reads it. The first
  core forwards the next sample at the end of each step, while the host already writes
  the one after.
- ``DramFeed``: the dataset stays in the shared DRAM and each reader fetches its own part at
  the start of each step with blocking remote reads (each 8-byte transaction pays the
  read network and the DRAM latency).

The host puts the dataset in DRAM at no simulated cost: the DRAM window is its own memory.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from epiphany_sim.chip import Chip
from epiphany_sim.mesh import HOST, Coord
from epiphany_sim.registry import Registry
from nnmap.buffers import DONE, T_DRAM, X_DRAM, T, X, fed
from nnmap.programs import Op, ReadDram, Relay, Send, Signal, Wait

SAMPLE_FEEDS: Registry[type[SampleFeed]] = Registry("sample feed")
"""Every way samples reach a training chain, by name, in the order they are defined here (``@SAMPLE_FEEDS.add``)."""


class SampleFeed:
    """Delivers samples to a chain of cores.

    Args:
        chain: the cores in chain order.
        n_in: inputs per sample.
        n_out: targets per sample.
        x_ranges: per chain position, the ``(start, stop)`` of the inputs it reads, or None
            (``x_range`` builds one from a core's runs of inputs).
        t_runs: per chain position, the ``(start, length)`` runs of targets it reads.
    """

    name = ""

    def __init__(
        self,
        chain: list[Coord],
        n_in: int,
        n_out: int,
        x_ranges: list[tuple[int, int] | None],
        t_runs: list[list[tuple[int, int]]],
    ) -> None:
        self.chain = chain
        self.n_in = n_in
        self.n_out = n_out
        self.x_ranges = x_ranges
        self.t_runs = t_runs

    def reads(self, k: int) -> bool:
        return self.x_ranges[k] is not None or bool(self.t_runs[k])

    def buffers(self, k: int) -> dict[str, int]:
        """Buffers chain core ``k`` needs."""
        out = {}
        if self.x_ranges[k] is not None:
            out[X] = 2 * self.n_in
        if self.t_runs[k]:
            out[T] = 2 * self.n_out
        return out

    def dram(self, n_samples: int) -> dict[str, int]:
        """DRAM buffers (name to elements)."""
        return {X_DRAM: n_samples * self.n_in, T_DRAM: n_samples * self.n_out}

    def relays(self) -> dict[Coord, list[Relay]]:
        return {}

    def load_dram(self, chip: Chip, x: np.ndarray, t: np.ndarray) -> None:
        """Put the dataset in the host's DRAM (allocated from ``dram``)."""
        chip.dram[X_DRAM].store(0, x.reshape(-1))
        chip.dram[T_DRAM].store(0, t.reshape(-1))

    def before(self, k: int, step: int, row: int, first: bool) -> list[Op]:
        """Ops that leave sample ``row`` in row ``step % 2`` of core ``k``'s buffers.

        ``first``: the step starts a run of steps (an epoch), so nothing was prefetched.
        """
        raise NotImplementedError

    def after(self, k: int, step: int, next_row: int | None) -> list[Op]:
        """Ops at the end of core ``k``'s step ``step``; ``next_row`` is the next step's sample, if any."""
        return []

    def host(
        self, chip: Chip, first_step: int, rows: list[int], x: np.ndarray, t: np.ndarray
    ) -> Generator[simpy.Event, Any, None] | None:
        """The host's process for steps ``first_step, ...`` on samples ``rows``, if it has one."""
        return None


@SAMPLE_FEEDS.add
class DramFeed(SampleFeed):
    name = "dram"

    def before(self, k: int, step: int, row: int, first: bool) -> list[Op]:
        ops: list[Op] = []
        base = step % 2
        if self.x_ranges[k] is not None:
            lo, hi = self.x_ranges[k]  # type: ignore[misc]
            ops.append(ReadDram(X_DRAM, row * self.n_in + lo, X, base * self.n_in + lo, hi - lo, f"read x[{lo}:{hi}]"))
        ops += [
            ReadDram(T_DRAM, row * self.n_out + s, T, base * self.n_out + s, n, f"read t[{s}:{s + n}]")
            for s, n in self.t_runs[k]
        ]
        return ops


@SAMPLE_FEEDS.add
class HostFeed(SampleFeed):
    name = "host"

    def _readers(self) -> int:
        return sum(self.reads(k) for k in range(1, len(self.chain)))

    def buffers(self, k: int) -> dict[str, int]:
        out = {X: 2 * self.n_in, T: 2 * self.n_out}  # every core: it may have to relay them
        if k == 0 and self._readers():
            out[DONE] = 1
        return out

    @property
    def flag(self) -> str:
        """The DRAM flag in which the first core counts the samples it has finished, named after it."""
        return fed(self.chain[0])

    def dram(self, n_samples: int) -> dict[str, int]:
        return {**super().dram(n_samples), self.flag: 1}

    def relays(self) -> dict[Coord, list[Relay]]:
        c = self.chain
        return {c[k]: [Relay(name, c[k - 1], c[k + 1]) for name in (X, T)] for k in range(1, len(c) - 1)}

    def _forward(self, step: int) -> list[Op]:
        """Core 0 passes sample ``step`` on once every reader is done with the one two steps back."""
        ops: list[Op] = []
        if step >= 2 and self._readers():  # each reader signals once per step it finishes
            ops.append(Wait(DONE, (step - 1) * self._readers(), "wait readers done"))
        base_x, base_t = (step % 2) * self.n_in, (step % 2) * self.n_out
        ops += [Wait(X, (step + 1) * self.n_in, "wait inputs"), Wait(T, (step + 1) * self.n_out, "wait targets")]
        if len(self.chain) > 1:
            ops += [
                Send(self.chain[1], X, base_x, X, base_x, self.n_in, "pass inputs on"),
                Send(self.chain[1], T, base_t, T, base_t, self.n_out, "pass targets on"),
            ]
        return ops

    def before(self, k: int, step: int, row: int, first: bool) -> list[Op]:
        if k == 0:
            return self._forward(step) if first else []
        ops: list[Op] = []
        if self.x_ranges[k] is not None:
            ops.append(Wait(X, (step + 1) * self.n_in, "wait inputs"))
        if self.t_runs[k]:
            ops.append(Wait(T, (step + 1) * self.n_out, "wait targets"))
        return ops

    def after(self, k: int, step: int, next_row: int | None) -> list[Op]:
        if k > 0:
            return [Signal(self.chain[0], DONE, 0, float(step + 1), "done with sample")] if self.reads(k) else []
        ops: list[Op] = [Signal(HOST, self.flag, 0, float(step + 1), "done with sample")]
        return ops + (self._forward(step + 1) if next_row is not None else [])

    def host(
        self, chip: Chip, first_step: int, rows: list[int], x: np.ndarray, t: np.ndarray
    ) -> Generator[simpy.Event, Any, None]:
        host, first = chip.host, self.chain[0]
        host.segment = "feed"
        for i, row in enumerate(rows):
            step = first_step + i
            if step >= 2:  # row step % 2 of core 0 is free once it has finished step - 2
                yield from host.wait(self.flag, step - 1, f"wait for core {first}")
            yield from host.write(first, X, (step % 2) * self.n_in, x[row], f"sample {row} inputs")
            yield from host.write(first, T, (step % 2) * self.n_out, t[row], f"sample {row} targets")


def x_range(starts_and_counts: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The smallest ``(start, stop)`` holding every ``(start, count)`` run, or None for none."""
    if not starts_and_counts:
        return None
    return min(s for s, _ in starts_and_counts), max(s + n for s, n in starts_and_counts)
