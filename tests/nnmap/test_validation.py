"""Every strategy and broadcast variant computes what numpy computes, on every kind of mesh.

The shapes are picked so that the blog post's two partial-sum cases really occur (checked from
the plan first): a core that finishes an output started upstream, computes another whole
and starts a third (the post's "Example 1", 6 inputs and 10 products per core), and a core
whose products lie strictly inside one output, so it receives a partial sum and passes it
on (the post's "Example 2", "a common occurrence on the Epiphany-64").
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from epiphany_sim.config import load_chip
from nnmap.lowering.delivery import DELIVERIES
from nnmap.mapping import plan_for
from nnmap.model import Layer, Network, random_inputs, random_network
from nnmap.plan import LayerAssignment, Piece
from nnmap.programs import Activate, Begin, Mac, Send, Sum, Wait
from nnmap.run import run, validate
from nnmap.segments import Forward
from nnmap.strategies import STRATEGIES, get_strategy

# The variants the blog post and its alternatives name; on small meshes every strategy runs every broadcast it supports.
NAMED = [
    ("partitioned", "bidir"),
    ("partitioned", "oneway"),
    ("partitioned", "dram"),
    ("partitioned", "direct"),
    ("node-per-core", None),
    ("round-robin", None),
    ("allgather", None),
]
EVERY = [(s, b) for s in sorted(STRATEGIES) for b in sorted(DELIVERIES) if STRATEGIES[s]().supports(b)]

E64_SHAPES = [
    [64, 8, 10],  # 8 products per core, 64 per output: six cores of eight sit inside each output
    [10, 100, 10],  # 15.6 products per core, 10 per output: cores end, hold whole and start outputs
]
SMALL_SHAPES = [
    ("e16", [6, 16, 4]),  # the post's network; its output layer has cores strictly inside an output
    ("e16", [6, 27, 5]),  # 10.1 products per core of 6 inputs: the post's Example 1 on core 1
    ("1x1", [6, 16, 4]),
    ("1x1", [5, 3]),
    ("2x3", [7, 11, 5]),
    ("2x3", [13, 1, 4]),  # one hidden node spread over all six cores
    ("3x5", [9, 13, 4]),
    ("3x5", [40, 2, 3]),  # 5.3 products per core, 40 per output: inside cases on an odd mesh
    ("3x5", [6, 16, 4]),
]


def _roles(layer: LayerAssignment, n_in: int, k: int) -> set[str]:
    """The partial-sum cases of chain core ``k``, read off its pieces in the plan."""
    roles = set()
    for p in layer.pieces[k]:
        starts, ends = p.start == 0, p.start + p.count == n_in
        roles.add({(True, True): "whole", (True, False): "starts", (False, True): "ends"}.get((starts, ends), "inside"))
    return roles


def _roles_by_hand(products: range, n_in: int) -> set[str]:
    """The same cases from the product range alone: output j holds products [j n, (j + 1) n)."""
    a, b = products.start, products.stop
    if a == b:
        return set()
    first, last = a // n_in, (b - 1) // n_in
    if first == last:
        return {
            {(True, True): "whole", (True, False): "starts", (False, True): "ends"}.get(
                (a % n_in == 0, b % n_in == 0), "inside"
            )
        }
    roles = {"whole" if a % n_in == 0 else "ends", "whole" if b % n_in == 0 else "starts"}
    return roles | ({"whole"} if last - first > 1 else set())


def _partitioned_plan(chip: str, sizes: list[int]):
    return plan_for("partitioned", load_chip(chip), random_network(sizes), 1)


@pytest.mark.parametrize(
    ("chip", "sizes"),
    [
        ("e16", [6, 16, 4]),
        ("e16", [6, 27, 5]),
        ("e64", [64, 8, 10]),
        ("e64", [10, 100, 10]),
        ("2x3", [13, 1, 4]),
        ("3x5", [40, 2, 3]),
        ("3x5", [9, 13, 4]),
    ],
)
def test_plan_roles_follow_the_product_ranges(chip, sizes, product_range) -> None:
    plan = _partitioned_plan(chip, sizes)
    n_cores = len(plan.chain)
    for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        for k in range(n_cores):
            expected = _roles_by_hand(product_range(k, n_in * n_out, n_cores), n_in)
            assert _roles(plan.layers[index], n_in, k) == expected, (index, k)


def _cores_with(plan, layer_index: int, wanted: set[str]) -> list[int]:
    n_in = plan.net.layers[layer_index].n_in
    return [k for k in range(len(plan.chain)) if wanted <= _roles(plan.layers[layer_index], n_in, k)]


@pytest.mark.parametrize(
    ("chip", "sizes"),
    [
        # 6*27 = 162 products over 16 cores, core c from floor(10.125 c); outputs 6 wide.
        ("e16", [6, 27, 5]),
        # 10*100 = 1000 products over 64 cores, 15 or 16 each; outputs 10 wide.
        ("e64", [10, 100, 10]),
    ],
)
def test_cores_that_end_compute_whole_and_start_outputs(chip, sizes, product_range) -> None:
    plan = _partitioned_plan(chip, sizes)
    found = _cores_with(plan, 0, {"ends", "whole", "starts"})
    n_cores, total = len(plan.chain), sizes[0] * sizes[1]
    assert found == [
        k
        for k in range(n_cores)
        if _roles_by_hand(product_range(k, total, n_cores), sizes[0]) == {"ends", "whole", "starts"}
    ]
    assert len(found) >= 8
    if chip == "e16":
        # [10, 20), [40, 50), [70, 81), [81, 91), [101, 111), ...: worked out on paper
        assert found == [1, 4, 7, 8, 10, 11, 13, 14]
        assert plan.layers[0].pieces[1] == [Piece(1, 4, 2), Piece(2, 0, 6), Piece(3, 0, 2)]
        assert plan.layers[0].owned(1) == [1, 2]
        assert plan.layers[0].owner[3] == 2
        # the scheme's order: the handed-off partial first, then whole outputs, then the awaited one
        labels = [op.label for op in plan.ops[plan.chain[1]] if isinstance(op, Mac | Send | Wait | Activate)]
        assert labels[:2] == ["mac y3", "partial y3"]
        order = [labels.index(label) for label in ("act y2", "mac y1", "wait partial y1", "act y1")]
        assert order == sorted(order)


@pytest.mark.parametrize(
    ("chip", "sizes", "layer", "n_inside"),
    [
        # 16 inputs per output, 4 products per core: two cores of four sit inside each output.
        ("e16", [6, 16, 4], 1, 4 * 2),
        # 64 inputs per output, 8 products per core: six of eight cores inside each of 8 outputs.
        ("e64", [64, 8, 10], 0, 8 * 6),
        # 40 inputs per output, 80 products over 15 cores (5 or 6 each): cores 1-6 and 8-13 inside.
        ("3x5", [40, 2, 3], 0, 12),
        # One hidden node of 13 products over 6 cores (2 or 3 each): the four middle cores.
        ("2x3", [13, 1, 4], 0, 4),
    ],
)
def test_cores_strictly_inside_one_output(chip, sizes, layer, n_inside) -> None:
    plan = _partitioned_plan(chip, sizes)
    inside = _cores_with(plan, layer, {"inside"})
    assert len(inside) == n_inside
    n_in = sizes[layer]
    for k in inside:
        (piece,) = plan.layers[layer].pieces[k]
        assert 0 < piece.start
        assert piece.start + piece.count < n_in
        # it waits for the partial sum, adds its own and hands it to the next core of the chain
        ops = plan.ops[plan.chain[k]]
        start = ops.index(Begin(Forward(layer)))
        kinds = [type(op) for op in ops[start:] if isinstance(op, Mac | Wait | Sum | Send | Activate)]
        if layer > 0:
            kinds = kinds[1:]  # the wait for the previous layer's hidden vector comes first
        assert kinds[:4] == [Mac, Wait, Sum, Send]
        send = next(op for op in ops[start:] if isinstance(op, Send))
        assert send.dst == plan.chain[k + 1]
        assert send.label == f"partial y{piece.j}"


def _check_run(
    chip: str, sizes: list[int], strategy: str, broadcast: str | None, batch: int, numpy_forward, assert_matches
) -> None:
    net = random_network(sizes, "sigmoid", "sigmoid", seed=sum(sizes))
    x = random_inputs(net, batch, seed=len(sizes))
    result = run(load_chip(chip), net, strategy, x, broadcast, baseline=False)
    assert result.outputs.shape == (batch, sizes[-1])
    assert_matches(result.outputs, numpy_forward(net, x))
    assert_matches(result.outputs, net.forward(x).astype(np.float64))
    m = result.metrics
    assert m["validated"] is True
    assert m["strategy"] == strategy
    assert m["broadcast"] == (broadcast or get_strategy(strategy).default_broadcast)
    assert m["max_abs_error"] == pytest.approx(float(np.max(np.abs(result.outputs - net.forward(x)))), abs=0)


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "broadcast"), NAMED)
@pytest.mark.parametrize("sizes", E64_SHAPES, ids=lambda s: ",".join(map(str, s)))
def test_every_variant_matches_numpy_on_e64(sizes, strategy, broadcast, numpy_forward, assert_matches) -> None:
    _check_run("e64", sizes, strategy, broadcast, 3, numpy_forward, assert_matches)


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "broadcast"), EVERY)
@pytest.mark.parametrize(("chip", "sizes"), SMALL_SHAPES, ids=[f"{c}-{','.join(map(str, s))}" for c, s in SMALL_SHAPES])
def test_every_variant_matches_numpy_on_small_and_odd_meshes(
    chip, sizes, strategy, broadcast, numpy_forward, assert_matches
) -> None:
    _check_run(chip, sizes, strategy, broadcast, 3, numpy_forward, assert_matches)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize(("chip", "sizes"), [("1x2", [20, 1]), ("2x3", [20, 3]), ("e16", [14, 3])])
def test_single_layer_network_over_many_samples(chip, sizes, strategy, numpy_forward, assert_matches) -> None:
    """Without a hidden layer nothing keeps a fast core within one sample of a slow one.

    A core that only hands off a partial sum races ahead of the core that adds it; a
    double-buffered slot would be overwritten two samples later before it is read.
    """
    _check_run(chip, sizes, strategy, None, 8, numpy_forward, assert_matches)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hidden", "output"),
    [
        ("tanh", "softmax"),
        ("relu", "identity"),
        ("identity", "tanh"),
        ("sigmoid", "relu"),
    ],
)
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_activation(hidden, output, strategy, numpy_forward, assert_matches) -> None:
    net = random_network([7, 12, 9, 5], hidden, output, seed=3)
    x = random_inputs(net, 2, seed=3) * 4 - 2  # both signs, so relu clips some
    result = run(load_chip("2x3"), net, strategy, x, baseline=False)
    assert_matches(result.outputs, numpy_forward(net, x))
    assert result.metrics["validated"] is True
    if output == "softmax":
        np.testing.assert_allclose(result.outputs.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_xor_by_hand(strategy) -> None:
    """The textbook XOR net: h1 = s(20a + 20b - 10) (or), h2 = s(-20a - 20b + 30) (nand),
    out = s(20 h1 + 20 h2 - 30) (and), with s the logistic function."""
    xor = Network(
        (
            Layer(np.array([[20, -20], [20, -20]], np.float32), np.array([-10, 30], np.float32), "sigmoid"),
            Layer(np.array([[20], [20]], np.float32), np.array([-30], np.float32), "sigmoid"),
        )
    )
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)

    def s(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    by_hand = [s(20 * s(20 * (a + b) - 10) + 20 * s(30 - 20 * (a + b)) - 30) for a, b in x.tolist()]
    result = run(load_chip("2x3"), xor, strategy, x, baseline=False)
    np.testing.assert_allclose(result.outputs[:, 0], by_hand, rtol=1e-5, atol=1e-6)
    assert (result.outputs[:, 0].round() == [0, 1, 1, 0]).all()


def test_large_outputs_are_checked_relative(numpy_forward, assert_matches) -> None:
    """Identity outputs in the hundreds: validated to 1e-5 of their size, not absolutely."""
    net = random_network([30, 20, 4], "relu", "identity", seed=5)
    x = random_inputs(net, 2, seed=5) * 5000
    result = run(load_chip("e16"), net, "partitioned", x, baseline=False)
    reference = numpy_forward(net, x)
    assert np.abs(reference).max() > 100
    assert_matches(result.outputs, reference)
    assert result.metrics["validated"] is True


@pytest.mark.parametrize(
    ("output", "reference", "ok"),
    [
        (1000.009, 1000.0, True),  # 9e-3 off is within 1e-5 of 1000
        (1000.02, 1000.0, False),  # 2e-2 is not
        (0.500009, 0.5, True),  # below 1 the tolerance is absolute
        (0.50002, 0.5, False),
        (-300.002, -300.0, True),
        (float("nan"), 0.5, False),
    ],
)
def test_validate_tolerance(output, reference, ok) -> None:
    out = np.array([[0.25, output]])
    ref = np.array([[0.25, reference]])
    max_err, valid = validate(out, ref)
    assert valid is ok
    if np.isfinite(output):
        assert max_err == pytest.approx(abs(output - reference), rel=1e-9)
    else:
        assert np.isnan(max_err)


def test_a_chip_with_more_banks_validates_and_has_a_one_core_baseline() -> None:
    """The baseline core gets the most SRAM a core may have, split into the chip's banks."""
    net = random_network([6, 16, 4], seed=2)
    result = run(load_chip("e16").replace(sram_banks=8), net, "partitioned", random_inputs(net, 2, seed=2))
    assert result.metrics["validated"] is True
    assert result.metrics["single_core_cycles"] > result.metrics["compute_cycles"] > 0


