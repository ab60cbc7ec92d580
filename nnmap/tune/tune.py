"""``tune``: estimate the mapping space, simulate the best estimates, pick the fastest that validated.

The winner is the simulated candidate, validated against numpy, with the least simulated
figure of the objective (``nnmap.analysis.RANKINGS``); the estimate only chooses which
candidates are simulated.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from epiphany_sim import progress
from epiphany_sim.config import ChipConfig
from nnmap.analysis import RANKINGS
from nnmap.errors import MappingError
from nnmap.model import Network
from nnmap.tune.estimate import Estimate, errors
from nnmap.tune.runner import Job, simulate_all
from nnmap.tune.search import DEFAULT_BUDGET, Budget, Estimated, SearchResult, search
from nnmap.tune.space import Candidate

DEFAULT_TOP = 8
DEFAULT_OBJECTIVE = "total"


@dataclass
class Row:
    """A simulated candidate: its estimate, its run's figures (or its error) and the estimate's errors."""

    candidate: Candidate
    estimate: Estimate
    metrics: dict[str, Any]
    errors: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether it ran and matched numpy."""
        return "error" not in self.metrics and bool(self.metrics["validated"])


@dataclass
class TuneResult:
    """What ``tune`` did: the search, the simulated rows (best simulated first), the winner and the wall times."""

    objective: str
    searched: SearchResult
    rows: list[Row]
    winner: Row | None
    simulate_seconds: float

    @property
    def figure(self) -> str:
        """The run figure the objective names (``total_cycles``, ...)."""
        return RANKINGS[self.objective].figure


def simulated_first(estimated: Sequence[Estimated], top: int) -> list[Estimated]:
    """The ``top`` candidates to simulate, from ``estimated`` (best first): the best of each distinct estimate first.

    Candidates with the same estimate in every phase are ones the estimate cannot tell apart:
    the same mapping in another chain order (the estimate sees the order only through the hops
    along the chain), or deals that differ only in which outputs go where (a mix per layer that
    deals a layer as another of its strategies would). The best of each goes first; the others
    fill the slots that remain.
    """
    firsts: list[Estimated] = []
    others: list[Estimated] = []
    seen: set[Estimate] = set()
    for e in estimated:
        (others if e.estimate in seen else firsts).append(e)
        seen.add(e.estimate)
    return (firsts + others)[:top]


def tune(
    config: ChipConfig,
    net: Network,
    x: np.ndarray,
    space: Sequence[Candidate],
    objective: str = DEFAULT_OBJECTIVE,
    top: int = DEFAULT_TOP,
    budget: Budget | None = None,
    workers: int = 0,
) -> TuneResult:
    """Search ``space`` for the mapping of ``net`` on ``config`` fastest on inputs ``x`` by ``objective``.

    Args:
        config: the chip.
        net: the network.
        x: the inputs, one row per sample.
        space: the candidates (``nnmap.tune.space.mapping_space``).
        objective: a name of ``nnmap.analysis.RANKINGS``.
        top: how many of the best estimates are simulated.
        budget: how much the search may estimate (default ``DEFAULT_BUDGET`` candidates).
        workers: Dask worker processes for the simulations; 0 runs them in this process.

    Raises ``MappingError`` if no candidate can be planned.
    """
    progress.phase("estimate the mapping space")
    searched = search(config, net, x, space, budget or Budget(DEFAULT_BUDGET), objective)
    if not searched.estimated:
        raise MappingError(
            f"no mapping of {len(space)} tried fits network {net.sizes} with {len(x)} samples on {config.name}"
        )
    best = simulated_first(searched.estimated, top)
    started = time.perf_counter()
    results = simulate_all([Job(config, net, x, e.candidate) for e in best], workers)
    rows = [
        Row(e.candidate, e.estimate, m, {} if "error" in m else errors(e.estimate, m))
        for e, m in zip(best, results, strict=True)
    ]
    figure = RANKINGS[objective].figure
    rows.sort(key=lambda r: (not r.ok, r.metrics.get(figure, float("inf"))))
    winner = rows[0] if rows[0].ok else None
    return TuneResult(objective, searched, rows, winner, time.perf_counter() - started)
