"""The cores' programs run in compiled code: the same events as the interpreter's simpy processes.

``start`` starts one program per core, as the interpreter's processes (``run_ops``) would
start, and gives the same results to the bit: cycles, activities, transfers, values. When
every op is one the compiled loop runs (``COMPILED_OPS`` and every ``Step`` kernel), the
programs are encoded as rows of integers and run by ``nnmap.programs.engine_loop`` together
with the fabric, as the environment's guest (``FabricEnvironment.guest``): its events are
taken in turn with simpy's, so other processes (the host's) run beside it. Else, or with
``COMPILED = False``, simpy runs them. The kernels' values are numpy's to the bit both ways:
the loop computes dot products and sums as numpy does (``nnmap.programs.exact``) and stops
for each activation and for each ``Step``'s start and store, which this module does with the
interpreter's own functions.

To debug the compiled loop, run with ``NUMBA_DISABLE_JIT=1``: the same code runs as Python
(about 70 times slower), where a debugger and ``print`` work.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import simpy

from epiphany_sim import costs, progress
from epiphany_sim import fabric_kernel as k
from epiphany_sim.chip import Chip
from epiphany_sim.clock import FabricEnvironment
from epiphany_sim.core import KINDS, Activity
from epiphany_sim.errors import DeadlockError, SimError
from epiphany_sim.mesh import HOST, Coord
from nnmap.model import ACTIVATIONS, activate_one
from nnmap.programs import engine_loop as loop
from nnmap.programs.interpreter import run_ops
from nnmap.programs.kernels import WaitFlags
from nnmap.programs.ops import Activate, Begin, Mac, Op, Send, Signal, Step, Sum, Wait

COMPILED = True
"""Whether ``start`` may use the compiled loop (``False``: always simpy, for comparisons)."""

COMPILED_OPS = (Begin, Mac, Sum, Activate, Send, Signal, Wait, WaitFlags)
"""The ops the compiled loop runs, besides every ``Step`` kernel; a program with any other runs on simpy."""

_LOG_ROWS = 1 << 15  # spans logged between two visits to Python
_new_tuple = tuple.__new__


class _Encoded:
    """The programs as the loop reads them, and what turns its numbers back into Python's."""

    def __init__(self, chip: Chip, programs: Mapping[Coord, Sequence[Op]]) -> None:
        self.chip = chip
        self.cores = [chip.core(coord) for coord in programs]
        self.ops: list[Op] = [op for ops in programs.values() for op in ops]
        self.labels: list[str] = ["relay"]
        self.segments: list[object] = []
        self._label_ids: dict[str, int] = {"relay": 0}
        self._segment_ids: dict[int, int] = {}
        self._cycles: dict[tuple, float] = {}
        self._places: dict[tuple, dict[str, tuple[int, int, int]]] = {}
        rows: list[tuple[int, ...]] = []
        consts: list[float] = []
        cycles: list[float] = []
        self.first = np.zeros(len(self.cores) + 1, np.int64)
        for c, (core, ops) in enumerate(zip(self.cores, programs.values(), strict=True)):
            self.first[c] = len(rows)
            for op in ops:
                row, const, cycle = self._encode(core.node, op)
                rows.append(row)
                consts.append(const)
                cycles.append(cycle)
        self.first[-1] = len(rows)
        self.code = np.array(rows, np.int64).reshape(-1, loop.X_FIELDS)
        self.consts = np.array(consts, np.float32)
        self.cycles = np.array(cycles, np.float64)

    def label(self, text: str) -> int:
        """The number of a label (``labels[number]`` is the text)."""
        ident = self._label_ids.get(text)
        if ident is None:
            ident = self._label_ids[text] = len(self.labels)
            self.labels.append(text)
        return ident

    def segment(self, value: object) -> int:
        """The number of a segment (``segments[number]`` is the value)."""
        key = id(value)
        ident = self._segment_ids.get(key)
        if ident is None:
            ident = self._segment_ids[key] = len(self.segments)
            self.segments.append(value)
        return ident

    def _kernel_cycles(self, *key: Any) -> float:
        """The cycles of a kernel: ``costs`` priced once per distinct kernel."""
        cycles = self._cycles.get(key)
        if cycles is None:
            config = self.chip.config
            kind = key[0]
            if kind == loop.OP_MAC:
                cycles = costs.dot_cycles(config, key[1], key[2])
            elif kind == loop.OP_SUM:
                cycles = costs.sum_cycles(config, key[1])
            else:
                cycles = costs.activation_cycles(config)
            self._cycles[key] = cycles
        return cycles

    def _place(self, node: tuple, name: str, offset: int, n: int) -> tuple[int, int]:
        """The id of buffer ``name`` of ``node`` and the word of its element ``offset``; ``SimError``
        unless the ``n`` elements from there lie inside it."""
        where = self._places.get(node, {}).get(name)
        if where is None:
            buffer = self.chip.memory_at(node)[name]
            where = self._places.setdefault(node, {})[name] = (buffer.id, buffer.word(0), len(buffer.data))
        if offset < 0 or n < 0 or offset + n > where[2]:
            raise SimError(f"{n} elements at {offset} are outside buffer {name!r} of {node}")
        return where[0], where[1] + offset

    def _encode(self, node: tuple, op: Op) -> tuple[tuple[int, ...], float, float]:
        """The row of ``op`` on ``node``, its constant and its cycles; ``SimError`` if it reaches
        outside a buffer."""
        place = self._place
        if isinstance(op, Mac):
            if op.x_stride < 1:
                raise SimError(f"a stride of {op.x_stride}")  # numpy's slice refuses it, or gives no values
            _, x = place(node, op.x, op.x_offset, (op.n - 1) * op.x_stride + 1 if op.n else 0)
            _, w = place(node, op.w, op.w_offset, op.n)
            out, at = place(node, op.out, op.out_index, 1)
            row = (loop.OP_MAC, self.label(op.label), x, op.x_stride, w, op.n, out, at, 0, 0)
            return row, 0.0, self._kernel_cycles(loop.OP_MAC, op.n, op.x_stride != 1)
        if isinstance(op, Activate):
            _, z = place(node, op.src, op.src_index, 1)
            _, bias = place(node, op.bias, op.bias_index, 1)
            out, at = place(node, op.out, op.out_index, 1)
            activation = ACTIVATIONS.index(op.activation) if op.activation in ACTIVATIONS else -1
            if activation < 0:
                raise SimError(f"unknown activation {op.activation!r}")  # the interpreter says so, in its turn
            row = (loop.OP_ACTIVATE, self.label(op.label), z, activation, bias, 0, out, at, 0, 0)
            return row, 0.0, self._kernel_cycles(loop.OP_ACTIVATE)
        if isinstance(op, Send):
            _, src = place(node, op.src, op.src_offset, op.n)
            label = self.label(op.label)
            return self._write(node, op.dst, op.dst_buffer, op.dst_offset, src, op.n, k.F_COPY, label), 0.0, 0.0
        if isinstance(op, Wait):
            b, _ = place(node, op.buffer, 0, 0)
            row = (loop.OP_WAIT, self.label(op.label or f"wait {op.buffer}"), 0, 0, 0, op.count, b, 0, 0, 0)
            return row, 0.0, 0.0
        if isinstance(op, Begin):
            return (loop.OP_BEGIN, 0, self.segment(op.segment), 0, 0, 0, 0, 0, 0, 0), 0.0, 0.0
        if isinstance(op, Step):
            return (loop.OP_STEP, self.label(op.label), 0, 0, 0, 0, 0, 0, 0, 0), 0.0, 0.0
        if isinstance(op, WaitFlags):
            if op.n < 1:
                raise SimError("no flags")  # numpy's min of none fails: simpy runs it, to fail so
            b, flags = place(node, op.buffer, 0, op.n)
            wait = self.label(op.label or f"wait {op.buffer}")
            row = (loop.OP_WAIT_FLAGS, self.label(op.label), flags, wait, op.done, op.n, b, 0, 0, 0)
            return row, 0.0, costs.sum_cycles(self.chip.config, op.n)
        if isinstance(op, Sum):
            _, src = place(node, op.src, op.offset, op.n)
            out, at = place(node, op.out, op.out_index, 1)
            row = (loop.OP_SUM, self.label(op.label), src, 0, 0, op.n, out, at, 0, 0)
            return row, 0.0, self._kernel_cycles(loop.OP_SUM, op.n)
        assert isinstance(op, Signal)
        return self._write(node, op.dst, op.buffer, op.offset, -1, 1, 0, self.label(op.label)), op.value, 0.0

    def _write(
        self, node: tuple, dst: tuple, name: str, offset: int, word: int, n: int, flags: int, label: int
    ) -> tuple[int, ...]:
        """The row of a write of ``n`` words from ``word`` (-1: the op's constant) by ``node``."""
        target, at = self._place(dst, name, offset, n)
        if dst == node:
            return (loop.OP_STORE, label, word, 0, 0, n, target, at, 0, 0)
        network = k.PORT_X if HOST in (dst, node) else k.PORT_C
        endpoint = self.chip.fabric.endpoint(dst)
        return (loop.OP_SEND, label, word, endpoint, 0, n, target, at, flags, network)


