"""LayerAssignment.owned keeps an index of the owners: it must follow every change of them."""

from __future__ import annotations

import copy
import pickle

from nnmap.lowering.flows import CHAIN
from nnmap.plan import LayerAssignment, Piece


def _assignment() -> LayerAssignment:
    return LayerAssignment([[Piece(0, 0, 2), Piece(1, 0, 2)], [Piece(2, 0, 2)]], CHAIN, {0: 0, 1: 0, 2: 1})


def test_owned_lists_each_positions_outputs_ascending() -> None:
    a = _assignment()
    assert [a.owned(0), a.owned(1), a.owned(2)] == [[0, 1], [2], []]


def test_owned_follows_item_changes_after_it_was_asked() -> None:
    a = _assignment()
    assert a.owned(1) == [2]
    a.owner[0] = 1
    assert (a.owned(0), a.owned(1)) == ([1], [0, 2])
    a.owner.update({1: 1})
    assert (a.owned(0), a.owned(1)) == ([], [0, 1, 2])
    del a.owner[2]
    assert a.owned(1) == [0, 1]
    a.owner |= {5: 0}
    assert a.owned(0) == [5]


def test_owned_follows_a_replaced_owner_dict_and_survives_copies() -> None:
    a = _assignment()
    assert a.owned(0) == [0, 1]
    a.owner = {0: 1, 1: 1, 2: 1}
    assert (a.owned(0), a.owned(1)) == ([], [0, 1, 2])
    for twin in (copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert twin.owned(1) == [0, 1, 2]
        twin.owner[1] = 0
        assert twin.owned(0) == [1]
    assert a.owned(0) == []  # the copies changed, not the original


def test_the_returned_list_is_the_callers_own() -> None:
    a = _assignment()
    a.owned(0).append(99)
    assert a.owned(0) == [0, 1]
