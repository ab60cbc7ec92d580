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
from collections.abc import Generator
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import simpy

from epiphany_sim import costs
from epiphany_sim.config import ChipConfig
from epiphany_sim.core import Core
from epiphany_sim.memory import Buffer
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
        self.names = list(program.plan.parameters[coord])
        self.sizes = [len(setup[name]) for name in self.names]
        self.size = sum(self.sizes)
        self.initial = np.concatenate([setup[name] for name in self.names]).astype(F32)

    def get(self, core: Core) -> np.ndarray:
        """The core's working copy as one vector."""
        return np.concatenate([core.sram[name].data for name in self.names])

    def put(self, core: Core, vector: np.ndarray) -> None:
        """Store ``vector`` into the core's working copy."""
        offset = 0
        for name, n in zip(self.names, self.sizes, strict=True):
            core.sram[name].store(0, vector[offset : offset + n])
            offset += n

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


def compute_store(
    core: Core, buffer: str, offset: int, values: np.ndarray, cycles: float, label: str
) -> Generator[simpy.Event, Any, None]:
    """Spend ``cycles`` computing, then store ``values`` at ``buffer[offset]``."""
    yield from core.compute(cycles, label)
    core.sram[buffer].store(offset, values.astype(F32))


class DataParallel(Trainer):
    """What the data-parallel trainers share: one single-core SGD client per worker core.

    Subclasses set ``server_cores`` (1: the centre core is no client), ``client_vectors``
    (the parameter-sized buffers each client keeps besides its weights), may add SRAM
    buffers (``own_buffers``) and initial values and state (``setup``), and write
    ``epoch_processes``.
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

    def local_step(self, k: int, row: int) -> Generator[simpy.Event, Any, None]:
        """Client ``k``'s SGD step on dataset row ``row``, in place in its SRAM.

        It waits for the sample the host writes (``run_epoch``) and tells the host when it is done.
        """
        program = self.programs[k]
        yield from self.session.program(program.chain[0], program.step_ops(0, self.steps[k], int(row)))
        self.steps[k] += 1

    def run_epoch(self, epoch: int) -> Meter:
        rows = self.shard_rows(epoch)
        for k, program in enumerate(self.programs):  # the host feeds all clients at once; they share the eLink
            feeding = program.host_process(
                self.chip, self.steps[k], [int(r) for r in rows[k]], self.data.x, self.data.y
            )
            assert feeding is not None  # the host feed always has a host process
            self.session.process(feeding)
        for process in self.epoch_processes(rows):
            self.session.process(process)
        self.session.run()
        return self.session.meter()

    def epoch_processes(self, rows: list[np.ndarray]) -> list[Generator[simpy.Event, Any, None]]:
        """The processes of one epoch in which client ``k`` trains on ``rows[k]``."""
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

    def epoch_processes(self, rows: list[np.ndarray]) -> list[Generator[simpy.Event, Any, None]]:
        n_batches = len(rows[0])
        sizes = [sum(1 for r in rows if len(r) > b) for b in range(n_batches)]
        first = self.batches
        self.batches += n_batches
        return [self._client(k, rows[k], first, sizes) for k in range(len(self.clients))]

    def _client(self, k: int, rows: np.ndarray, first: int, sizes: list[int]) -> Generator[simpy.Event, Any, None]:
        cfg = self.config
        core = self.chip.core(self.clients[k])
        sram = core.sram
        p = self.params
        c = len(self.clients)
        down = self.clients[k - 1] if k > 0 else None
        up = self.clients[k + 1] if k + 1 < c else None
        for b, m in enumerate(sizes):
            g = first + b  # batches since the start: the cumulative wait counts
            if b < len(rows):
                yield from self.local_step(k, rows[b])
                update = p.get(core) - sram[BASE].data
                yield from core.compute(costs.axpy_cycles(cfg, p.size), "own update")
            else:
                update = np.zeros(p.size, dtype=F32)
            for offset, n in p.chunks():  # reduce up the chain
                part = update[offset : offset + n]
                if down is not None:
                    yield from core.wait(SUM, g * p.size + offset + n, "wait partial update")
                    part = sram[SUM].data[offset : offset + n] + part
                    yield from core.compute(costs.axpy_cycles(cfg, n), "add update")
                if up is not None:
                    yield from core.write(up, SUM, offset, part, "partial update")
                else:
                    new = sram[BASE].data[offset : offset + n] + part / F32(m)
                    yield from compute_store(core, NEW, offset, new, costs.axpy_cycles(cfg, n), "average update")
                    if down is not None:
                        yield from core.write(down, NEW, offset, new, "new parameters")
            if up is not None:  # the new parameters come back down the chain
                for offset, n in p.chunks():
                    yield from core.wait(NEW, g * p.size + offset + n, "wait new parameters")
                    if down is not None:
                        yield from core.write(down, NEW, offset, sram[NEW].data[offset : offset + n], "new parameters")
            new = sram[NEW].data.copy()
            yield from core.compute(costs.copy_cycles(cfg, 2 * p.size), "take new parameters")
            p.put(core, new)
            sram[BASE].store(0, new)

    def network(self) -> Network:
        core = self.chip.core(self.clients[0])
        return self.params.network(self.net, self.params.get(core))


@TRAINERS.add
class Downpour(DataParallel):
    """ScatterBrain: asynchronous clients and a parameter server on the centre core."""

    name = "downpour"
    server_cores = 1
    client_vectors = (BASE, ACCRUED, FETCHED)
    PUSH, FETCH, DONE = 0.0, 1.0, 2.0

    def own_buffers(self) -> dict[Coord, dict[str, int]]:
        size = self.params.size
        return {
            self.server: {SERVER_PARAMS: size, INBOX: size, REQUESTS: len(self.clients)},
            **{coord: {GRANT: 1} for coord in self.clients},
        }

    def setup(self, setup: dict[Coord, dict[str, np.ndarray]]) -> None:
        setup[self.server] = {SERVER_PARAMS: self.params.initial}
        self.queue: deque[tuple[int, float]] = deque()
        self.served = 0  # requests taken, and pushes applied, since the start
        self.pushes = 0
        self.fetches = [0] * len(self.clients)

    def epoch_processes(self, rows: list[np.ndarray]) -> list[Generator[simpy.Event, Any, None]]:
        return [self._server()] + [self._client(k, rows[k]) for k in range(len(self.clients))]

    def _request(self, k: int, kind: float, label: str) -> Generator[simpy.Event, Any, None]:
        """Client ``k`` raises its flag at the server; the server takes flags in arrival order."""
        core = self.chip.core(self.clients[k])
        yield from core.write(
            self.server, REQUESTS, k, np.array([kind], dtype=F32), label, then=lambda: self.queue.append((k, kind))
        )

    def _server(self) -> Generator[simpy.Event, Any, None]:
        cfg = self.config
        core = self.chip.core(self.server)
        sram = core.sram
        p = self.params
        done = 0
        while done < len(self.clients):
            yield from core.wait(REQUESTS, self.served + 1, "wait for a request")
            self.served += 1
            k, kind = self.queue.popleft()
            client = self.clients[k]
            if kind == self.DONE:
                done += 1
            elif kind == self.FETCH:
                yield from core.write(client, FETCHED, 0, sram[SERVER_PARAMS].data, "parameters")
            else:
                self.pushes += 1
                yield from core.write(client, GRANT, 0, np.array([1.0], dtype=F32), "grant push")
                yield from core.wait(INBOX, self.pushes * p.size, "wait for the update")
                new = sram[SERVER_PARAMS].data + sram[INBOX].data / F32(self.hp.div)
                yield from compute_store(core, SERVER_PARAMS, 0, new, costs.axpy_cycles(cfg, p.size), "apply update")

    def _client(self, k: int, rows: np.ndarray) -> Generator[simpy.Event, Any, None]:
        cfg, hp = self.config, self.hp
        core = self.chip.core(self.clients[k])
        sram = core.sram
        p = self.params
        for row in rows:
            step = self.steps[k]
            if step % hp.n_fetch == 0:
                yield from self._collect(core)
                yield from self._request(k, self.FETCH, "fetch request")
                self.fetches[k] += 1
                yield from core.wait(FETCHED, self.fetches[k] * p.size, "wait for parameters")
                fetched = sram[FETCHED].data.copy()
                yield from core.compute(costs.copy_cycles(cfg, 2 * p.size), "take parameters")
                p.put(core, fetched)
                sram[BASE].store(0, fetched)
            yield from self.local_step(k, row)
            if self.steps[k] % hp.n_push == 0:
                yield from self._collect(core)
                grants = sram[GRANT].written
                yield from self._request(k, self.PUSH, "push request")
                yield from core.wait(GRANT, grants + 1, "wait for the server")
                yield from core.write(self.server, INBOX, 0, sram[ACCRUED].data, "push update")
                yield from compute_store(
                    core, ACCRUED, 0, np.zeros(p.size, F32), costs.fill_cycles(cfg, p.size), "clear update"
                )
        yield from self._request(k, self.DONE, "epoch done")

    def _collect(self, core: Core) -> Generator[simpy.Event, Any, None]:
        """``acc += params - base; base = params``: fold the steps since the last fetch or push into ``acc``."""
        sram = core.sram
        now = self.params.get(core)
        acc = sram[ACCRUED].data + (now - sram[BASE].data)
        yield from core.compute(costs.axpy_cycles(self.config, 3 * self.params.size), "collect updates")
        sram[ACCRUED].store(0, acc.astype(F32))
        sram[BASE].store(0, now)

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
        self.overlaps = 0

    def epoch_processes(self, rows: list[np.ndarray]) -> list[Generator[simpy.Event, Any, None]]:
        return [self._client(k, rows[k]) for k in range(len(self.clients))]

    def _client(self, k: int, rows: np.ndarray) -> Generator[simpy.Event, Any, None]:
        cfg = self.config
        core = self.chip.core(self.clients[k])
        p = self.params
        for row in rows:
            yield from self.local_step(k, row)
            update = p.get(core) - core.sram[BASE].data
            new = np.empty(p.size, dtype=F32)
            for home, lo, hi in self.slices:  # slice by slice, so each read-add-write is short
                shared = self.chip.core(home).sram[SHARED]
                written = shared.written
                if home == core.coord:  # its own slice: local loads
                    yield from core.compute(costs.copy_cycles(cfg, hi - lo), "load own slice")
                    fresh = shared.load()
                else:
                    fresh = yield from core.read(home, SHARED, 0, hi - lo, "read shared parameters")
                new[lo:hi] = fresh + update[lo:hi]
                yield from core.compute(costs.axpy_cycles(cfg, hi - lo), "add own update")

                def count_overlaps(shared: Buffer = shared, mine: int = written + hi - lo, n: int = hi - lo) -> None:
                    self.overlaps += (shared.written - mine) // n

                yield from core.write(home, SHARED, 0, new[lo:hi], "write shared parameters", then=count_overlaps)
            yield from core.compute(costs.copy_cycles(cfg, 2 * p.size), "keep the new parameters")
            p.put(core, new)
            core.sram[BASE].store(0, new)

    def network(self) -> Network:
        vector = np.concatenate([self.chip.core(home).sram[SHARED].data for home, _, _ in self.slices])
        return self.params.network(self.net, vector)
