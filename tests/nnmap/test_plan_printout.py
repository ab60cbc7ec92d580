"""``nnmap plan``: each core's products, owned outputs, partial sums and SRAM, worked out by hand.

The blog post's network 6,16,4 on e16. Layer 0: 96 products, 6 per core, so chain core k holds
products [6k, 6k + 6) = all of hidden node k. Layer 1: 64 products, 4 per core, 16 per
output, so core k holds [4k, 4k + 4) = inputs 4(k mod 4) .. 4(k mod 4) + 3 of output
k // 4; the fourth core of each group owns it, the others hand their partial sum on, and
all but the first of the group receive one. Hidden node k is read by the cores q whose
inputs hold it: q mod 4 = k // 4. Buffers (float32, 8-byte aligned): x 24 bytes,
w0 24, acc0 8, b0 8, h0.0 and h0.1 64 each, w1 16, acc1 8; owners add b1 8 and y 8; the
receivers add partial_in1.0 and partial_in1.1 8 each; 4096 bytes of code come first.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from nnmap.cli import main


@pytest.fixture(scope="module")
def blocks() -> dict[int, list[str]]:
    """The printout of ``nnmap plan --chip e16 --layers 6,16,4``, split per core."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["plan", "--chip", "e16", "--layers", "6,16,4", "--strategy", "partitioned"]) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "plan: partitioned (broadcast bidir) of network [6, 16, 4] on e16 (4x4), batch 1"
    per_core: dict[int, list[str]] = {}
    for line in lines[1:]:
        if line.startswith("core "):
            per_core[int(line.split()[1])] = [line]
        else:
            per_core[max(per_core)].append(line)
    return per_core


def test_core_0_in_full(blocks) -> None:
    assert blocks[0] == [
        "core 0 at (0, 0) (chain position 0):",
        "  layer 0: 6 products [0, 6): y0[x0..x5]",
        "    owns outputs: y0",
        "    outputs read by cores: 4, 8, 12",
        "  layer 1: 4 products [0, 4): y0[x0..x3]",
        "    owns outputs: -",
        "    sends partial sums of: y0",
        "  SRAM: 4312 of 32768 bytes (code 4096, x 24, w0 24, acc0 8, b0 8, h0.0 64, h0.1 64, w1 16, acc1 8)",
    ]


def test_core_inside_an_output_receives_and_passes_on(blocks) -> None:
    assert blocks[1][4:] == [
        "  layer 1: 4 products [4, 8): y0[x4..x7]",
        "    owns outputs: -",
        "    sends partial sums of: y0",
        "    receives partial sums of: y0",
        "  SRAM: 4328 of 32768 bytes (code 4096, x 24, w0 24, acc0 8, b0 8, h0.0 64, h0.1 64, w1 16, acc1 8, "
        "partial_in1.0 8, partial_in1.1 8)",
    ]


def test_core_that_finishes_an_output(blocks) -> None:
    assert blocks[15] == [
        "core 15 at (3, 0) (chain position 15):",  # the snake's last row runs right to left
        "  layer 0: 6 products [90, 96): y15[x0..x5]",
        "    owns outputs: y15",
        "    outputs read by cores: 3, 7, 11",
        "  layer 1: 4 products [60, 64): y3[x12..x15]",
        "    owns outputs: y3",
        "    receives partial sums of: y3",
        "  SRAM: 4344 of 32768 bytes (code 4096, x 24, w0 24, acc0 8, b0 8, h0.0 64, h0.1 64, w1 16, acc1 8, "
        "b1 8, partial_in1.0 8, partial_in1.1 8, y 8)",
    ]


def test_every_core(blocks, snake) -> None:
    chain = snake(4, 4)
    assert sorted(blocks) == list(range(16))
    for k in range(16):
        j, first, owner = k // 4, 4 * (k % 4), k % 4 == 3
        expected = [
            f"core {k} at {chain[k]} (chain position {k}):",
            f"  layer 0: 6 products [{6 * k}, {6 * k + 6}): y{k}[x0..x5]",
            f"    owns outputs: y{k}",
            "    outputs read by cores: " + ", ".join(str(q) for q in range(k // 4, 16, 4) if q != k),
            f"  layer 1: 4 products [{4 * k}, {4 * k + 4}): y{j}[x{first}..x{first + 3}]",
            f"    owns outputs: {f'y{j}' if owner else '-'}",
        ]
        expected += [] if owner else [f"    sends partial sums of: y{j}"]
        expected += [f"    receives partial sums of: y{j}"] if k % 4 else []
        sram = 4096 + 24 + 24 + 8 + 8 + 64 + 64 + 16 + 8 + (8 + 8 if owner else 0) + (16 if k % 4 else 0)
        assert blocks[k][:-1] == expected
        assert blocks[k][-1].startswith(f"  SRAM: {sram} of 32768 bytes (code 4096, ")


def test_seed_example_one_printout(capsys: pytest.CaptureFixture[str], product_range) -> None:
    """6,27,5: chain core 1 holds products [10, 20), the post's picture of core J. In layer 1
    core q holds products ``[q 135 // 16, (q + 1) 135 // 16)`` of 27 inputs each: it reads
    hidden node ``p mod 27`` for each of its products ``p``."""
    assert main(["plan", "--chip", "e16", "--layers", "6,27,5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("core 1 at (0, 1) (chain position 1):")
    readers = [q for q in range(16) if q != 1 and {p % 27 for p in product_range(q, 135, 16)} & {1, 2}]
    assert lines[start + 1 : start + 6] == [
        "  layer 0: 10 products [10, 20): y1[x4..x5], y2[x0..x5], y3[x0..x1]",
        "    owns outputs: y1-y2",
        "    outputs read by cores: " + ", ".join(map(str, readers)),
        "    sends partial sums of: y3",
        "    receives partial sums of: y1",
    ]
