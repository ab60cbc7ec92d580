"""Which candidates tune estimates, and which of them it simulates.

A space no larger than the budget is enumerated. A larger one is searched by random starts
and local moves: a quarter of the budget goes to candidates drawn at random, the rest to the
neighbours (one axis changed) of the best estimate so far, until the budget is spent or no
unseen neighbour is left. A budget in seconds enumerates in a random order until the time
is up. A candidate the strategy cannot plan (SRAM overflowed, a feed it does not take) is
counted as refused and costs the budget nothing.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.errors import SimError
from nnmap.analysis import RANKINGS
from nnmap.errors import MappingError
from nnmap.model import Network
from nnmap.plan import ELEMENT_BYTES
from nnmap.session import LOADS
from nnmap.strategies import get_strategy
from nnmap.tune.estimate import Estimate, estimate
from nnmap.tune.space import Candidate

DEFAULT_BUDGET = 500
"""Candidates estimated at most, by default: more than any space of this round holds on the presets."""

RANDOM_SHARE = 0.25
"""The share of a candidate budget spent on random starts when the space is larger than the budget."""


@dataclass(frozen=True)
class Budget:
    """How much estimating a search may do: ``candidates`` at most, or ``seconds`` of wall time."""

    candidates: int | None = None
    seconds: float | None = None

    def describe(self) -> str:
        return f"{self.seconds:g} s" if self.seconds is not None else f"{self.candidates} candidates"


def parse_budget(text: str) -> Budget:
    """``N`` (candidates) or ``Ns`` (seconds); ``SimError`` in one line otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s?)\s*", text)
    if not match or float(match.group(1)) <= 0 or (not match.group(2) and "." in match.group(1)):
        raise SimError(f"--budget takes a number of candidates (such as 200) or of seconds (such as 30s), got {text!r}")
    if match.group(2):
        return Budget(seconds=float(match.group(1)))
    return Budget(candidates=int(match.group(1)))


@dataclass(frozen=True)
class Estimated:
    """A candidate and its estimate."""

    candidate: Candidate
    estimate: Estimate


@dataclass
class SearchResult:
    """What the search estimated, which candidates their strategies refused, and the wall time it took."""

    estimated: list[Estimated] = field(default_factory=list)
    refused: int = 0
    seconds: float = 0.0
    space: int = 0


class Estimator:
    """Estimates candidates of one network and inputs on one chip.

    The load path does not change the plan, so a plan is built once for every load path
    (``Estimator.plans`` counts them). A candidate whose weights and biases cannot fit its
    cores' data SRAM together is refused before any plan is built.
    """

    def __init__(self, config: ChipConfig, net: Network, x: np.ndarray) -> None:
        self.config, self.net, self.x = config, net, x
        self.parameter_bytes = ELEMENT_BYTES * sum(layer.n_in * layer.n_out + layer.n_out for layer in net.layers)
        if any(layer.mask is not None for layer in net.layers):
            self.parameter_bytes = 0  # a sparse layer stores fewer: its plan decides
        self.plans = 0
        self._done: dict[tuple[str, str, int, str], dict[str, Estimate] | None] = {}

    def __call__(self, candidate: Candidate) -> Estimate | None:
        """The estimate of ``candidate``, or ``None`` if its strategy cannot plan it."""
        key = (candidate.strategy, candidate.broadcast, candidate.cores, candidate.feed)
        if key not in self._done:
            self._done[key] = self._estimates(candidate)
        found = self._done[key]
        return None if found is None else found[candidate.load]

    def _estimates(self, candidate: Candidate) -> dict[str, Estimate] | None:
        if self.parameter_bytes > candidate.cores * self.config.data_bytes:
            return None
        try:
            plan = get_strategy(candidate.strategy).plan(
                self.config, self.net, len(self.x), candidate.broadcast, candidate.chain(self.config), candidate.feed
            )
        except MappingError:
            return None
        self.plans += 1
        return {load: estimate(plan, self.x, load) for load in LOADS}


def objective_of(objective: str) -> Callable[[Estimate], float]:
    """The estimated figure ``objective`` (a name of ``nnmap.analysis.RANKINGS``) ranks by."""
    figure = RANKINGS[objective].figure
    return lambda e: e.figures()[figure]


def neighbours(candidate: Candidate, space: Sequence[Candidate]) -> list[Candidate]:
    """The candidates of ``space`` that differ from ``candidate`` on one axis (strategy and broadcast count as one)."""

    def axes(c: Candidate) -> tuple[tuple[str, str], int, str, str]:
        return (c.strategy, c.broadcast), c.cores, c.load, c.feed

    mine = axes(candidate)
    return [c for c in space if sum(a != b for a, b in zip(axes(c), mine, strict=True)) == 1]


def search(
    config: ChipConfig,
    net: Network,
    x: np.ndarray,
    space: Sequence[Candidate],
    budget: Budget,
    objective: str,
    seed: int = 0,
    on_estimate: Callable[[], None] | None = None,
) -> SearchResult:
    """Estimate candidates of ``space`` within ``budget``; the result's ``estimated`` is best first by ``objective``."""
    key = objective_of(objective)
    rng = random.Random(seed)
    result = SearchResult(space=len(space))
    started = time.perf_counter()
    seen: set[Candidate] = set()
    estimator = Estimator(config, net, x)

    def spent() -> bool:
        if budget.seconds is not None:
            return time.perf_counter() - started >= budget.seconds
        return len(result.estimated) >= (budget.candidates or 0)

    def take(candidate: Candidate) -> None:
        seen.add(candidate)
        found = estimator(candidate)
        if found is None:
            result.refused += 1
        else:
            result.estimated.append(Estimated(candidate, found))
        if on_estimate is not None:
            on_estimate()

    if budget.seconds is not None:
        starts = rng.sample(list(space), len(space))  # every candidate, in a random order, until the time is up
    elif len(space) <= (budget.candidates or 0):
        starts = list(space)
    else:
        starts = rng.sample(list(space), max(1, int(RANDOM_SHARE * (budget.candidates or 0))))
    for candidate in starts:
        if spent():
            break
        take(candidate)
    _improve(space, result, seen, take, spent, key)
    result.estimated.sort(key=lambda e: key(e.estimate))
    result.seconds = time.perf_counter() - started
    return result


def _improve(
    space: Sequence[Candidate],
    result: SearchResult,
    seen: set[Candidate],
    take: Callable[[Candidate], None],
    spent: Callable[[], bool],
    key: Callable[[Estimate], float],
) -> None:
    """Local moves: estimate the unseen neighbours of the best candidates so far, best first, until ``spent``."""
    while not spent():
        ranked = sorted(result.estimated, key=lambda e: key(e.estimate))
        frontier = next(
            (unseen for e in ranked if (unseen := [c for c in neighbours(e.candidate, space) if c not in seen])), None
        )
        if frontier is None:
            return
        for candidate in frontier:
            if spent():
                return
            take(candidate)
