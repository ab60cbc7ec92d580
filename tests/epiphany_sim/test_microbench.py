"""The microbenchmarks: the calibration figures, the round trip, contention, Cannon's
matrix multiply, and their command line.

The two calibration figures are the published Parallella-16 measurements the e16 preset was
fitted to (1,949.88 MB/s for an 8 KB DMA copy to a neighbour, 493 MB/s for a DMA write into
DRAM); the other expectations are worked out by hand from the hardware figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from epiphany_sim import E16, E64
from epiphany_sim.cli import main
from epiphany_sim.microbench import (
    BenchError,
    cannon,
    contention,
    dma,
    dma_read,
    dma_sweep,
    dram_write,
    host_read,
    host_write,
    memcpy,
    roundtrip,
)


def test_an_8kb_dma_copy_to_a_neighbour_reproduces_the_published_bandwidth() -> None:
    assert dma(E16, 8192)["mb_per_s"] == pytest.approx(1949.88, rel=0.03)


def test_a_dma_write_into_dram_reproduces_the_published_bandwidth() -> None:
    assert dram_write(E16, 8192)["mb_per_s"] == pytest.approx(493.0, rel=0.03)


def test_dma_bandwidth_grows_with_size_as_the_setup_is_spread() -> None:
    points = dma_sweep(E16, [8, 64, 512, 8192])
    rates = [p["mb_per_s"] for p in points]
    assert rates == sorted(rates)
    # Bytes per cycle from the cycles: 8 B in one transaction after the setup and a poll.
    assert points[0]["cycles"] == E16.dma_setup_cycles + 1 + 1.5 + E16.poll_cycles
    assert points[0]["mb_per_s"] == pytest.approx(8 / points[0]["cycles"] * 600e6 / 2**20)


def test_a_dma_read_from_a_neighbour_goes_at_the_read_mesh_s_rate() -> None:
    # One request per 8 cycles on the rMesh; the last one's round trip (1.5 + 8 out, 1.5 + 1
    # back) and the poll after the setup.
    assert dma_read(E16, 8192)["cycles"] == E16.dma_setup_cycles + 8 * 1023 + (1.5 + 8 + 1.5 + 1) + E16.poll_cycles


def test_roundtrip_cycles_grow_by_3_per_hop() -> None:
    result = roundtrip(E16)
    hops = [p["hops"] for p in result["points"]]
    assert hops == [1, 2, 3, 4, 5, 6]
    # Each way: a one-cycle store, 1.5 cycles per hop, then the far core's poll loop (5).
    for p in result["points"]:
        assert p["cycles"] == 2 * (1 + 1.5 * p["hops"] + E16.poll_cycles)
    assert result["cycles_per_hop_each_way"] == pytest.approx(1.5, rel=0.05)
    assert result["fixed_cycles"] == pytest.approx(2 * (1 + E16.poll_cycles), abs=1e-9)


def test_streams_crossing_a_route_slow_it_down() -> None:
    result = contention(E16, streams=3)
    # Alone: setup, 512 transactions 2 cycles apart, 6 hops to the opposite corner.
    assert result["alone_cycles"] == E16.dma_setup_cycles + 2 * 511 + 1 + 6 * 1.5 + E16.poll_cycles
    assert result["contended_mb_per_s"] < 0.75 * result["alone_mb_per_s"]


@pytest.mark.slow
@pytest.mark.parametrize(("config", "n"), [(E16, 64), (E64, 64), (E64, 128)])
def test_cannon_s_product_equals_numpy(config, n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    product, cycles = cannon(config, a, b)
    reference = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(product, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())
    # No faster than every core multiplying its blocks at one multiply-add per cycle.
    assert cycles > n**3 / config.n_cores


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "message"),
    [((64, 64), (64, 32), "two square matrices"), ((62, 62), (62, 62), "multiple of the mesh side 4")],
)
def test_cannon_refuses_matrices_it_cannot_split(a_shape, b_shape, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        cannon(E16, np.zeros(a_shape, np.float32), np.zeros(b_shape, np.float32))


def test_matmul_writes_its_json_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mm.json"
    assert main(["microbench", "matmul", "--chip", "e16", "--n", "32", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert {"gflops", "peak_fraction", "cycles", "max_abs_error", "validated"} <= set(data)
    assert data["validated"] is True
    assert data["gflops"] == pytest.approx(2 * 32**3 / (data["cycles"] / 600e6) / 1e9)
    assert data["peak_fraction"] == pytest.approx(data["gflops"] / (16 * 2 * 0.6))
    assert "gflops" in capsys.readouterr().out


@pytest.mark.slow
def test_dma_plot_draws_bandwidth_against_size(tmp_path: Path) -> None:
    plot, path = tmp_path / "dma.png", tmp_path / "dma.json"
    assert main(["microbench", "dma", "--size", "4096", "--plot", str(plot), "--json", str(path)]) == 0
    assert plot.read_bytes().startswith(b"\x89PNG")
    points = json.loads(path.read_text())["points"]
    assert [p["bytes"] for p in points] == [8, 64, 512, 1024, 2048, 4096]


def test_a_roundtrip_at_one_distance_has_no_slope(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["microbench", "roundtrip", "--hops", "1"]) == 0
    out = capsys.readouterr().out
    assert "      1      15.0" in out  # 2 x (1 + 1.5 + 5)
    assert "fit: needs two distances or more" in out


def test_roundtrip_json_has_the_fit(tmp_path: Path) -> None:
    path = tmp_path / "rt.json"
    assert main(["microbench", "roundtrip", "--hops", "1,3", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert [p["hops"] for p in data["points"]] == [1, 3]
    assert data["cycles_per_hop_each_way"] == pytest.approx(1.5)


@pytest.mark.parametrize(
    "argv",
    [
        ["dma", "--size", "0"],
        ["dma", "--size", "6"],
        ["dram-read", "--size", "65536"],
        ["dma-read", "--size", "-8"],
        ["dma", "--chip", "1x1"],
        ["roundtrip", "--hops", "7"],
        ["roundtrip", "--hops", "0"],
        ["roundtrip", "--hops", "one"],
        ["contention", "--streams", "4"],
        ["matmul", "--n", "30"],
        ["matmul", "--n", "512"],
        ["matmul", "--chip", "2x3"],
        ["roundtrip", "--size", "64"],
        ["matmul", "--plot", "PLOT"],
        ["stream"],
    ],
)
def test_malformed_arguments_are_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, plot = tmp_path / "out.json", tmp_path / "plot.png"
    argv = ["microbench", *[str(plot) if a == "PLOT" else a for a in argv], "--json", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("epiphany-sim: error: ")
    assert not out.exists()
    assert not plot.exists()


# The three e-bandwidth-test figures the host's and the core's copy rates are fitted to (MB/s as
# it prints them: MiB per second at 600 MHz), and the cycles worked out by hand.
def test_the_host_s_write_into_a_core_reproduces_the_published_bandwidth() -> None:
    result = host_write(E16, 8192)
    # 1,024 transactions 313 cycles apart through the host library; the last continues the burst
    # on the eLink (9 cycles), goes 3 hops west along row 0 (1.5 each) and into core (0, 0) (1).
    assert result["cycles"] == 1023 * 313 + 9 + 3 * 1.5 + 1
    assert result["mb_per_s"] == pytest.approx(14.62, rel=0.03)


def test_the_host_s_write_into_dram_reproduces_the_published_bandwidth() -> None:
    result = host_write(E16, 8192, "dram")
    assert result["cycles"] == 1024 * 45.5  # its own memory: no eLink
    assert result["mb_per_s"] == pytest.approx(100.71, rel=0.03)


def test_a_memcpy_to_a_neighbour_reproduces_the_published_bandwidth() -> None:
    result = memcpy(E16, 8192)
    # The call (10), then a load and a store per transaction, 9 cycles apart; the call returns
    # once the last has left the core (1 cycle into its router).
    assert result["cycles"] == 10 + 1023 * 9 + 1
    assert result["mb_per_s"] == pytest.approx(504.09, rel=0.03)


def test_host_reads_and_core_loads_wait_for_every_round_trip() -> None:
    # The host: its library's access (313), the request over the eLink (14) and 3 hops and the
    # rMesh port into core (0, 0) (4.5 + 8), the reply back east (4.5), onto the eLink (0.5), a
    # whole packet (14): each of 1,024 transactions in turn.
    assert host_read(E16, 8192)["cycles"] == 1024 * (313 + 14 + 4.5 + 8 + 4.5 + 0.5 + 14)
    # The core from its neighbour: the request (1.5 + 8), the reply (1.5 + 1) and the copy loop (9).
    assert memcpy(E16, 8192, direction="from")["cycles"] == 10 + 1024 * (1.5 + 8 + 1.5 + 1 + 9)


def test_memcpy_and_host_benchmarks_refuse_an_unknown_target_or_direction() -> None:
    with pytest.raises(BenchError, match="target must be one of sram, dram"):
        host_write(E16, 8192, "flash")
    with pytest.raises(BenchError, match="direction must be one of to, from"):
        memcpy(E16, 8192, direction="sideways")


@pytest.mark.parametrize(
    ("argv", "cycles"),
    [
        (["host-write", "--size", "64"], 7 * 313 + 9 + 3 * 1.5 + 1),
        (["memcpy", "--size", "64", "--target", "dram"], 10 + 7 * 9 + 1),
        (["host-read", "--size", "8", "--target", "dram"], 45.5),
    ],
)
def test_the_new_benchmarks_write_bytes_cycles_and_bandwidth(tmp_path: Path, argv: list[str], cycles: float) -> None:
    path = tmp_path / "bench.json"
    assert main(["microbench", *argv, "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["cycles"] == cycles
    assert result["bytes"] == int(argv[2])
    assert result["mb_per_s"] == pytest.approx(result["bytes"] / cycles * 600e6 / 2**20)


def test_target_and_direction_belong_to_their_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["microbench", "dma", "--target", "dram"]) == 2
    assert "--target applies to host-write, host-read, memcpy only" in capsys.readouterr().err
    assert main(["microbench", "host-write", "--direction", "from"]) == 2
