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
last delivery. A ``Guest`` (compiled code running processes of its own) keeps its events
beside simpy's queue; ``step`` takes whichever comes first, and the guest advances the fabric
and reacts to its own wakes as ``step`` does.
"""

from __future__ import annotations

import heapq
import itertools
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
    draws from the same count as simpy's own events (``lend_order``)."""

    def head(self) -> tuple[float, int, int] | None:
        """Its first event's time, priority and order; None if it has none queued."""

    def run(self, before: tuple[float, int, int] | None) -> list[tuple[int, int]]:
        """Take its events that come before ``before`` (simpy's first event; None: there is none),
        advancing the fabric to each as ``step`` does. Returns the wakes of the tick it stopped at
        from the first that is not its own, for the environment to react to there (``claims``
        takes back those of its own among them)."""

    def claims(self, kind: int, ident: int) -> bool:
        """Whether a wake of the fabric is its own; if so, it has reacted to it."""

    def stop(self) -> None:
        """The simulation ended with its processes still waiting (a deadlock): hand back what it holds."""


class FabricEnvironment(simpy.Environment):
    """A simpy environment that advances ``fabric`` between its events, and takes a ``guest``'s in turn."""

    def __init__(self, fabric: Fabric) -> None:
        super().__init__()
        self.fabric = fabric
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
        if guest is None:
            self.fabric.react(wakes)
            return
        for kind, ident in wakes:
            if not guest.claims(kind, ident):
                self.fabric.react([(kind, ident)])

    def lend_order(self, cell: np.ndarray) -> None:
        """Put in ``cell`` the count from which simpy draws each event's place among equals (its
        ``_eid``), for compiled code to draw from while it runs; ``take_order`` takes it back."""
        cell[0] = next(self._eid)

    def take_order(self, cell: np.ndarray) -> None:
        """Draw the next events' places from ``cell`` on (after ``lend_order``)."""
        self._eid = itertools.count(int(cell[0]))

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
