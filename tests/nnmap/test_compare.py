"""``nnmap compare`` on the blog post's question: 64,128,10 on the Epiphany-64, every strategy side by side.

Figures checked by hand for this network: 64*128 + 128*10 = 9472 weights and 138 biases.
One core's serial pass computes each output as a dot product over its inputs, at one cycle
per product, a 3-cycle branch per 8 products, a 10-cycle call and two 4-cycle adds to
reduce the partial sums, then adds the bias (4 cycles) and applies the 20-cycle activation;
the pass starts with one 5-cycle poll of its input flag: 128 * (64 + 24 + 10 + 8 + 24) +
10 * (128 + 48 + 10 + 8 + 24) + 5 = 18825 cycles.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from epiphany_sim.config import E64
from nnmap.cli import main
from nnmap.strategies import STRATEGIES

SIZES = [64, 128, 10]
VARIANTS = [  # every strategy with the broadcasts it is compared with, written out by hand
    ("partitioned", "bidir"),
    ("partitioned", "oneway"),
    ("partitioned", "dram"),
    ("node-per-core", "bidir"),
    ("round-robin", "bidir"),
    ("allgather", "direct"),
    ("graph-cut", "targeted"),
    ("pipeline", "stream"),
]
N_WEIGHTS = 64 * 128 + 128 * 10
# The pipeline's groups weigh a layer as one core's cycles: per output a 10-cycle call, a
# cycle a product, a 3-cycle branch per 8, two 4-cycle adds, a 4-cycle bias and a 20-cycle
# activation: 128 * (10 + 64 + 24 + 8 + 24) = 16640 and 10 * (10 + 128 + 48 + 8 + 24) = 2180.
# Giving each core to the layer with the most cycles per core leaves 56 + 8 (16640 / 56 = 297
# and 2180 / 8 = 273; 57 + 7 would leave 2180 / 7 = 311): 56 cores read the inputs.
INPUT_READERS = {"pipeline": 56}
N_BIASES = 128 + 10
SINGLE_CORE_CYCLES = N_WEIGHTS + 3 * (128 * 64 // 8 + 10 * 128 // 8) + N_BIASES * (10 + 8 + 4 + 20) + 5
REQUIRED = (
    "chip strategy broadcast layers batch setup_cycles compute_cycles readback_cycles total_cycles time_us "
    "parameters_cycles per_sample_cycles setup_time_us compute_time_us readback_time_us per_sample_time_us phases "
    "single_core_cycles speedup max_abs_error validated core_utilisation link_max_utilisation bytes_on_chip "
    "bytes_off_chip messages sram_peak_bytes"
).split()


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    path = tmp_path_factory.mktemp("compare") / "all.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["compare", "--chip", "e64", "--layers", ",".join(map(str, SIZES)), "--json", str(path)])
    return code, out.getvalue(), json.loads(path.read_text())


def _runs(compared) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["strategy"], m["broadcast"]): m for m in compared[2]["runs"]}


@pytest.mark.slow
def test_one_run_per_strategy_and_variant(compared) -> None:
    code, _, data = compared
    assert code == 0
    assert data["chip"] == "e64"
    assert data["layers"] == SIZES
    assert data["batch"] == 1
    runs = _runs(compared)
    assert len(runs) == len(data["runs"])  # no variant twice
    assert set(runs) == set(VARIANTS)
    assert {s for s, _ in runs} == set(STRATEGIES)
    for m in runs.values():
        assert set(REQUIRED) <= set(m)
        assert m["chip"] == "e64"
        assert m["layers"] == SIZES
        assert m["batch"] == 1
        assert m["validated"] is True
        assert 0 <= m["max_abs_error"] <= 1e-5


def test_partitioned_beats_one_core(compared) -> None:
    m = _runs(compared)[("partitioned", "bidir")]
    assert m["single_core_cycles"] == SINGLE_CORE_CYCLES
    assert m["speedup"] > 1
    assert m["speedup"] == pytest.approx(SINGLE_CORE_CYCLES / m["compute_cycles"])
    # the post's question: sharing hidden values on chip beats the round trip through DRAM
    dram = _runs(compared)[("partitioned", "dram")]
    assert dram["compute_cycles"] > 10 * m["compute_cycles"]
    assert dram["bytes_on_chip"] < m["bytes_on_chip"]
    assert dram["bytes_off_chip"] > m["bytes_off_chip"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_figures_add_up(compared, variant) -> None:
    m = _runs(compared)[variant]
    assert m["total_cycles"] == pytest.approx(m["setup_cycles"] + m["compute_cycles"] + m["readback_cycles"])
    assert m["time_us"] == pytest.approx(m["total_cycles"] / 800e6 * 1e6)
    assert m["single_core_cycles"] == SINGLE_CORE_CYCLES  # every strategy does the same serial work
    assert m["speedup"] == pytest.approx(m["single_core_cycles"] / m["compute_cycles"])
    assert len(m["core_utilisation"]) == 64
    assert all(0.0 <= u <= 1.0 for u in m["core_utilisation"])
    assert 0.0 < m["link_max_utilisation"] <= 1.0
    assert len(m["sram_peak_bytes"]) == 64
    assert all(E64.code_bytes < b <= E64.sram_bytes for b in m["sram_peak_bytes"])
    assert m["messages"] > 0
    # The host loads every weight and bias once, and the inputs into every core that uses
    # them (all 64 here, but for the pipeline's first group); the outputs come back over the
    # eLink too, at one byte a cycle plus a byte of framing per 8-byte transaction.
    loaded_bytes = 4 * (N_WEIGHTS + N_BIASES + INPUT_READERS.get(variant[0], 64) * SIZES[0])
    returned_bytes = 4 * SIZES[-1]
    assert m["bytes_off_chip"] >= 4 * (N_WEIGHTS + N_BIASES + SIZES[0])
    if variant[1] == "dram":
        assert m["bytes_off_chip"] > loaded_bytes + returned_bytes
    else:
        assert m["bytes_off_chip"] == loaded_bytes + returned_bytes
    # The host writes every weight and bias and one copy of the inputs into its DRAM (45.5 cycles
    # per 8-byte transaction), then the cores fetch theirs, the inputs each, with DMA reads whose
    # requests share the eLink's read path (14 cycles each).
    assert m["load"] == "dram"
    written = 4 * (N_WEIGHTS + N_BIASES + SIZES[0]) / 8
    fetched = loaded_bytes / 8
    through_dram = written * E64.host_dram_write_cycles_per_transaction + fetched * E64.elink_read_cycles_per_request
    assert through_dram <= m["setup_cycles"] < 1.05 * through_dram
    # The outputs cross the eLink (9 cycles per transaction) and the host reads them from DRAM.
    assert m["readback_cycles"] >= (returned_bytes / 8) * (9 + E64.host_dram_read_cycles_per_transaction)


def test_sram_peak_of_the_first_core_by_hand(compared) -> None:
    """Chain core 0 of partitioned: 8192 / 64 = 128 products = hidden nodes 0 and 1 whole;
    1280 / 64 = 20 products of output 0, handed on. Buffers in bytes, 8-byte aligned:
    x 256, w0 512, acc0 8, b0 8, h0.0 512, h0.1 512, w1 80, acc1 8; plus 4096 of code."""
    m = _runs(compared)[("partitioned", "bidir")]
    assert m["sram_peak_bytes"][0] == 4096 + 256 + 512 + 8 + 8 + 512 + 512 + 80 + 8


def test_table_prints_every_variant_with_its_figures(compared) -> None:
    """One row per run, fastest total first (the default ranking), the winner's rank marked ``*``."""
    _, text, data = compared
    lines = text.splitlines()
    assert lines[0] == "network [64, 128, 10] on e64 (8x8), batch 1, kernels asm"
    header = lines[1].split()
    for word in ("rank", "strategy", "broadcast", "speedup", "on-chip", "off-chip", "messages", "valid"):
        assert word in header
    for column in ("setup cyc", "compute cyc", "readback cyc", "total cyc", "per-sample cyc", "util mean"):
        assert column in lines[1]
    runs = data["runs"]
    rows = [line.split() for line in lines[2 : 2 + len(runs)]]
    assert (
        lines[2 + len(runs)]
        == "  ranked by total cycles (setup + compute + readback), fastest first; * marks the fastest"
    )
    for k, (row, m) in enumerate(zip(rows, runs, strict=True)):
        assert row == [
            *([str(k + 1), "*"] if k == 0 else [str(k + 1)]),
            m["strategy"],
            m["broadcast"],
            f"{m['setup_cycles']:.0f}",
            f"{m['compute_cycles']:.0f}",
            f"{m['readback_cycles']:.0f}",
            f"{m['total_cycles']:.0f}",
            f"{m['per_sample_cycles']:.0f}",
            f"{m['speedup']:.2f}",
            f"{np.mean(m['core_utilisation']):.0%}",
            f"{m['link_max_utilisation']:.0%}",
            str(m["bytes_on_chip"]),
            str(m["bytes_off_chip"]),
            str(m["messages"]),
            str(m["edges_cut"]),
            str(m["hop_bytes"]),
            f"{m['imbalance']:.2f}",
            "yes",
        ]


def test_run_json_for_partitioned_on_e64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.json"
    assert main(["run", "--chip", "e64", "--layers", "64,128,10", "--json", str(path)]) == 0
    m = json.loads(path.read_text())
    assert set(REQUIRED) <= set(m)
    assert (m["strategy"], m["broadcast"], m["validated"]) == ("partitioned", "bidir", True)
    assert m["speedup"] > 1
    out = capsys.readouterr().out
    assert f"speedup {m['speedup']:.2f}x" in out
    assert "validated against numpy: yes" in out
