"""One timeline for the simpy processes (cores, host) and the compiled fabric.

The processes run on a simpy environment; the fabric (``epiphany_sim.fabric``) counts ticks
of half a cycle in compiled code. ``FabricEnvironment`` keeps them consistent: before simpy
processes its next event, at cycle ``c``, the fabric simulates every tick before
``ceil(2c)``, so that what the processes read and write at ``c`` sees every delivery made
before it, and a write they post at ``c`` enters the fabric at the first tick not yet
simulated. The fabric stops early at a tick where it lands something a process waits for
(a buffer reaching the write count a core waits on, a blocking write leaving its core, a
message with a callback arriving); that becomes a simpy event at the tick's cycle, ahead of
the later events, and the processes it wakes may post writes that enter at that same tick.
When no simpy event is left, the fabric runs until it is idle, and the clock ends at its
last delivery.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
import simpy

from epiphany_sim.config import TICKS_PER_CYCLE
from epiphany_sim.fabric import Fabric
from epiphany_sim.fabric_kernel import NEVER


class Guest(Protocol):
    """Events kept outside simpy's queue (compiled code running processes of its own), taken in turn
    with simpy's: by time, then priority, then the order they were scheduled in, which the guest
    draws from the environment's ``order`` like simpy's own events."""

    def head(self) -> tuple[float, int, int] | None:
        """Its first event's time, priority and order; None if it has none queued."""

    def run(self, before: tuple[float, int, int] | None) -> list[tuple[int, int]]:
        """Take its events that come before ``before`` (simpy's first event; None: there is none),
        advancing the fabric to each as ``step`` does. Returns the fabric's wakes it stopped at that
        are not its own, for the environment to react to at their tick (the clock set there)."""

    def claims(self, kind: int, ident: int) -> bool:
        """Whether a wake of the fabric is its own; if so, it has reacted to it."""


class Order:
    """Simpy's count of the events scheduled, in a cell compiled code can count on too."""

    def __init__(self) -> None:
        self.cell = np.zeros(1, np.int64)

    def __iter__(self) -> Order:
        return self

    def __next__(self) -> int:
        n = int(self.cell[0])
        self.cell[0] = n + 1
        return n


class FabricEnvironment(simpy.Environment):
    """A simpy environment that advances ``fabric`` between its events, and takes a ``guest``'s in turn."""

    def __init__(self, fabric: Fabric) -> None:
        super().__init__()
        self.fabric = fabric
        self.order = Order()
        self._eid = self.order  # type: ignore[assignment]  # simpy draws each event's place among equals from it
        self.guest: Guest | None = None

    def step(self) -> None:
        guest = self.guest
        if guest is not None:
            theirs = guest.head()
            if theirs is not None:
                mine = self._queue[0][:3] if self._queue else None
                if mine is None or theirs < mine:
                    self._react(guest.run(mine))
                    return
        fabric = self.fabric
        following = self.peek()
        if fabric.busy:
            # float(): the queue's times are numpy floats once a relay's cycles are paid (core.py),
            # and their arithmetic costs twice a float's; the value is the same.
            limit = math.ceil(float(following) * TICKS_PER_CYCLE - 1e-9) if following != math.inf else int(NEVER)
            if limit > fabric.tick:
                tick, wakes = fabric.advance(limit)
                if wakes:  # their tick comes before every queued event's time: they are this step's
                    following = tick / TICKS_PER_CYCLE
                    self._at(following, lambda _: self._react(wakes))
        if following == math.inf and fabric.last_delivery_cycle > self.now:
            self._at(fabric.last_delivery_cycle, lambda _: None)  # the clock ends at the last delivery
        simpy.Environment.step(self)  # named rather than super(): this runs once per event

    def _at(self, cycle: float, then: Callable[[simpy.Event], None]) -> None:
        """Schedule an event at ``cycle`` (before every queued one) that runs ``then``."""
        simpy.Timeout(self, cycle - self.now).callbacks.append(then)

    def _react(self, wakes: list[tuple[int, int]]) -> None:
        """React to the fabric's wakes in their order: the guest's by the guest, the others by Python."""
        guest = self.guest
        for kind, ident in wakes:
            if guest is None or not guest.claims(kind, ident):
                self.fabric.react([(kind, ident)])

    def set_now(self, now: float) -> None:
        """Move the clock to ``now``, the time of the guest's last event."""
        self._now = now

    def trigger_at(self, event: simpy.Event, at: float, priority: int, order: int) -> None:
        """Trigger ``event`` as one of the guest's, scheduled at ``at`` with ``priority`` as the
        ``order``-th event: simpy processes it in that place among its own."""
        event._ok = True
        event._value = None
        entry: tuple[float, int, int, simpy.Event] = (at, priority, order, event)
        heapq.heappush(self._queue, entry)  # type: ignore[misc]
