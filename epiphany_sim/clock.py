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

import simpy
from simpy.core import EmptySchedule

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
        if fabric.busy:
            queue = self._queue
            limit = math.ceil(queue[0][0] * TICKS_PER_CYCLE - 1e-9) if queue else int(NEVER)
            if limit > fabric.tick:
                tick, wakes = fabric.advance(limit)
                if wakes:
                    # The wakes' tick comes before every queued event: it is this step's. The time is
                    # reached as simpy reaches a scheduled one (now plus the delay), to the last bit.
                    self._now += tick / TICKS_PER_CYCLE - self._now
                    fabric.react(wakes)
                    return
        if not self._queue:
            self._now = max(self._now, fabric.last_delivery_cycle)
            raise EmptySchedule
        super().step()
