"""A program's segments: typed records whose fields analysis reads and whose text traces print."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from epiphany_sim.core import Activity
from nnmap.analysis import cell_of, layer_ends, segment_starts
from nnmap.segments import Backward, Cell, Forward, ZeroState


@pytest.mark.parametrize(
    ("segment", "text"),
    [
        (Forward(0), "layer 0"),
        (Forward(2, 7), "layer 2 sample 7"),
        (Backward(), "backward"),
        (Backward(1), "backward layer 1"),
        (Cell(1, 3), "L1T3"),
        (ZeroState(), "zero state"),
    ],
)
def test_a_segment_prints_the_label_traces_and_figures_show(segment, text) -> None:
    assert str(segment) == text


def _agent(*acts: tuple[str, float, float, object]) -> SimpleNamespace:
    return SimpleNamespace(activities=[Activity(kind, start, end, "", segment) for kind, start, end, segment in acts])


def test_layer_ends_read_the_layer_and_sample_of_the_records() -> None:
    """Sample 0 of layer 1 ends at 9 (the later of core a's 4 and core b's 9), sample 1 at 12; the
    other layer, the segment without a sample, and a string with the same text are not read."""
    a = _agent(
        ("compute", 0, 4, Forward(1, 0)),
        ("compute", 4, 30, Forward(0, 1)),
        ("wait", 30, 40, Forward(1)),
        ("send", 40, 50, "layer 1 sample 1"),
    )
    b = _agent(("compute", 2, 9, Forward(1, 0)), ("wait", 9, 12, Forward(1, 1)))
    assert layer_ends([a, b], 1, 2) == [9, 12]


def test_cell_of_reads_only_compute_in_a_cell() -> None:
    assert cell_of(Activity("compute", 0, 5, "", Cell(2, 4))) == (2, 4)
    assert cell_of(Activity("wait", 0, 5, "", Cell(2, 4))) is None
    assert cell_of(Activity("compute", 0, 5, "", "L2T4")) is None
    assert cell_of(Activity("compute", 0, 5, "", ZeroState())) is None


def test_segment_starts_mark_each_change_with_its_record() -> None:
    """Two spans of layer 0 are one segment; its change to layer 1 at 10 and to the readback at 25 are marked."""
    acts = [
        Activity("compute", 0, 4, "", Forward(0)),
        Activity("send", 4, 10, "", Forward(0)),
        Activity("compute", 10, 25, "", Forward(1)),
        Activity("send", 25, 30, "", "readback"),
    ]
    assert segment_starts(acts) == [(10, Forward(1)), (25, "readback")]
