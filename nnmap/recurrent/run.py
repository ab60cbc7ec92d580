"""A sequence through a recurrent stack on the simulated chip, in both orders, validated against numpy.

Both orders always run: comparing them is what ``nnmap rnn`` is for, and the speedup and its
ratio to the ideal need both. Each run has the three phases of a feed-forward run
(``nnmap.run``): setup (the host loads every core's weights and biases, and layer 0's
inputs of every step into its group), compute (every core runs its program), readback
(every state of every layer and step goes to the host's DRAM). Every state is compared with
the numpy reference (``RecurrentStack.states``) within ``nnmap.run.VALIDATION_TOLERANCE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from epiphany_sim.chip import Chip
from epiphany_sim.config import ChipConfig
from nnmap import buffers
from nnmap.analysis import cell_spans
from nnmap.mapping import plan_stack
from nnmap.plan import RecurrentPlan
from nnmap.recurrent.model import RecurrentStack, check_sequence
from nnmap.recurrent.plan import ORDERS, ideal_speedup
from nnmap.run import Phases, run_phases, simulated_figures, validation_figures
from nnmap.session import Session


@dataclass
class OrderRun:
    """One order's run.

    Attributes:
        plan: what ran.
        chip: the simulated chip after the run, with its records.
        phases: when each phase ended.
        states: the simulated states, ``(L, T, H)``.
        metrics: its figures, ready for JSON (``simulated_figures``, whose sample is the whole
            sequence: ``per_sample_cycles`` is a sequence's cycles with the weights resident; the validation, and
            ``cells``: per layer and step, the cycles from the first compute of the cell on
            any core of its group to the end of its last compute or send).
    """

    plan: RecurrentPlan
    chip: Chip
    phases: Phases
    states: np.ndarray
    metrics: dict[str, Any]


@dataclass
class RecurrentRuns:
    """Both orders on the same stack and inputs.

    Attributes:
        runs: per order (``ORDERS``), its run.
        reference: the numpy states, ``(L, T, H)``.
        metrics: the stack, the chip, each order's figures under its name, and ``speedup``
            (serial compute cycles over the wavefront's), ``ideal_speedup`` (``L T / (L + T - 1)``)
            and ``ratio_to_ideal``.
    """

    runs: dict[str, OrderRun]
    reference: np.ndarray
    metrics: dict[str, Any]


def simulate_order(plan: RecurrentPlan, x: np.ndarray, trace: bool = False, progress: str | None = None) -> OrderRun:
    """Run ``plan`` on the sequence ``x`` (``(T, N)``) and validate every state.

    ``trace``: keep every transfer (for traces); ``progress``: as for ``nnmap.run.simulate``.
    """
    x = check_sequence(plan.stack, x)
    if len(x) != plan.steps:
        raise ValueError(f"plan is for {plan.steps} steps but the sequence has {len(x)}")
    stack = plan.stack
    session = Session(plan.config, plan.buffers, plan.dram, plan.relays, trace)
    shape = (stack.depth, plan.steps, stack.hidden)
    inputs = {coord: {buffers.X: x.reshape(-1)} for coord in plan.setup if buffers.X in plan.buffers[coord]}
    phases, snapshots = run_phases(
        session, (plan.setup, inputs), plan.ops, plan.readback, int(np.prod(shape)), progress
    )
    states = session.chip.dram[buffers.OUT].data.reshape(shape).copy()
    metrics = {
        "order": plan.order,
        **simulated_figures(session, phases, snapshots, plan.chain, batch=1),
        **validation_figures(states, stack.states(x)),
        "cells": cell_spans(plan, session.chip),
    }
    return OrderRun(plan, session.chip, phases, states, metrics)


def run_orders(
    config: ChipConfig, stack: RecurrentStack, x: np.ndarray, traced: str | None = None, progress: bool = False
) -> RecurrentRuns:
    """Plan both orders (so a stack that does not fit fails before anything runs), then run each.

    Args:
        config: the chip.
        stack: the network.
        x: the sequence, ``(T, N)``.
        traced: the order whose run keeps every transfer, if any.
        progress: show progress bars on a terminal while simulating.
    """
    x = check_sequence(stack, x)
    plans = {order: plan_stack(config, stack, len(x), order) for order in ORDERS}
    runs = {
        order: simulate_order(plan, x, order == traced, f"{order} on {config.name}" if progress else None)
        for order, plan in plans.items()
    }
    serial, wavefront = (runs[order].metrics["compute_cycles"] for order in ("serial", "wavefront"))
    speedup = serial / wavefront
    ideal = ideal_speedup(stack.depth, len(x))
    groups = plans["wavefront"].groups
    metrics = {
        "chip": config.name,
        "mesh": [config.rows, config.cols],
        "clock_hz": config.clock_hz,
        "kernels": config.kernels,
        "layers": stack.depth,
        "hidden": stack.hidden,
        "inputs_size": stack.n_in,
        "steps": len(x),
        "group_chain_positions": [[g.start, g.stop - 1] for g in groups],
        **{order: run.metrics for order, run in runs.items()},
        "speedup": speedup,
        "ideal_speedup": ideal,
        "ratio_to_ideal": speedup / ideal,
        "validated": all(run.metrics["validated"] for run in runs.values()),
    }
    return RecurrentRuns(runs, stack.states(x), metrics)
