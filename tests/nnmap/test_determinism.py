"""Same network, inputs and seed: the same figures and outputs, to the bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from epiphany_sim.config import load_chip
from nnmap.cli import main
from nnmap.model import random_inputs, random_network
from nnmap.run import run


def _run_files(tmp_path: Path, name: str, *args: str) -> tuple[bytes, bytes]:
    json_path, out_path = tmp_path / f"{name}.json", tmp_path / f"{name}.npy"
    assert main(["run", *args, "--json", str(json_path), "--outputs", str(out_path)]) == 0
    return json_path.read_bytes(), out_path.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("--chip", "e16", "--layers", "6,16,4", "--strategy", "round-robin", "--batch", "3"),
        ("--chip", "2x3", "--layers", "9,13,4", "--strategy", "partitioned", "--broadcast", "dram", "--batch", "2"),
        ("--chip", "3x5", "--layers", "7,11,5", "--strategy", "allgather", "--seed", "7"),
    ],
)
def test_two_runs_write_identical_files(args, tmp_path, capsys) -> None:
    first = _run_files(tmp_path, "a", *args)
    second = _run_files(tmp_path, "b", *args)
    assert first == second
    # and the figures are not constant: another seed gives other weights, inputs and outputs
    other = _run_files(tmp_path, "c", *args, "--seed", "12345")
    assert other[1] != first[1]
    capsys.readouterr()


def test_two_runs_in_one_process_agree_to_the_bit() -> None:
    net = random_network([10, 20, 5], "tanh", "softmax", seed=4)
    x = random_inputs(net, 3, seed=4)
    a = run(load_chip("e16"), net, "partitioned", x, "oneway")
    b = run(load_chip("e16"), net, "partitioned", x, "oneway")
    assert a.metrics == b.metrics
    assert a.outputs.tobytes() == b.outputs.tobytes()
    assert [core.activities for core in a.chip.cores] == [core.activities for core in b.chip.cores]
    np.testing.assert_array_equal(random_network([10, 20, 5], seed=4).layers[0].weights, net.layers[0].weights)