def _float64_forward(net: Network, x: np.ndarray) -> np.ndarray:
    """The forward pass in float64 from forms that cannot overflow: the sigmoid as ``(1 + tanh(z / 2)) / 2``,
    the softmax after subtracting the largest value."""
    h = x.astype(np.float64)
    for layer in net.layers:
        z = h @ layer.weights.astype(np.float64) + layer.bias
        if layer.activation == "sigmoid":
            h = (1 + np.tanh(z / 2)) / 2
        elif layer.activation == "tanh":
            h = np.tanh(z)
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            h = e / e.sum(axis=1, keepdims=True)
    return h


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(("hidden", "output"), [("sigmoid", "sigmoid"), ("tanh", "softmax"), ("sigmoid", "softmax")])
def test_extreme_inputs_run_without_a_floating_point_warning(hidden: str, output: str) -> None:
    """Inputs of 1e6 drive every pre-activation far past where exp(-z) overflows float32 (|z| > 88.7):
    no RuntimeWarning (turned into an error here), and the outputs are the saturated values."""
    net = random_network([6, 8, 4], hidden, output, seed=5)
    x = np.array([[1e6] * 6, [-1e6] * 6, [1e6, -1e6] * 3, [2e5, 0, 0, 0, 0, 0]], dtype=np.float32)
    expected = _float64_forward(net, x)
    np.testing.assert_allclose(net.forward(x), expected, rtol=0, atol=1e-6)
    result = run(load_chip("e16"), net, "partitioned", x)
    assert result.metrics["validated"]
    np.testing.assert_allclose(result.outputs, expected, rtol=0, atol=1e-6)
