"""The kernel code profiles: ``asm`` (hand-scheduled) and ``c`` (compiled C loops).

Every expectation is worked out by hand from the e16 figures: a 10-cycle call, a 3-cycle
taken branch, a 4-cycle FPU latency; for ``c`` a trip of the (not unrolled) loop issues 2
instructions besides the branch penalty, so each element pays 5 cycles of loop on top of
its own instructions (a dot product's two loads and FMADD: 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epiphany_sim import E16, E64, costs
from epiphany_sim.cli import main
from epiphany_sim.config import load_chip
from epiphany_sim.errors import ConfigError
from epiphany_sim.microbench import matmul

C16 = E16.replace(kernels="c")
PUBLISHED_GFLOPS = 9.1  # Cannon's SGEMM in C on the 16-core Parallella at 600 MHz, Ross et al. (2015)


def test_the_default_profile_is_asm_on_every_preset() -> None:
    assert E16.kernels == "asm"
    assert E64.kernels == "asm"
    assert load_chip("e16").kernels == "asm"


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, 10 + 1 * (3 + 5) + 4),  # call, one element (two loads, FMADD, subtract, branch, penalty), last result
        (5, 10 + 5 * (3 + 5) + 4),
        (64, 10 + 64 * 8 + 4),  # 526
    ],
)
def test_a_compiled_dot_product_costs_its_instructions_and_a_loop_trip_per_element(n: int, expected: float) -> None:
    assert costs.dot_cycles(C16, n) == expected
    assert costs.dot_cycles(C16, n, strided=True) == expected  # a strided load costs a contiguous one's cycle


def test_a_long_compiled_dot_product_is_5_8_times_the_hand_scheduled_one() -> None:
    """Per product: 8 cycles compiled against 1 + 3/8 = 1.375 hand-scheduled: 8 / 1.375 = 5.818."""
    n = 80_000
    asm, c = costs.dot_cycles(E16, n), costs.dot_cycles(C16, n)
    assert asm == 10 + n + n // 8 * 3 + 2 * 4
    assert c == 10 + 8 * n + 4
    assert c / asm == pytest.approx(8 / 1.375, rel=1e-3)


def test_every_other_compiled_kernel_costs_its_instructions_and_a_loop_trip_per_element() -> None:
    assert costs.sparse_dot_cycles(C16, 10) == 10 + 10 * (5 + 5) + 4  # weight, index, shift, input, FMADD
    assert costs.sum_cycles(C16, 16) == 10 + 16 * (2 + 5) + 4  # a load and an add
    assert costs.sum_cycles(C16, 4) == 4 * 4  # a short sum is inlined in both profiles
    assert costs.axpy_cycles(C16, 16) == 10 + 16 * (4 + 5)  # two loads, FMADD, store
    assert costs.copy_cycles(C16, 16) == 10 + 16 * (2 + 5)
    assert costs.fill_cycles(C16, 16) == 10 + 16 * (1 + 5)
    # three dependent operations per element, each waiting 4 cycles, between a load and a store
    assert costs.elementwise_cycles(C16, 4, 3) == 10 + 4 * (2 + 3 * 4 + 5)
    assert costs.activation_cycles(C16) == 2 + 4 + 20
    assert costs.scalar_cycles(C16, 1) == costs.scalar_cycles(E16, 1) == 4


def test_an_unrolled_compiled_sum_waits_for_its_one_accumulator() -> None:
    """Unrolled by 8, a trip's 5 cycles of loop spread to 0.625 per element: 3 + 0.625 is less
    than the FMADD's 4-cycle latency, which then sets the pace: 8 trips of 8 x 4 cycles."""
    unrolled = C16.replace(c_loop_unroll=8)
    assert costs.dot_cycles(unrolled, 64) == 10 + 64 * (4 - 5 / 8) + 8 * 5 + 4
    assert costs.dot_cycles(unrolled, 64) == 10 + 64 * 4 + 4


def test_a_compiled_block_matrix_multiply_pays_its_fitted_cost_per_multiply_add() -> None:
    # 32 x 32: 32,768 multiply-adds at 130 cycles per 64, 64 tiles of 32 cycles of sums and a loop trip of 5.
    assert costs.matmul_cycles(C16, 32) == 10 + 32**3 * 130 / 64 + 64 * (32 + 5)


def test_every_compiled_figure_follows_its_field() -> None:
    slow = C16.replace(c_dot_cycles_per_element=6.0, c_loop_trip_cycles=3.0, branch_cycles=1.0)
    assert costs.dot_cycles(slow, 10) == 10 + 10 * (6 + 3 + 1) + 4


def test_cannons_multiply_in_c_on_e16_lands_within_5_percent_of_the_published_9_1_gflops() -> None:
    """4 steps of a 32 x 32 block: 4 x 68,938 cycles of kernel plus the DMA the kernel does not
    hide; 2 x 128^3 FLOP in about 276,860 cycles at 600 MHz is 9.09 GFLOPS."""
    result = matmul(C16, 128)
    assert result["validated"]
    assert result["cycles"] >= 4 * costs.matmul_cycles(C16, 32)
    assert result["gflops"] == pytest.approx(PUBLISHED_GFLOPS, rel=0.05)
    assert matmul(E16, 128)["gflops"] / result["gflops"] == pytest.approx(1.99, abs=0.02)


def test_microbench_kernels_flag_reaches_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mm.json"
    assert main(["microbench", "matmul", "--n", "32", "--kernels", "c", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["kernels"] == "c"
    # n = 32 on the 4 x 4 mesh: 4 steps, each at least the compiled kernel on an 8 x 8 block
    assert data["cycles"] >= 4 * costs.matmul_cycles(C16, 8)
    assert "kernels c" in capsys.readouterr().out


def test_a_toml_file_sets_the_profile_and_the_flag_overrides_it(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('kernels = "c"\n')
    assert load_chip("e16", path).kernels == "c"
    assert load_chip("e64", path, "asm").kernels == "asm"
    path.write_text('kernels = "fortran"\n')
    with pytest.raises(ConfigError, match="kernels must be one of asm, c, got 'fortran'"):
        load_chip("e16", path)


def test_an_unknown_profile_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mm.json"
    assert main(["microbench", "matmul", "--kernels", "fortran", "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("epiphany-sim: error: argument --kernels: invalid choice: 'fortran'")
    assert not out.exists()
