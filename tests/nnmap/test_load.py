"""The two load paths: the host writing each core's SRAM, or its DRAM window then the cores' DMA reads."""

from __future__ import annotations

import re

import numpy as np
import pytest

from epiphany_sim.config import E16, E64, PRESETS
from epiphany_sim.errors import SimError
from nnmap.cli import main
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.session import Session, faster_load

NET = random_network([6, 16, 4], seed=3)
X = random_inputs(NET, 2, seed=3)


@pytest.mark.parametrize("strategy", ["partitioned", "node-per-core", "round-robin", "graph-cut"])
def test_both_load_paths_give_the_same_outputs(strategy: str) -> None:
    host = run(E16, NET, strategy, X, load="host", baseline=False)
    dram = run(E16, NET, strategy, X, load="dram", baseline=False)
    np.testing.assert_array_equal(host.outputs, dram.outputs)
    assert host.metrics["validated"]
    assert dram.metrics["validated"]
    assert (host.metrics["load"], dram.metrics["load"]) == ("host", "dram")
    # only the setup differs: the compute phase starts from the same values on every core
    assert host.metrics["compute_cycles"] == dram.metrics["compute_cycles"]


def test_the_default_is_the_faster_path_and_is_faster() -> None:
    """313 cycles a transaction through the host library into SRAM, against 45.5 into DRAM and 14
    for each core's read request over the eLink: the DRAM path on every preset."""
    assert all(faster_load(chip) == "dram" for chip in PRESETS.values())
    assert faster_load(E16.replace(host_sram_write_cycles_per_transaction=40.0)) == "host"
    default = run(E64, random_network([64, 32, 10], seed=1), "partitioned", baseline=False)
    host = run(E64, random_network([64, 32, 10], seed=1), "partitioned", load="host", baseline=False)
    assert default.metrics["load"] == "dram"
    assert default.metrics["setup_cycles"] < host.metrics["setup_cycles"] / 3


def test_loading_through_the_host_library_takes_its_rate_per_transaction() -> None:
    """Every loaded transaction leaves the host 313 cycles after the one before (the buffers of all
    cores one after another), so the setup takes at least that for all but the last."""
    result = run(E16, NET, "partitioned", X, load="host", baseline=False)
    sizes = [len(v) for named in result.plan.setup.values() for v in named.values()]
    assert sum(sizes) == 6 * 16 + 16 + 16 * 4 + 4  # every weight and bias once
    # every core of the chain computes first-layer products: it holds both samples' six inputs
    transactions = sum(-(-n // 2) for n in sizes) + 16 * (2 * 6 // 2)
    assert result.metrics["setup_cycles"] >= (transactions - 1) * E16.host_sram_write_cycles_per_transaction


def test_an_unknown_load_path_is_refused() -> None:
    with pytest.raises(SimError, match="unknown load 'flash': use one of host, dram"):
        Session(E16, {}, load="flash")


def test_the_command_line_takes_load(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--chip", "e16", "--layers", "6,16,4", "--load", "host"]) == 0
    assert main(["run", "--chip", "e16", "--layers", "6,16,4", "--load", "flash"]) == 2
    assert "invalid choice: 'flash'" in capsys.readouterr().err


def test_the_hosts_writes_are_not_starved_by_the_drams_replies() -> None:
    """Inputs streamed by the host while cores poll DRAM flags (the ``dram`` broadcast): the host's
    writes and the DRAM's replies share the eLink's incoming path and take turns, so the second
    sample's inputs arrive although the polls' replies never stop (with replies always first, the
    cores polled for ever)."""
    net = random_network([6, 16, 4], seed=0)
    x = random_inputs(net, 2, seed=0)
    result = run(E16, net, "partitioned", x, "dram", feed="host", baseline=False)
    assert result.metrics["validated"]
    np.testing.assert_allclose(result.outputs, net.forward(x), atol=1e-5)


def test_a_dram_window_too_small_for_the_parameters() -> None:
    """6,64,4 has 6*64 + 64*4 = 640 weights, 2,560 bytes, each staged at least once: more than a
    1 KiB DRAM window holds. The default load falls back to the host's; asking for ``dram`` is refused
    before anything runs, with the bytes it needs and the bytes free."""
    chip = E16.replace(dram_bytes=1024)
    net = random_network([6, 64, 4], seed=2)
    default = run(chip, net, "partitioned", baseline=False)
    assert default.metrics["load"] == "host"
    assert default.metrics["validated"]
    with pytest.raises(SimError, match="the dram load stages") as refused:
        run(chip, net, "partitioned", load="dram", baseline=False)
    need, free = (int(v.replace(",", "")) for v in re.findall(r"([\d,]+) (?:bytes|free)", str(refused.value)))
    assert need >= (6 * 64 + 64 * 4) * 4
    assert need > free
    assert free <= 1024
