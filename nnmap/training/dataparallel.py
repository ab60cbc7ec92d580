"""Data-parallel training: every core holds a whole copy of a small network and trains on its shard.

Each client is ``BackpropProgram`` on a chain of one core: plain SGD on that core, its
weights in its own SRAM. The host writes each client's samples into it over the eLink, one
step ahead, with the ``single`` trainer's host feed (``nnmap.training.feed.HostFeed``; all
clients' samples share the eLink); a shard is the list of rows the host sends a client,
so reshuffling the shards costs nothing extra.
The trainers differ in how the copies are combined, with real data moving through the
simulated networks:

- ``sync`` (data parallelism): all cores take one sample each, then average
  their updates. The updates are summed along the neighbour chain, chunk by chunk so the
  hops overlap, and the last core turns the sum into the new parameters, which travel back
  down the chain. It is mini-batch SGD with one sample per core.
- ``downpour`` (ScatterBrain, after Dean et al.'s Downpour SGD): a parameter
  server on the mesh's centre core, the other cores clients. Each client keeps the updates
  it made since its last push (Dean et al.'s "accrued gradients": a fetch replaces the
  client's weights but keeps them), pushes them every ``n_push`` steps and fetches the
  server's parameters every ``n_fetch`` steps; the server adds each push scaled by
  ``1 / div``. The samples are reshuffled over the shards every ``n_shuffle`` epochs.
- ``hogwild`` (Niu et al.'s Hogwild!): the shared parameters are spread over all cores' SRAMs, with no
  lock. After each step a client reads them remotely, adds its own update and writes the
  sum back; whatever another client wrote between that read and that write is lost, and the
  weights a client computes with are as old as its last read. The simulator's timing alone
  decides how stale they are.

Epochs are the framework's: every client finishes its shard before the epoch's record is
taken, so the clients meet at each epoch's end.
"""

from __future__ import annotations

from collections import deque
from functools import cached_property
from typing import ClassVar

import numpy as np

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord, Mesh
from nnmap.buffers import (
    ACCRUED,
    BASE,
    FETCHED,
    GRANT,
    INBOX,
    NEW,
    REQUESTS,
    SERVER_PARAMS,
    SHARED,
    SUM,
)
from nnmap.errors import TrainingError
from nnmap.model import Network
from nnmap.programs import Fill, Op, Send, Wait
from nnmap.programs.exchange import (
    DONE,
    FETCH,
    PUSH,
    Collect,
    OwnUpdate,
    ReduceChunk,
    Request,
    Serve,
    SliceUpdate,
    TakeParameters,
    Tally,
    gather,
)
from nnmap.session import Meter, Session
from nnmap.training.backprop import BackpropProgram
from nnmap.training.base import TRAINERS, Hyperparameters, Trainer, check_fits, check_shards
from nnmap.training.datasets import Dataset

F32 = np.float32
CHUNK = 256  # elements per reduce message: 1 KB, 128 transactions; smaller chunks overlap more hops


class Params:
    """The parameter buffers of a one-core program (``w0, b0, w1, ...``) seen as one vector.

    A client keeps its own copy in those buffers; the vectors it exchanges (``base``,
    ``acc``, ``fetched``, a server's ``params``) are single buffers of ``size`` elements
    in the same order.
    """

    def __init__(self, program: BackpropProgram) -> None:
        coord = program.chain[0]
        setup = program.plan.setup[coord]
        self.names = tuple(program.plan.parameters[coord])
        self.sizes = [len(setup[name]) for name in self.names]
        self.size = sum(self.sizes)
        self.initial = np.concatenate([setup[name] for name in self.names]).astype(F32)

    def chunks(self) -> list[tuple[int, int]]:
        """``(offset, n)`` pieces of the vector of at most ``CHUNK`` elements."""
        return [(s, min(CHUNK, self.size - s)) for s in range(0, self.size, CHUNK)]

    def network(self, like: Network, vector: np.ndarray) -> Network:
        """The network whose parameters are ``vector`` (the one-core layout: ``W[:, j]`` contiguous)."""
        layers = []
        offset = 0
        for layer in like.layers:
            n_w = layer.weights.size
            weights = vector[offset : offset + n_w].reshape(layer.n_out, layer.n_in).T
            bias = vector[offset + n_w : offset + n_w + layer.n_out]
            offset += n_w + layer.n_out
            layers.append(type(layer)(np.ascontiguousarray(weights, dtype=F32), bias.astype(F32), layer.activation))
        return Network(tuple(layers))


