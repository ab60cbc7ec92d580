"""The numbers behind the figures and the summaries, computed from runs without drawing.

``nnmap.run`` reports these figures and ``nnmap.plots`` draws them; neither computes them
on its own.
"""

from __future__ import annotations

from epiphany_sim.core import Agent
from epiphany_sim.stats import time_split


def core_utilisation(agent: Agent, start: float, end: float) -> float:
    """Fraction of ``[start, end)`` a core (or the host) spent computing; 0 for an empty span."""
    if end <= start:
        return 0.0
    return time_split(agent, start, end)["compute"] / (end - start)
