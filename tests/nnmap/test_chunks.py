"""Input sets larger than the SRAM holds run in chunks that fit; their figures add up.

The case counted by hand: a 600-2 network on one core holds x (600 floats per row,
2400 bytes), w0 (4800), acc0 (8), b0 (8) and y (2 floats per row, 8 bytes), so b rows
take 2408 b + 4816 bytes of the 28672 free: 9 rows fit (26488), 10 do not (28896). Twenty
rows run as chunks of 9, 9 and 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from epiphany_sim.config import load_chip
from nnmap.chunks import chunk_rows, run_all, run_chunks
from nnmap.cli import main
from nnmap.errors import MappingError
from nnmap.mapping import plan_for
from nnmap.model import random_inputs, random_network
from nnmap.run import run

CHIP = load_chip("1x1")
NET = random_network([600, 2], seed=5)
X = random_inputs(NET, 20, seed=6)


def test_the_rows_per_chunk_are_the_most_that_fit() -> None:
    assert chunk_rows(CHIP, NET, "partitioned", None, 20) == 9
    assert chunk_rows(CHIP, NET, "partitioned", None, 4) == 4
    with pytest.raises(MappingError, match="needs 28896 bytes of data"):
        plan_for("partitioned", CHIP, NET, 10)


def test_chunks_sum_the_runs_of_their_rows() -> None:
    chunked = run_chunks(CHIP, NET, "partitioned", None, X, 9)
    assert (chunked.chunks, chunked.rows_per_chunk) == (3, 9)
    parts = [run(CHIP, NET, "partitioned", X[a:b]).metrics for a, b in ((0, 9), (9, 18), (18, 20))]
    m = chunked.metrics
    assert [c["batch"] for c in m["chunks"]] == [9, 9, 2]
    assert m["batch"] == 20
    for key in ("setup_cycles", "compute_cycles", "readback_cycles", "total_cycles", "messages", "bytes_off_chip"):
        assert m[key] == sum(p[key] for p in parts), key
    assert m["speedup"] == pytest.approx(sum(p["single_core_cycles"] for p in parts) / m["compute_cycles"])
    assert m["validated"]
    np.testing.assert_allclose(chunked.outputs, NET.forward(X), rtol=0, atol=1e-5)


def test_the_combined_figures_have_every_key_of_a_run() -> None:
    m = run_chunks(CHIP, NET, "partitioned", None, X[:12], 9).metrics
    assert set(m) == set(m["chunks"][0]) | {"chunks"}
    assert len(m["core_utilisation"]) == 1
    assert 0 < m["core_utilisation"][0] <= 1


@pytest.mark.slow
def test_the_cli_runs_inputs_in_chunks_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, inputs, out, y = tmp_path / "m.npz", tmp_path / "x.npy", tmp_path / "r.json", tmp_path / "y.npy"
    NET.save(model)
    np.save(inputs, X)
    argv = ["run", "--chip", "1x1", "--model", str(model), "--inputs", str(inputs), "--json", str(out)]
    assert main([*argv, "--outputs", str(y)]) == 0
    printed = capsys.readouterr().out
    assert "20 input rows run in 3 chunks of up to 9 rows" in printed
    assert "--batch" not in printed
    data = json.loads(out.read_text())
    assert [c["batch"] for c in data["chunks"]] == [9, 9, 2]
    assert data["total_cycles"] == sum(c["total_cycles"] for c in data["chunks"])
    np.testing.assert_allclose(np.load(y), NET.forward(X), rtol=0, atol=1e-5)
    assert main(["plan", *argv[1:7]]) == 0
    assert "the 20 input rows run in chunks of up to 9 rows" in capsys.readouterr().out
    assert main(["compare", *argv[1:7], "--strategies", "partitioned,round-robin"]) == 0
    printed = capsys.readouterr().out
    assert "partitioned:bidir: 20 rows in 3 chunks of up to 9" in printed
    assert "round-robin" in printed


def test_figures_of_one_run_are_refused_for_chunks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, inputs = tmp_path / "m.npz", tmp_path / "x.npy"
    NET.save(model)
    np.save(inputs, X)
    argv = ["run", "--chip", "1x1", "--model", str(model), "--inputs", str(inputs), "--plots", str(tmp_path / "f")]
    assert main(argv) == 2
    assert "fit 1x1's SRAM only in chunks of 9: give at most 9 rows" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "x.npy"]


def test_the_library_run_names_the_chunked_call_when_the_rows_do_not_fit() -> None:
    """Twenty rows where nine fit (the docstring's count): the error says so and names run_all, not the network."""
    with pytest.raises(MappingError) as refused:
        run(CHIP, NET, "partitioned", X)
    assert str(refused.value) == (
        "the 20 input rows do not fit 1x1's SRAM in one run: at most 9 do with partitioned; "
        "nnmap.chunks.run_all(config, net, strategy, x) runs them in chunks that fit"
    )


def test_run_all_finds_the_chunks_itself() -> None:
    done = run_all(CHIP, NET, "partitioned", X)
    assert (done.chunks, done.rows_per_chunk) == (3, 9)
    assert [c["batch"] for c in done.metrics["chunks"]] == [9, 9, 2]
    assert done.metrics["validated"]
    layer = NET.layers[0]  # sigmoid(x W + b) in float64, as the reference
    expected = 1 / (1 + np.exp(-(X.astype(np.float64) @ layer.weights + layer.bias)))
    np.testing.assert_allclose(done.outputs, expected, rtol=0, atol=1e-5)


def test_a_network_that_fits_no_row_keeps_the_error_that_names_the_fullest_core() -> None:
    big = random_network([4000, 2], seed=1)  # 16 KB of inputs and 32 KB of weights: not one row fits 28672 bytes
    with pytest.raises(MappingError, match=r"does not fit 1x1: core \(0, 0\)"):
        run(CHIP, big, "partitioned", random_inputs(big, 3))