def compiles(chip: Chip, programs: Mapping[Coord, Iterable[Op]]) -> bool:
    """Whether ``start`` runs ``programs`` in the compiled loop (the module docstring says when)."""
    env = chip.env
    return (
        COMPILED
        and bool(programs)
        and isinstance(env, FabricEnvironment)
        and env.guest is None
        and all(type(ops) in (list, tuple) and all(_runs(op) for op in ops) for ops in programs.values())
    )


def _runs(op: Op) -> bool:
    """Whether the compiled loop runs ``op``."""
    return type(op) in COMPILED_OPS or (isinstance(op, Step) and type(op).run is Step.run)


def start(chip: Chip, programs: Mapping[Coord, Iterable[Op]], bar: progress.Bar | None = None) -> simpy.Event:
    """Start one program per core now, as simpy processes would start (``bar``, if given, counts
    the ops done); the event is triggered once every one has ended."""
    encoded = None
    if compiles(chip, programs):
        try:
            encoded = _Encoded(chip, cast(Mapping[Coord, Sequence[Op]], programs))
        except (SimError, ValueError):
            encoded = None  # an op that would fail: simpy runs it, to fail when its turn comes
    if encoded is None:
        counted = {coord: _counted(ops, bar) if bar is not None else ops for coord, ops in programs.items()}
        return simpy.AllOf(chip.env, [chip.process(run_ops(chip.core(coord), ops)) for coord, ops in counted.items()])
    if k.needs_compiling(loop.run):
        progress.compiling()
    return _Run(encoded, bar).ended


