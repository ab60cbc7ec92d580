"""The microbenchmarks Parallella owners ran on their boards, run on the simulated chip.

Each function builds a fresh chip, runs one experiment as the published programs did and
returns its figures as plain data. Bandwidths are in the unit those programs print:
``mb_per_s`` is bytes per cycle times the chip's clock over 2**20 (the e-bandwidth-test's
"MB/s" is this MiB/s).

- ``dma``: core (0, 0) copies ``size`` bytes to its east neighbour with its DMA engine and
  polls until the transfer is done (as ``e_dma_copy`` does).
- ``dma_read``: core (0, 0) reads ``size`` bytes from its east neighbour with its DMA engine.
- ``dram_write``, ``dram_read``: the same between core (0, 0) and the DRAM window.
- ``host_write``, ``host_read``: the host writes ``size`` bytes into core (0, 0)'s SRAM (or its
  DRAM window) through its library, or reads them back, as e-bandwidth-test's host side
  does; timed from the call until the last value has landed.
- ``memcpy``: core (0, 0) copies ``size`` bytes with loads and stores (``memcpy``) to or from
  its east neighbour's SRAM (or the DRAM window); timed on the core from the call until it
  returns, when its last store has left it (the writes are posted) or its last load has
  been stored.
- ``roundtrip``: core (0, 0) writes a flag into a core ``hops`` away (along row 0, then down
  the last column) and polls its own flag; that core polls, then writes back. The cycles
  of one round trip, for each distance, and a least-squares line through them.
- ``contention``: a 4 KB DMA stream from core (0, 0) to the opposite corner (east along row
  0, then south along the last column), alone and with ``streams`` others started with it,
  from (0, j) to (j, C-1) for j = 1, 2, ...: each shares the first stream's links along
  row 0 from column j and down the last column.
- ``matmul``: Cannon's algorithm, as Adapteva's matrix-multiply example does it: one block of
  ``n / k`` x ``n / k`` per core of a k x k mesh, blocks of A shifted west and of B north
  after every step by DMA into the neighbour's second buffer, so that the next transfer
  overlaps the multiply, with a handshake that a neighbour's buffer is free. The product is
  gathered from the cores' SRAM and compared with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from epiphany_sim import costs
from epiphany_sim.chip import Chip
from epiphany_sim.config import ChipConfig
from epiphany_sim.dma import Descriptor
from epiphany_sim.errors import SimError
from epiphany_sim.memory import WORD_BYTES, aligned_bytes
from epiphany_sim.mesh import HOST, Coord

DESCRIPTIONS = {
    "dma": "DMA copy from core (0, 0) to its east neighbour: cycles and MB/s (e-bandwidth-test)",
    "dma-read": "DMA read by core (0, 0) from its east neighbour",
    "dram-write": "DMA write from core (0, 0) into the shared DRAM over the eLink",
    "dram-read": "DMA read by core (0, 0) from the shared DRAM over the eLink",
    "host-write": "the host writes core (0, 0)'s SRAM (or its DRAM with --target dram) through its library",
    "host-read": "the host reads core (0, 0)'s SRAM (or its DRAM with --target dram) through its library",
    "memcpy": "core (0, 0) copies with loads and stores to (or --direction from) its neighbour or the DRAM",
    "roundtrip": "a flag to a core --hops away and back: cycles per distance and a line through them",
    "contention": "a 4 KB DMA stream alone and with --streams others sharing its links",
    "matmul": "Cannon's matrix multiply over the mesh (Adapteva's example): cycles, GFLOPS, share of peak",
}
"""Each benchmark, by kind, in the one line ``epiphany-sim microbench --help`` gives it."""
KINDS = tuple(DESCRIPTIONS)
TARGETS = ("sram", "dram")
"""Where ``host_write``, ``host_read`` and ``memcpy`` move their bytes: a core's SRAM or the DRAM window."""
DIRECTIONS = ("to", "from")
"""Which way ``memcpy`` copies: from core (0, 0) to the target, or from the target into it."""
DMA_SIZES = [8, 64, 512, 1024, 2048, 4096, 8192]
MATMUL_TOLERANCE = 1e-4  # relative, against numpy in float64
_ORIGIN = (0, 0)


class BenchError(SimError):
    """A microbenchmark cannot run as asked."""


