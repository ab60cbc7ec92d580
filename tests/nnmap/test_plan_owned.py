"""LayerAssignment.owned keeps an index of the owners, made once: an assignment never changes after it is made."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from nnmap.lowering.flows import CHAIN
from nnmap.plan import LayerAssignment, Piece


def _assignment() -> LayerAssignment:
    return LayerAssignment([[Piece(0, 0, 2), Piece(1, 0, 2)], [Piece(2, 0, 2)]], CHAIN, {0: 0, 1: 0, 2: 1})


def test_owned_lists_each_positions_outputs_ascending() -> None:
    a = _assignment()
    assert [a.owned(0), a.owned(1), a.owned(2)] == [[0, 1], [2], []]


def test_an_assignment_is_not_changed_once_made_and_survives_copies() -> None:
    a = _assignment()
    assert a.owned(0) == [0, 1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.owner = {0: 1, 1: 1, 2: 1}  # type: ignore[misc]
    other = dataclasses.replace(a, owner={0: 1, 1: 1, 2: 1})
    assert (other.owned(0), other.owned(1)) == ([], [0, 1, 2])
    for twin in (copy.deepcopy(other), pickle.loads(pickle.dumps(other))):
        assert twin.owned(1) == [0, 1, 2]
        assert twin.contributors(2) == [1]
    assert a.owned(0) == [0, 1]  # the original keeps its owners


def test_the_returned_list_is_the_callers_own() -> None:
    a = _assignment()
    a.owned(0).append(99)
    assert a.owned(0) == [0, 1]
