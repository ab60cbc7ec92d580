"""The one instruction set: every op type has one handler in ``EXECUTE``, and the trainers' steps are ops."""

from __future__ import annotations

import typing
from collections import deque

import numpy as np
import pytest

from epiphany_sim import costs
from epiphany_sim.config import E16
from epiphany_sim.dma import Descriptor
from epiphany_sim.mesh import HOST
from nnmap import programs
from nnmap.programs import EXECUTE, Dma, Kernel, Op, Send, Wait
from nnmap.programs.exchange import FETCH, PUSH, Request, Serve
from nnmap.session import Session


def test_every_op_type_has_a_handler_and_every_kernel_is_its_own() -> None:
    union = typing.get_args(Op)
    for op_type in union:
        if op_type is not Kernel:
            assert op_type in EXECUTE, op_type
    kernels: list[type[Kernel]] = [
        programs.Fill,
        programs.SparseMac,
        programs.SplitMac,
        programs.WaitFlags,
        programs.exchange.Serve,
    ]
    for kernel in kernels:
        assert EXECUTE[kernel] is kernel.run


def test_a_value_that_is_no_op_stops_the_program_with_its_type_named() -> None:
    session = Session(E16, {(0, 0): {"v": 1}})
    session.start({(0, 0): ["mac"]})  # type: ignore[list-item]
    with pytest.raises(TypeError, match="str is no op"):
        session.run()


def test_a_dma_op_fetches_a_chain_from_dram_and_waits_for_it() -> None:
    """The host stages 8 values; the core fetches them in two descriptors and then sends them back.

    The op ends only when the values are in SRAM: the send after it carries them, not NaN.
    """
    session = Session(E16, {(1, 1): {"v": 8}}, {"staged": 8, "back": 8})
    session.chip.dram["staged"].store(0, np.arange(8, dtype=np.float32))
    chain = (Descriptor(HOST, "staged", (1, 1), "v", 8),)
    session.start({(1, 1): [Dma(chain, "fetch", "wait"), Send(HOST, "back", 0, "v", 0, 8)]})
    session.run()
    np.testing.assert_array_equal(session.chip.dram["back"].data, np.arange(8))
    labels = [a.label for a in session.chip.core((1, 1)).activities]
    assert labels.index("fetch") < labels.index("wait")


def test_a_server_takes_requests_in_the_order_they_landed() -> None:
    """Two clients raise requests; the nearer one's lands first, so the server answers it first.

    Client (0, 1) is one hop from the server (0, 0), client (3, 3) six: the server posts its 4
    parameters to (0, 1)'s ``fetched`` first. The push of (3, 3) is granted, its update of
    ones lands, and the server adds it divided by ``div`` = 2: parameters 1 + 0.5.
    """
    server, near, far = (0, 0), (0, 1), (3, 3)
    layout = {server: {"params": 4, "inbox": 4, "requests": 2}, near: {"fetched": 4}, far: {"grant": 1, "acc": 4}}
    session = Session(E16, layout)
    session.chip.core(server).sram["params"].store(0, np.ones(4, dtype=np.float32))
    session.chip.core(far).sram["acc"].store(0, np.ones(4, dtype=np.float32))
    arrivals: deque[tuple[int, float]] = deque()
    serve = Serve((near, far), "params", "fetched", "grant", "inbox", 2.0, arrivals)
    session.start(
        {
            server: [Wait("requests", 1), serve, Wait("requests", 2), serve],
            near: [Request(server, "requests", 0, FETCH, "fetch", arrivals), Wait("fetched", 4)],
            far: [
                Request(server, "requests", 1, PUSH, "push", arrivals),
                Wait("grant", 1),
                Send(server, "inbox", 0, "acc", 0, 4),
            ],
        }
    )
    session.run()
    np.testing.assert_array_equal(session.chip.core(near).sram["fetched"].data, np.ones(4))
    np.testing.assert_array_equal(session.chip.core(server).sram["params"].data, np.full(4, 1.5))
    applied = [a for a in session.chip.core(server).activities if a.label == "apply update"]
    assert [a.end - a.start for a in applied] == [costs.axpy_cycles(E16, 4)]
