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

import math
from collections.abc import Callable

import simpy

from epiphany_sim.config import TICKS_PER_CYCLE
from epiphany_sim.fabric import Fabric
from epiphany_sim.fabric_kernel import NEVER


class FabricEnvironment(simpy.Environment):
    """A simpy environment that advances ``fabric`` between its events."""

    def __init__(self, fabric: Fabric) -> None:
        super().__init__()
        self.fabric = fabric

    def step(self) -> None:
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
                    self._at(following, lambda _: fabric.react(wakes))
        if following == math.inf and fabric.last_delivery_cycle > self.now:
            self._at(fabric.last_delivery_cycle, lambda _: None)  # the clock ends at the last delivery
        simpy.Environment.step(self)  # named rather than super(): this runs once per event

    def _at(self, cycle: float, then: Callable[[simpy.Event], None]) -> None:
        """Schedule an event at ``cycle`` (before every queued one) that runs ``then``."""
        simpy.Timeout(self, cycle - self.now).callbacks.append(then)
