"""Which candidates tune estimates, and which of them it simulates.

A space no larger than the budget is enumerated. A larger one is searched by starts and local
moves: first the candidates ``nnmap compare`` would run (``compared_candidates``), then a
quarter of the budget goes to candidates drawn at random, the rest to the
neighbours (one axis changed) of the best estimate so far, until the budget is spent or no
unseen neighbour is left. A budget in seconds takes the compared candidates, then the others in a
random order, until the time is up. A candidate the strategy cannot plan (SRAM overflowed, a feed it does not take) is
counted as refused and costs the budget nothing.
"""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.errors import SimError
from nnmap.analysis import RANKINGS
from nnmap.errors import MappingError
from nnmap.mapping import plan_for
from nnmap.model import Network
from nnmap.plan import ELEMENT_BYTES
from nnmap.session import LOADS
from nnmap.tune.estimate import Estimate, estimate
from nnmap.tune.space import AXES, Candidate, compared_candidates

DEFAULT_BUDGET = 200
"""Candidates estimated at most, by default: what compare runs, random starts and the moves from the best of them."""

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
        self._done: dict[tuple[str, str, int, str, str], dict[str, Estimate] | None] = {}

    def __call__(self, candidate: Candidate) -> Estimate | None:
        """The estimate of ``candidate``, or ``None`` if its strategy cannot plan it."""
        key = (candidate.strategy, candidate.broadcast, candidate.cores, candidate.order, candidate.feed)
        if key not in self._done:
            self._done[key] = self._estimates(candidate)
        found = self._done[key]
        return None if found is None else found[candidate.load]

    def _estimates(self, candidate: Candidate) -> dict[str, Estimate] | None:
        if self.parameter_bytes > candidate.cores * self.config.data_bytes:
            return None
        try:
            plan = plan_for(
                candidate.strategy,
                self.config,
                self.net,
                len(self.x),
                candidate.broadcast,
                candidate.chain(self.config),
                candidate.feed,
            )
        except MappingError:
            return None
        self.plans += 1
        return {load: estimate(plan, self.x, load) for load in LOADS}


def objective_of(objective: str) -> Callable[[Estimate], float]:
    """The estimated figure ``objective`` (a name of ``nnmap.analysis.RANKINGS``) ranks by."""
    figure = RANKINGS[objective].figure
    return lambda e: e.figures()[figure]


class Neighbours:
    """The candidates of a space that differ from a given one on one axis (``Candidate.axes``; strategy and
    broadcast count as one), found by an index of the space on every axis but one."""

    def __init__(self, space: Sequence[Candidate]) -> None:
        self._index: dict[tuple[int, tuple[object, ...]], list[Candidate]] = defaultdict(list)
        for c in space:
            for axis in range(len(AXES)):
                self._index[axis, _without(c, axis)].append(c)

    def __call__(self, candidate: Candidate) -> list[Candidate]:
        found = (self._index.get((axis, _without(candidate, axis)), []) for axis in range(len(AXES)))
        return [c for cs in found for c in cs if c != candidate]


def _without(candidate: Candidate, axis: int) -> tuple[object, ...]:
    axes = candidate.axes()
    return axes[:axis] + axes[axis + 1 :]


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
    for candidate in dict.fromkeys([*compared_candidates(space), *starts]):
        if spent():
            break
        take(candidate)
    _improve(Neighbours(space), result, seen, take, spent, key)
    result.estimated.sort(key=lambda e: key(e.estimate))
    result.seconds = time.perf_counter() - started
    return result


def _improve(
    neighbours: Neighbours,
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
            (unseen for e in ranked if (unseen := [c for c in neighbours(e.candidate) if c not in seen])), None
        )
        if frontier is None:
            return
        for candidate in frontier:
            if spent():
                return
            take(candidate)