class DataParallel(Trainer):
    """What the data-parallel trainers share: one single-core SGD client per worker core.

    Subclasses set ``server_cores`` (1: the centre core is no client), ``client_vectors``
    (the parameter-sized buffers each client keeps besides its weights), may add SRAM
    buffers (``own_buffers``) and initial values and state (``setup``), and write
    ``epoch_programs`` (op lists from ``nnmap.programs.exchange``).
    """

    server_cores = 0
    client_vectors: tuple[str, ...] = ()
    options: ClassVar[tuple[str, ...]] = ("n_push", "n_fetch", "n_shuffle", "div", "shards")

    def __init__(self, config: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        super().__init__(config, net, data, hp)
        usable = Mesh(config).neighbour_chain()
        centre = (config.rows // 2, config.cols // 2)  # fewest hops on average
        # the usable core nearest the centre (the centre itself unless the chip avoids it)
        self.server: Coord = min(usable, key=lambda c: (abs(c[0] - centre[0]) + abs(c[1] - centre[1]), c))
        spare = [c for c in usable if not (self.server_cores and c == self.server)]
        if not spare:  # the server took the only core
            raise TrainingError(f"{self.name} needs at least 2 cores: one parameter server and one client")
        n = hp.shards or len(spare)
        if n > len(spare):
            raise TrainingError(
                f"{n} shards but {config.name} has {len(spare)} cores for clients "
                f"({self.name}: one shard per client core); use --shards {len(spare)} or fewer"
            )
        check_shards(n, data.n_samples)
        self.clients: list[Coord] = spare[:n]
        self.programs = [
            BackpropProgram(config, net, data.n_samples, hp.lr, hp.momentum, hp.loss, [c], feed="host")
            for c in self.clients
        ]
        self.params = Params(self.programs[0])
        self.buffers: dict[Coord, dict[str, int]] = {
            c: {**p.plan.buffers[c], **dict.fromkeys(self.client_vectors, self.params.size)}
            for p, c in zip(self.programs, self.clients, strict=True)
        }
        for coord, more in self.own_buffers().items():
            self.buffers.setdefault(coord, {}).update(more)
        check_fits(
            config,
            net,
            self.buffers,
            f"every {self.name} client core holds the whole network ({self.params.size} parameters) and "
            f"vectors of that size ({', '.join(self.client_vectors)}), so more cores do not help: "
            "use a smaller network (--layers)",
        )

    def shards(self) -> int:
        return len(self.clients)

    def own_buffers(self) -> dict[Coord, dict[str, int]]:
        """SRAM buffers (name to elements) the trainer needs per core beyond its clients' programs and vectors."""
        return {}

    def start(self, load: str | None = None) -> Meter:
        data = self.data
        dram = {name: n for p in self.programs for name, n in p.dram.items()}  # the dataset once, a flag per client
        relays = {coord: rules for p in self.programs for coord, rules in p.relays.items()}
        self.session = Session(self.config, self.buffers, dram, relays, load=load)
        self.chip = self.session.chip
        self.programs[0].load_dram(self.chip, data.x, data.y)
        setup = {c: dict(p.plan.setup[c]) for p, c in zip(self.programs, self.clients, strict=True)}
        self.setup(setup)
        self.session.process(self.session.load(setup))
        self.session.run()
        for coord in self.clients:  # each client's own copy of what it was loaded with (no transfer)
            sram = self.chip.core(coord).sram
            if BASE in self.client_vectors:
                sram[BASE].store(0, self.params.initial)
            if ACCRUED in self.client_vectors:
                sram[ACCRUED].store(0, np.zeros(self.params.size, dtype=F32))
        self.steps = [0] * len(self.clients)
        self.rng = np.random.default_rng(self.hp.seed)
        self.order = np.arange(data.n_samples)
        return self.session.meter()

    def setup(self, setup: dict[Coord, dict[str, np.ndarray]]) -> None:
        """Add to ``setup`` (per core, buffer to initial values) and set up the trainer's state for a run."""

    def shard_rows(self, epoch: int) -> list[np.ndarray]:
        """Each client's dataset rows for ``epoch``: contiguous shards, reshuffled every ``n_shuffle`` epochs."""
        if self.hp.n_shuffle and epoch and epoch % self.hp.n_shuffle == 0:
            self.order = self.rng.permutation(self.data.n_samples)
        return np.array_split(self.order, len(self.clients))

    def local_step(self, k: int, row: int) -> list[Op]:
        """Client ``k``'s SGD step on dataset row ``row``, in place in its SRAM.

        It waits for the sample the host writes (``run_epoch``) and tells the host when it is done.
        """
        ops = self.programs[k].step_ops(0, self.steps[k], int(row))
        self.steps[k] += 1
        return ops

    def run_epoch(self, epoch: int) -> Meter:
        rows = self.shard_rows(epoch)
        for k, program in enumerate(self.programs):  # the host feeds all clients at once; they share the eLink
            feeding = program.host_process(
                self.chip, self.steps[k], [int(r) for r in rows[k]], self.data.x, self.data.y
            )
            assert feeding is not None  # the host feed always has a host process
            self.session.process(feeding)
        self.session.start(self.epoch_programs(rows))
        self.session.run()
        return self.session.meter()

    def epoch_programs(self, rows: list[np.ndarray]) -> dict[Coord, list[Op]]:
        """Each core's program for one epoch in which client ``k`` trains on ``rows[k]``."""
        raise NotImplementedError


@TRAINERS.add
class Sync(DataParallel):
    """Synchronous data parallelism: every step averages one update per core (mini-batch SGD).

    Samples go in the dataset's order every epoch; ``n_push``, ``n_fetch``, ``n_shuffle`` and
    ``div`` do not apply.
    """

    name = "sync"
    client_vectors = (BASE, SUM, NEW)
    options = ("shards",)

    def __init__(self, config: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        if hp.momentum:
            raise TrainingError("sync averages plain SGD steps; it has no momentum: use --momentum 0")
        super().__init__(config, net, data, hp)
        self.batches = 0

    def shard_rows(self, epoch: int) -> list[np.ndarray]:
        """Batch ``b`` gives core ``k`` row ``b * C + k``, in the dataset's order; the last batch may be short."""
        c = len(self.clients)
        return [self.order[k::c] for k in range(c)]

    def epoch_programs(self, rows: list[np.ndarray]) -> dict[Coord, list[Op]]:
        n_batches = len(rows[0])
        sizes = [sum(1 for r in rows if len(r) > b) for b in range(n_batches)]
        first = self.batches
        self.batches += n_batches
        return {coord: self._client(k, rows[k], first, sizes) for k, coord in enumerate(self.clients)}

    def _client(self, k: int, rows: np.ndarray, first: int, sizes: list[int]) -> list[Op]:
        """Client ``k``'s batches: its step, then the chain's sum of updates up and the new parameters down.

        A client with no sample in a batch adds an update of zeros: its parameters and ``base``
        are equal since it last took new ones.
        """
        p = self.params
        c = len(self.clients)
        down = self.clients[k - 1] if k > 0 else None
        up = self.clients[k + 1] if k + 1 < c else None
        ops: list[Op] = []
        for b, m in enumerate(sizes):
            g = first + b  # batches since the start: the cumulative wait counts
            if b < len(rows):
                ops += [*self.local_step(k, rows[b]), OwnUpdate(BASE)]
            for offset, n in p.chunks():  # reduce up the chain
                if down is not None:
                    ops.append(Wait(SUM, g * p.size + offset + n, "wait partial update"))
                ops.append(ReduceChunk(p.names, BASE, offset, n, SUM, down is not None, up, NEW, m))
                if up is None and down is not None:
                    ops.append(Send(down, NEW, offset, NEW, offset, n, "new parameters"))
            if up is not None:  # the new parameters come back down the chain
                for offset, n in p.chunks():
                    ops.append(Wait(NEW, g * p.size + offset + n, "wait new parameters"))
                    if down is not None:
                        ops.append(Send(down, NEW, offset, NEW, offset, n, "new parameters"))
            ops.append(TakeParameters(NEW, p.names, BASE, "take new parameters"))
        return ops

    def network(self) -> Network:
        return self.params.network(self.net, gather(self.chip.core(self.clients[0]), self.params.names))


@TRAINERS.add
class Downpour(DataParallel):
    """ScatterBrain: asynchronous clients and a parameter server on the centre core."""

    name = "downpour"
    server_cores = 1
    client_vectors = (BASE, ACCRUED, FETCHED)

    def own_buffers(self) -> dict[Coord, dict[str, int]]:
        size = self.params.size
        return {
            self.server: {SERVER_PARAMS: size, INBOX: size, REQUESTS: len(self.clients)},
            **{coord: {GRANT: 1} for coord in self.clients},
        }

    def setup(self, setup: dict[Coord, dict[str, np.ndarray]]) -> None:
        setup[self.server] = {SERVER_PARAMS: self.params.initial}
        self.arrivals: deque[tuple[int, float]] = deque()
        self.served = 0  # requests raised, and so taken, since the start
        self.fetches = [0] * len(self.clients)
        self.pushes = [0] * len(self.clients)

    def epoch_programs(self, rows: list[np.ndarray]) -> dict[Coord, list[Op]]:
        clients = {coord: self._client(k, rows[k]) for k, coord in enumerate(self.clients)}
        raised = sum(isinstance(op, Request) for ops in clients.values() for op in ops)
        serve = Serve(tuple(self.clients), SERVER_PARAMS, FETCHED, GRANT, INBOX, self.hp.div, self.arrivals)
        server: list[Op] = []
        for _ in range(raised):
            self.served += 1
            server += [Wait(REQUESTS, self.served, "wait for a request"), serve]
        return {self.server: server, **clients}

    def _request(self, k: int, kind: float, label: str) -> Request:
        """Client ``k`` raises its flag at the server; the server takes flags in arrival order."""
        return Request(self.server, REQUESTS, k, kind, label, self.arrivals)

    def _client(self, k: int, rows: np.ndarray) -> list[Op]:
        hp, p = self.hp, self.params
        ops: list[Op] = []
        for row in rows:
            if self.steps[k] % hp.n_fetch == 0:
                self.fetches[k] += 1
                ops += [
                    Collect(p.names, BASE, ACCRUED),
                    self._request(k, FETCH, "fetch request"),
                    Wait(FETCHED, self.fetches[k] * p.size, "wait for parameters"),
                    TakeParameters(FETCHED, p.names, BASE, "take parameters"),
                ]
            ops += self.local_step(k, row)
            if self.steps[k] % hp.n_push == 0:
                self.pushes[k] += 1  # the grants the server wrote, one per push
                ops += [
                    Collect(p.names, BASE, ACCRUED),
                    self._request(k, PUSH, "push request"),
                    Wait(GRANT, self.pushes[k], "wait for the server"),
                    Send(self.server, INBOX, 0, ACCRUED, 0, p.size, "push update"),
                    Fill(ACCRUED, 0, p.size, 0.0, "clear update"),
                ]
        return [*ops, self._request(k, DONE, "epoch done")]

    def network(self) -> Network:
        return self.params.network(self.net, self.chip.core(self.server).sram[SERVER_PARAMS].data.copy())


@TRAINERS.add
class Hogwild(DataParallel):
    """Lock-free shared parameters, a slice in every core's SRAM; read-add-write after every step.

    The Epiphany's flat address space makes all cores' SRAMs one shared memory; the shared
    vector is spread over it in equal contiguous slices, one per core in chain order, so the
    clients' remote reads do not all queue at one core's port. A client reads, adds to and
    writes back one slice at a time, so that each unlocked read-add-write is short (Hogwild's
    updates are per component). Of the data-parallel hyperparameters only ``shards`` and
    ``n_shuffle`` apply. ``overlaps`` counts, over the run and per slice, the other clients'
    writes that landed while a client's read-add-write of that slice was in flight (each
    may have lost some of its update to that client's write).
    """

    name = "hogwild"
    client_vectors = (BASE,)
    options = ("shards", "n_shuffle")

    @cached_property
    def slices(self) -> list[tuple[Coord, int, int]]:
        """``(home, lo, hi)``: core ``home`` holds elements ``lo:hi`` of the shared vector."""
        homes = Mesh(self.config).neighbour_chain()
        bounds = np.linspace(0, self.params.size, len(homes) + 1).astype(int)
        return [(home, int(lo), int(hi)) for home, lo, hi in zip(homes, bounds, bounds[1:], strict=False) if hi > lo]

    def own_buffers(self) -> dict[Coord, dict[str, int]]:
        return {home: {SHARED: hi - lo} for home, lo, hi in self.slices}

    def setup(self, setup: dict[Coord, dict[str, np.ndarray]]) -> None:
        for home, lo, hi in self.slices:
            setup.setdefault(home, {})[SHARED] = self.params.initial[lo:hi]
        self.tally = Tally()

    @property
    def overlaps(self) -> int:
        return self.tally.count

    def epoch_programs(self, rows: list[np.ndarray]) -> dict[Coord, list[Op]]:
        return {coord: self._client(k, rows[k]) for k, coord in enumerate(self.clients)}

    def _client(self, k: int, rows: np.ndarray) -> list[Op]:
        """After each step, slice by slice, so that each read-add-write is short; then the sums are the parameters."""
        p = self.params
        ops: list[Op] = []
        for row in rows:
            ops += self.local_step(k, row)
            ops += [SliceUpdate(home, lo, hi, SHARED, p.names, BASE, self.tally) for home, lo, hi in self.slices]
            ops.append(TakeParameters(BASE, p.names, BASE, "keep the new parameters"))
        return ops

    def network(self) -> Network:
        vector = np.concatenate([self.chip.core(home).sram[SHARED].data for home, _, _ in self.slices])
        return self.params.network(self.net, vector)