def mb_per_s(config: ChipConfig, n_bytes: int, cycles: float) -> float:
    """Bandwidth as the Parallella benchmarks print it: MiB per second at the chip's clock."""
    return n_bytes / cycles * config.clock_hz / 2**20


def _check_size(config: ChipConfig, size: int) -> int:
    if size < WORD_BYTES or size % WORD_BYTES:
        raise BenchError(f"size must be a positive multiple of {WORD_BYTES} bytes, got {size}")
    if aligned_bytes(size) > config.data_bytes:
        raise BenchError(f"size {size} bytes does not fit a core's {config.data_bytes} bytes of data SRAM")
    return size // WORD_BYTES


def _timed_dma(config: ChipConfig, size: int, other: tuple, read: bool) -> dict[str, Any]:
    """One DMA transfer of ``size`` bytes between core (0, 0) and ``other``, polled until done."""
    n = _check_size(config, size)
    chip = Chip(config)
    core = chip.core(_ORIGIN)
    core.sram.alloc("buffer", n).store(0, np.arange(n, dtype=np.float32))
    far = chip.memory_at(other)
    far.alloc("buffer", n).store(0, np.arange(n, dtype=np.float32) + 0.5)
    src, dst = (other, _ORIGIN) if read else (_ORIGIN, other)
    cycles = []

    def program() -> Generator[simpy.Event, Any, None]:
        done = chip.env.event()
        start = chip.env.now
        yield from core.dma([Descriptor(src, "buffer", dst, "buffer", n)], then=done.succeed)
        yield from core.poll(done, "wait for the DMA")
        cycles.append(chip.env.now - start)

    chip.process(program())
    chip.run()
    landed = (core.sram if read else far)["buffer"].data
    expected = np.arange(n, dtype=np.float32) + (0.5 if read else 0.0)
    if not np.array_equal(landed, expected):
        raise SimError("the simulated DMA transfer did not move the values")
    return {"bytes": size, "cycles": cycles[0], "mb_per_s": mb_per_s(config, size, cycles[0])}


def dma(config: ChipConfig, size: int = 8192) -> dict[str, Any]:
    """A DMA copy of ``size`` bytes from core (0, 0) to its east neighbour."""
    return _timed_dma(config, size, _east_neighbour(config), read=False)


def dma_read(config: ChipConfig, size: int = 8192) -> dict[str, Any]:
    """A DMA read of ``size`` bytes from the east neighbour into core (0, 0)."""
    return _timed_dma(config, size, _east_neighbour(config), read=True)


def _east_neighbour(config: ChipConfig) -> Coord:
    if config.cols < 2:
        raise BenchError("the dma benchmarks need a mesh of at least two columns")
    return (0, 1)


def dma_sweep(config: ChipConfig, sizes: list[int]) -> list[dict[str, Any]]:
    """``dma`` at each of ``sizes``."""
    return [dma(config, size) for size in sizes]


def dram_write(config: ChipConfig, size: int = 8192) -> dict[str, Any]:
    """A DMA write of ``size`` bytes from core (0, 0) into the DRAM window."""
    return _timed_dma(config, size, HOST, read=False)


def dram_read(config: ChipConfig, size: int = 8192) -> dict[str, Any]:
    """A DMA read of ``size`` bytes from the DRAM window into core (0, 0)."""
    return _timed_dma(config, size, HOST, read=True)


SIZED = {"dma": dma, "dma-read": dma_read, "dram-write": dram_write, "dram-read": dram_read}
"""The benchmarks that time one DMA transfer of a given size, by kind."""


def _target_node(config: ChipConfig, target: str) -> tuple:
    if target not in TARGETS:
        raise BenchError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    return HOST if target == "dram" else _east_neighbour(config)


