"""Strategies by name: a registered one, a mix per layer, or the pipeline with groups by given weights.

- ``partitioned``: a registered strategy (``STRATEGIES``);
- ``partitioned+node-per-core``: a strategy per layer, in layer order (``PerLayer``);
- ``pipeline=1+3``: the pipeline's groups shared by these weights, one per layer (``Pipeline``).
"""

from __future__ import annotations

import math

from nnmap.errors import MappingError
from nnmap.strategies.base import SEPARATOR, STRATEGIES, Strategy
from nnmap.strategies.per_layer import PerLayer
from nnmap.strategies.pipeline import WEIGHTED, Pipeline


def get_strategy(name: str) -> Strategy:
    """The strategy ``name`` names; ``MappingError`` in one line if it names none."""
    if name.startswith(WEIGHTED):
        return Pipeline(_weights(name, name[len(WEIGHTED) :]))
    if SEPARATOR in name:
        return PerLayer([_registered(part) for part in name.split(SEPARATOR)])
    return _registered(name)


def _registered(name: str) -> Strategy:
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise MappingError(
            f"unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}, one per layer joined by "
            f"{SEPARATOR!r}, or {WEIGHTED}W1{SEPARATOR}W2... (group weights)"
        ) from None


def _weights(name: str, text: str) -> list[float]:
    try:
        weights = [float(w) for w in text.split(SEPARATOR)]
    except ValueError:
        weights = []
    if not weights or not all(math.isfinite(w) and w > 0 for w in weights):
        raise MappingError(f"strategy {name!r}: {WEIGHTED} takes positive group weights joined by {SEPARATOR!r}")
    return weights
