"""Fewer garbage collections while a run lasts, and the caller's thresholds afterwards."""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from typing import Any

import pytest
import simpy

from epiphany_sim import E16, Chip
from epiphany_sim.garbage_collector import FIRST_GENERATION_THRESHOLD, fewer_collections


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


@pytest.mark.usefixtures("thresholds")
def test_the_first_threshold_is_raised_inside_and_restored_after_even_on_error() -> None:
    gc.set_threshold(700, 11, 12)
    with fewer_collections():
        assert gc.get_threshold() == (FIRST_GENERATION_THRESHOLD, 11, 12)
    assert gc.get_threshold() == (700, 11, 12)
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a run that fails")
    assert gc.get_threshold() == (700, 11, 12)


@pytest.mark.usefixtures("thresholds")
@pytest.mark.parametrize("first", [0, 2 * FIRST_GENERATION_THRESHOLD])
def test_collection_switched_off_or_already_rarer_is_left_alone(first: int) -> None:
    gc.set_threshold(first, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (first, 10, 10)
    assert gc.get_threshold() == (first, 10, 10)


@pytest.mark.usefixtures("thresholds")
def test_a_chip_run_raises_it_while_its_processes_run() -> None:
    gc.set_threshold(700, 10, 10)
    chip = Chip(E16)
    seen = []

    def process() -> Generator[simpy.Event, Any, None]:
        seen.append(gc.get_threshold()[0])
        yield chip.env.timeout(1)

    chip.process(process())
    chip.run()
    assert seen == [FIRST_GENERATION_THRESHOLD]
    assert gc.get_threshold() == (700, 10, 10)