def _timed(config: ChipConfig, size: int, other: tuple, run: Any) -> dict[str, Any]:
    """Time ``run(chip, agent_buffer_values)`` on a chip where core (0, 0) and ``other`` each hold a
    buffer of ``size`` bytes: (0, 0)'s of ``0, 1, ...``, the other's of ``0.5, 1.5, ...``; ``run``
    is a process generator that returns the buffer that should now hold the other's values, or
    (0, 0)'s, and the cycles it took."""
    n = _check_size(config, size)
    chip = Chip(config)
    chip.core(_ORIGIN).sram.alloc("buffer", n).store(0, np.arange(n, dtype=np.float32))
    chip.memory_at(other).alloc("buffer", n).store(0, np.arange(n, dtype=np.float32) + 0.5)
    outcome: list[tuple[np.ndarray, np.ndarray, float]] = []

    def timed() -> Generator[simpy.Event, Any, None]:
        start = chip.env.now
        landed, expected = yield from run(chip, n)
        outcome.append((landed, expected, chip.env.now - start))

    chip.process(timed())
    chip.run()
    landed, expected, cycles = outcome[0]
    if not np.array_equal(landed, expected):
        raise SimError("the simulated copy did not move the values")
    return {"bytes": size, "cycles": cycles, "mb_per_s": mb_per_s(config, size, cycles)}


def host_write(config: ChipConfig, size: int = 8192, target: str = "sram") -> dict[str, Any]:
    """The host writes ``size`` bytes into core (0, 0)'s SRAM (``target`` ``sram``) or the DRAM window."""
    node = HOST if _target_node(config, target) == HOST else _ORIGIN

    def run(chip: Chip, n: int) -> Generator[simpy.Event, Any, tuple[np.ndarray, np.ndarray]]:
        values = np.arange(n, dtype=np.float32) + 7
        arrived = chip.env.event()
        yield from chip.host.write(node, "buffer", 0, values, "host write", then=arrived.succeed)
        yield arrived
        return chip.memory_at(node)["buffer"].data, values

    return _timed(config, size, HOST, run)


def host_read(config: ChipConfig, size: int = 8192, target: str = "sram") -> dict[str, Any]:
    """The host reads ``size`` bytes from core (0, 0)'s SRAM (``target`` ``sram``) or the DRAM window."""
    node = HOST if _target_node(config, target) == HOST else _ORIGIN

    def run(chip: Chip, n: int) -> Generator[simpy.Event, Any, tuple[np.ndarray, np.ndarray]]:
        got = yield from chip.host.read(node, "buffer", 0, n, "host read")
        return got, chip.memory_at(node)["buffer"].data

    return _timed(config, size, HOST, run)


def memcpy(config: ChipConfig, size: int = 8192, target: str = "sram", direction: str = "to") -> dict[str, Any]:
    """Core (0, 0) copies ``size`` bytes with loads and stores to or from (``direction``) its east
    neighbour's SRAM or the DRAM window (``target``), the ``memcpy`` call included."""
    other = _target_node(config, target)
    if direction not in DIRECTIONS:
        raise BenchError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")

    def run(chip: Chip, n: int) -> Generator[simpy.Event, Any, tuple[np.ndarray, np.ndarray]]:
        core = chip.core(_ORIGIN)
        yield chip.env.timeout(config.call_cycles)
        if direction == "to":
            yield from core.write(other, "buffer", 0, core.sram["buffer"].data, "memcpy")
            return chip.memory_at(other)["buffer"].data, core.sram["buffer"].data
        got = yield from core.read(other, "buffer", 0, n, "memcpy", copy=True)
        return got, chip.memory_at(other)["buffer"].data

    return _timed(config, size, other, run)


def _core_at(config: ChipConfig, hops: int) -> Coord:
    """The core ``hops`` away from (0, 0): along row 0, then down the last column."""
    col = min(hops, config.cols - 1)
    return (hops - col, col)


def _pingpong_cycles(config: ChipConfig, hops: int, rounds: int) -> float:
    """Mean cycles for a flag to go to a core ``hops`` away and come back."""
    chip = Chip(config)
    near, far = chip.core(_ORIGIN), chip.core(_core_at(config, hops))
    for core in (near, far):
        core.sram.alloc("flag", 1)
    ends = []

    def ping() -> Generator[simpy.Event, Any, None]:
        start = chip.env.now
        for k in range(rounds):
            yield from near.write(far.coord, "flag", 0, np.array([k], np.float32), "ping")
            yield from near.wait("flag", k + 1, "wait for the pong")
        ends.append(chip.env.now - start)

    def pong() -> Generator[simpy.Event, Any, None]:
        for k in range(rounds):
            yield from far.wait("flag", k + 1, "wait for the ping")
            yield from far.write(near.coord, "flag", 0, np.array([k], np.float32), "pong")

    chip.process(ping())
    chip.process(pong())
    chip.run()
    return ends[0] / rounds