def _counted(ops: Iterable[Op], bar: progress.Bar) -> Generator[Op, None, None]:
    """``ops`` one by one, ticking ``bar`` as the core takes each."""
    for op in ops:
        yield op
        bar.update()


class _Run:
    """The programs of a phase as the environment's guest (``FabricEnvironment.guest``): the compiled
    loop takes their events in turn with simpy's, and Python does what the loop stops for."""

    def __init__(self, encoded: _Encoded, bar: progress.Bar | None) -> None:
        self.encoded = encoded
        self.bar = bar
        self.counted = 0
        chip = encoded.chip
        self.env = chip.env
        self.ended = self.env.event()
        """Triggered, in its place among simpy's events, when the last program has ended."""
        fabric = chip.fabric
        cores = encoded.cores
        n = len(cores)
        est = np.zeros(loop.E_FIELDS, np.int64)
        est[loop.E_CURRENT] = -1
        est[loop.E_OVERHEAD] = fabric.overhead_ticks
        cores_i = np.zeros((n, loop.CI_FIELDS), np.int64)
        cores_f = np.zeros((n, loop.CF_FIELDS), np.float64)
        for c, core in enumerate(cores):
            relays_paid, relay_ticks = core.relay_account
            segment = encoded.segment(core.segment)
            cores_i[c] = (
                encoded.first[c],
                encoded.first[c + 1],
                loop.AT_START,
                core.endpoint,
                segment,
                relay_ticks,
                -1,
                0,
                0,
            )
            cores_f[c, loop.CF_RELAYS_PAID] = relays_paid
            cores_f[c, loop.CF_TOTAL :] = [core.totals[kind] for kind in KINDS]
        queued = 2 * n + 8  # each core has at most one event queued, and the phase's end one more
        rows = min(_LOG_ROWS, 3 * len(encoded.ops) + 8)
        self.machine = loop.Machine(
            est=est,
            order=np.zeros(1, np.int64),
            ef=np.array([self.env.now, chip.config.poll_cycles, math.inf], np.float64),
            code=encoded.code,
            consts=encoded.consts,
            cycles=encoded.cycles,
            values=np.zeros(n, np.float32),
            cores_i=cores_i,
            cores_f=cores_f,
            waiter=np.full((len(fabric.buffers), 2), -1, np.int64),
            qt=np.zeros(queued, np.float64),
            qk=np.zeros((queued, loop.Q_FIELDS), np.int64),
            acts_f=np.zeros((rows, 2), np.float64),
            acts_i=np.zeros((rows, loop.A_FIELDS), np.int64),
            labs=np.zeros((rows, 2), np.int64),
        )
        self.arrays = tuple(self.machine)  # numba types a plain tuple of arrays in C, a named one in Python
        self.stores: dict[int, Callable[[], None]] = {}
        """The store each core's ``Step`` has still to do."""
        self.env.lend_order(self.machine.order)
        loop.start(self.arrays, self.env.now, n)
        self.env.take_order(self.machine.order)
        self.env.guest = self
        chip.pending_waits[id(self)] = self.waiting  # what a deadlock reports of its cores

    # The guest's side of FabricEnvironment.step -------------------------------------------------
    def head(self) -> tuple[float, int, int] | None:
        machine = self.machine
        if not machine.est[loop.E_QUEUED]:
            return None
        return float(machine.qt[0]), int(machine.qk[0, loop.Q_PRIORITY]), int(machine.qk[0, loop.Q_ORDER])

    def run(self, before: tuple[float, int, int] | None) -> list[tuple[int, int]]:
        machine, env = self.machine, self.env
        est, ef = machine.est, machine.ef
        fabric = self.encoded.chip.fabric
        ef[loop.F_NOW] = env.now
        ef[loop.F_BEFORE], est[loop.E_BEFORE_PRIORITY], est[loop.E_BEFORE_ORDER] = before or (math.inf, 0, 0)
        est[loop.E_PAY_TOP] = fabric.payload_top
        env.lend_order(machine.order)
        try:
            status = self._loop()
        except BaseException:
            self._end()
            raise
        finally:
            env.take_order(machine.order)
        fabric.payload_top = int(est[loop.E_PAY_TOP])
        env.set_now(float(ef[loop.F_NOW]))
        if status == loop.DONE:
            self._end()
            env.trigger_at(self.ended, env.now, loop.NORMAL, int(est[loop.E_END_ORDER]))
            return []
        if status == loop.PYTHON_WAKE:
            return fabric.wakes_from(int(est[loop.E_PYTHON_WAKE]))
        return []

    def claims(self, kind: int, ident: int) -> bool:
        self.machine.ef[loop.F_NOW] = self.env.now
        self.env.lend_order(self.machine.order)
        try:
            return bool(loop.claim(self.arrays, self.encoded.chip.fabric.loop_args(), kind, ident))
        finally:
            self.env.take_order(self.machine.order)

    def stop(self) -> None:
        self._end()

    def _end(self) -> None:
        """The phase is over (or stopped: an error, a deadlock): hand the spans and the cores' state back."""
        self.env.guest = None
        self.encoded.chip.pending_waits.pop(id(self), None)
        self._drain()
        self._finish()
        self.encoded.chip.fabric.payload_top = int(self.machine.est[loop.E_PAY_TOP])

    def _loop(self) -> int:
        """Call the loop until it stops for simpy or a wake of Python's, or is done; do for it what
        else it stops for. Returns what it stopped for."""
        est = self.machine.est
        fabric = self.encoded.chip.fabric
        args = fabric.loop_args()
        while True:
            status = loop.run(self.arrays, args)
            if self.bar is not None:
                self._count()
            if status in (loop.DONE, loop.SIMPY, loop.PYTHON_WAKE):
                return status
            if status == loop.TRAP:  # Python acts at the loop's time
                self.env.set_now(float(self.machine.ef[loop.F_NOW]))
                self._trap(int(est[loop.E_CURRENT]))
            elif status == loop.LOG_FULL:
                self._drain()
            elif status in (loop.ROOM_MESSAGES, loop.ROOM_PAYLOAD, loop.ROOM_FABRIC):
                fabric.payload_top = int(est[loop.E_PAY_TOP])
                if status == loop.ROOM_MESSAGES:
                    fabric.room_for_message()
                elif status == loop.ROOM_PAYLOAD:
                    fabric.room_for_payload(int(est[loop.E_PAY_NEED]))
                else:
                    fabric.room_for_tick()
                est[loop.E_PAY_TOP] = fabric.payload_top
                args = fabric.loop_args()  # a grown table is a new array
            else:
                raise DeadlockError(fabric.stuck())

    def _count(self) -> None:
        """Tick the bar by the ops done since it was last ticked."""
        assert self.bar is not None
        done = int((self.machine.cores_i[:, loop.CI_PC] - self.encoded.first[:-1]).sum())
        if done > self.counted:
            self.bar.update(done - self.counted)
            self.counted = done

    def _trap(self, c: int) -> None:
        """Do for core ``c`` what Python does of its op: begin a ``Step`` or do its store, or apply an
        activation to the float32 sum of its input and bias the loop left in ``values[c]`` (with
        ``activate_one``, as the interpreter does)."""
        machine, encoded = self.machine, self.encoded
        pc = int(machine.cores_i[c, loop.CI_PC])
        op = encoded.ops[pc]
        if isinstance(op, Step):
            if machine.cores_i[c, loop.CI_AT] == loop.AT_STORE:
                self.stores.pop(c)()
            else:
                machine.cores_f[c, loop.CF_CYCLES], self.stores[c] = op.begin(encoded.cores[c])
        else:
            activation = ACTIVATIONS[int(encoded.code[pc, loop.X_B])]
            machine.values[c] = activate_one(activation, machine.values[c])
        machine.est[loop.E_VALUE_READY] = 1

    def _drain(self) -> None:
        """Turn the spans and labels logged so far into the cores' activities and the fabric's labels."""
        encoded, machine = self.encoded, self.machine
        est = machine.est
        cores, labels, segments = encoded.cores, encoded.labels, encoded.segments
        acts_f, acts_i = machine.acts_f[: est[loop.E_ACTS]].tolist(), machine.acts_i[: est[loop.E_ACTS]].tolist()
        for (start, end), (c, kind, label, segment, n_bytes) in zip(acts_f, acts_i, strict=True):
            row = (KINDS[kind], start, end, labels[label], segments[segment], n_bytes)
            cores[c].activities.append(_new_tuple(Activity, row))
        fabric = encoded.chip.fabric
        for serial, label in machine.labs[: est[loop.E_LABELS]].tolist():
            if labels[label]:
                fabric.label(serial, labels[label])
        est[loop.E_ACTS] = est[loop.E_LABELS] = 0

    def _finish(self) -> None:
        """Hand each core's state back to its Python object."""
        encoded = self.encoded
        for c, core in enumerate(encoded.cores):
            core.segment = encoded.segments[int(self.machine.cores_i[c, loop.CI_SEGMENT])]
            core.relay_account = (
                float(self.machine.cores_f[c, loop.CF_RELAYS_PAID]),
                int(self.machine.cores_i[c, loop.CI_RELAY_TICKS]),
            )
            for j, kind in enumerate(KINDS):
                core.totals[kind] = float(self.machine.cores_f[c, loop.CF_TOTAL + j])

    def waiting(self) -> list[str]:
        """What each waiting core waits for, in the order they began waiting (``Agent.wait``'s words)."""
        encoded = self.encoded
        waiting = sorted(
            (int(self.machine.cores_i[c, loop.CI_WAIT_ORDER]), c)
            for c in range(len(encoded.cores))
            if self.machine.cores_i[c, loop.CI_WAIT_BUF] >= 0
        )
        lines = []
        for _, c in waiting:
            op = encoded.ops[int(self.machine.cores_i[c, loop.CI_PC])]
            assert isinstance(op, Wait | WaitFlags)
            count, written = int(self.machine.cores_i[c, loop.CI_COUNT]), encoded.cores[c].sram[op.buffer].written
            lines.append(f"{encoded.cores[c].name} waits for {op.buffer} to reach {count} writes (has {written})")
        return lines