def roundtrip(config: ChipConfig, hops: list[int] | None = None, rounds: int = 10) -> dict[str, Any]:
    """A flag written to a core ``h`` hops away and written back, for each ``h``."""
    largest = config.rows + config.cols - 2
    hops = hops if hops is not None else list(range(1, min(6, largest) + 1))
    if not hops or any(h < 1 or h > largest for h in hops):
        raise BenchError(f"hops must be between 1 and {largest} on a {config.rows}x{config.cols} mesh, got {hops}")
    points = [{"hops": h, "cycles": _pingpong_cycles(config, h, rounds)} for h in hops]
    x = np.array([p["hops"] for p in points], dtype=float)
    y = np.array([p["cycles"] for p in points])
    slope, fixed = np.polyfit(x, y, 1) if len(points) > 1 else (math.nan, float(y[0]))
    return {"points": points, "fixed_cycles": float(fixed), "cycles_per_hop_each_way": float(slope) / 2}


def contention(config: ChipConfig, streams: int = 3, size: int = 4096) -> dict[str, Any]:
    """A ``size``-byte DMA stream alone and with ``streams`` others crossing its route."""
    n = _check_size(config, size)
    if config.rows < 2 or config.cols < 2:
        raise BenchError("the contention benchmark needs a mesh of at least 2x2")
    if not 0 < streams < min(config.rows, config.cols):
        raise BenchError(f"streams must be between 1 and {min(config.rows, config.cols) - 1}, got {streams}")
    corner = (config.rows - 1, config.cols - 1)
    others = [((0, j), (j, config.cols - 1)) for j in range(1, streams + 1)]

    def measured(routes: list[tuple[Coord, Coord]]) -> float:
        chip = Chip(config)
        finish = []
        for src, dst in routes:
            chip.core(src).sram.alloc("out", n).store(0, np.ones(n, np.float32))
            chip.core(dst).sram.alloc(f"in{src}", n)

        def stream(src: Coord, dst: Coord, timed: bool) -> Generator[simpy.Event, Any, None]:
            core = chip.core(src)
            done = chip.env.event()
            yield from core.dma([Descriptor(src, "out", dst, f"in{src}", n)], then=done.succeed)
            yield from core.poll(done)
            if timed:
                finish.append(chip.env.now)

        for k, (src, dst) in enumerate(routes):
            chip.process(stream(src, dst, k == 0))
        chip.run()
        return finish[0]

    alone = measured([(_ORIGIN, corner)])
    together = measured([(_ORIGIN, corner), *others])
    return {
        "bytes": size,
        "streams": streams,
        "alone_cycles": alone,
        "contended_cycles": together,
        "alone_mb_per_s": mb_per_s(config, size, alone),
        "contended_mb_per_s": mb_per_s(config, size, together),
    }


def matmul(config: ChipConfig, n: int, seed: int = 0) -> dict[str, Any]:
    """Cannon's algorithm on two random ``n x n`` matrices, timed and checked against numpy."""
    _check_cannon(config, n)  # before the matrices exist: a large n is refused without allocating it
    rng = np.random.default_rng(seed)
    a, bm = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    c, cycles = cannon(config, a, bm)
    reference = a.astype(np.float64) @ bm.astype(np.float64)
    error = float(np.max(np.abs(c - reference)))
    gflops = 2 * n**3 / (cycles / config.clock_hz) / 1e9
    peak = 2 * config.n_cores * config.clock_hz / 1e9
    return {
        "n": n,
        "block": n // config.rows,
        "cycles": cycles,
        "gflops": gflops,
        "peak_fraction": gflops / peak,
        "max_abs_error": error,
        "validated": bool(error <= MATMUL_TOLERANCE * max(1.0, float(np.max(np.abs(reference))))),
    }


def cannon(config: ChipConfig, a: np.ndarray, bm: np.ndarray) -> tuple[np.ndarray, float]:
    """``a @ bm`` for square float32 matrices by Cannon's algorithm, one block per core of a
    square mesh, loaded by the host; return the product gathered from the cores' SRAM and
    the cycles from the end of loading to the last core's last step."""
    k, n = config.rows, len(a)
    if a.shape != (n, n) or bm.shape != (n, n):
        raise BenchError(f"Cannon's algorithm multiplies two square matrices of one size, not {a.shape} and {bm.shape}")
    _check_cannon(config, n)
    b = n // k
    chip = Chip(config)

    def block(m: np.ndarray, i: int, j: int) -> np.ndarray:
        return m[i * b : (i + 1) * b, j * b : (j + 1) * b].reshape(-1)

    loads = []
    for i in range(k):
        for j in range(k):
            sram = chip.core((i, j)).sram
            for name in ("a0", "a1", "b0", "b1", "c"):
                sram.alloc(name, b * b)
            for name in ("free_a", "free_b"):
                sram.alloc(name, 1)
            sram["c"].store(0, np.zeros(b * b, np.float32))
            # Cannon's initial skew: row i of A shifted i blocks west, column j of B j blocks north.
            loads += [((i, j), "a0", block(a, i, (i + j) % k), "A"), ((i, j), "b0", block(bm, (i + j) % k, j), "B")]
    span: dict[str, float] = {}

    def host() -> Generator[simpy.Event, Any, None]:
        yield from chip.host.write_all([(dst, name, values, f"load {what}") for dst, name, values, what in loads])
        span["start"] = chip.env.now
        yield simpy.AllOf(chip.env, [chip.process(_cannon(chip, (i, j), k, b)) for i in range(k) for j in range(k)])
        span["end"] = chip.env.now

    chip.process(host())
    chip.run()
    c = np.block([[chip.core((i, j)).sram["c"].data.reshape(b, b) for j in range(k)] for i in range(k)])
    return c, span["end"] - span["start"]


def _check_cannon(config: ChipConfig, n: int) -> None:
    """Raise ``BenchError`` unless ``n x n`` matrices can be multiplied by Cannon's algorithm on ``config``."""
    k = config.rows
    if config.cols != k:
        raise BenchError(f"Cannon's algorithm needs a square mesh, not {config.rows}x{config.cols}")
    if n < k or n % k:
        raise BenchError(f"n must be a multiple of the mesh side {k}, got {n}")
    b = n // k
    blocks = 5  # A and B twice (the block in use and the one arriving), C once
    need = blocks * aligned_bytes(b * b * WORD_BYTES) + 2 * aligned_bytes(WORD_BYTES)
    if need > config.data_bytes:
        raise BenchError(
            f"{n}x{n} matrices need {need} bytes per core ({blocks} blocks of {b}x{b}) but a core has "
            f"{config.data_bytes} bytes of data SRAM: use a smaller n"
        )


def _cannon(chip: Chip, coord: Coord, k: int, b: int) -> Generator[simpy.Event, Any, None]:
    """One core's steps: multiply the blocks it holds, pass A west and B north, take the next."""
    core = chip.core(coord)
    i, j = coord
    west, north = (i, (j - 1) % k), ((i - 1) % k, j)
    east, south = (i, (j + 1) % k), ((i + 1) % k, j)
    sram = core.sram
    size = b * b
    for step in range(k):
        cur, nxt = step % 2, (step + 1) % 2
        last = step == k - 1
        if not last and k > 1:
            # The neighbours must be done with the buffer this step's blocks go into.
            if step:
                yield from core.wait("free_a", step, "wait for the west buffer")
                yield from core.wait("free_b", step, "wait for the north buffer")
            yield from core.dma(
                [
                    Descriptor(coord, f"a{cur}", west, f"a{nxt}", size),
                    Descriptor(coord, f"b{cur}", north, f"b{nxt}", size),
                ],
                label="pass A west, B north",
            )
        product = sram[f"a{cur}"].data.reshape(b, b) @ sram[f"b{cur}"].data.reshape(b, b)
        yield from core.compute(costs.matmul_cycles(chip.config, b), f"multiply step {step}")
        sram["c"].store(0, sram["c"].data + product.reshape(-1))
        if not last and k > 1:
            yield from core.write(east, "free_a", 0, np.ones(1, np.float32), "west buffer free")
            yield from core.write(south, "free_b", 0, np.ones(1, np.float32), "north buffer free")
            filled = (step + 2) // 2 + (1 if nxt == 0 else 0)
            yield from core.wait(f"a{nxt}", filled * size, "wait for the next A")
            yield from core.wait(f"b{nxt}", filled * size, "wait for the next B")
