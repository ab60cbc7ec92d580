"""Bad input through the command line: one line on stderr, exit status 2, no file written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nnmap.cli import main

Fails = Callable[..., str]


@pytest.fixture
def fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Fails:
    """``fails(*args)``: run ``nnmap *args`` asking for output files; check it failed cleanly.

    Returns the error message after ``nnmap: error: ``.
    """

    def check(*args: str) -> str:
        before = set(tmp_path.iterdir())
        outputs = tmp_path / "out.json", tmp_path / "out.npy"
        extra = ["--json", str(outputs[0])] if args[0] in ("run", "compare", "rnn") else []
        extra += ["--outputs", str(outputs[1])] if args[0] in ("run", "rnn") else []
        code = main([*args, *extra])
        captured = capsys.readouterr()
        assert code == 2
        assert captured.out == ""
        assert captured.err.startswith("nnmap: error: ")
        assert captured.err.endswith("\n")
        assert captured.err.count("\n") == 1
        assert "Traceback" not in captured.err
        assert set(tmp_path.iterdir()) == before  # nothing written, not even a temporary file
        return captured.err[len("nnmap: error: ") : -1]

    return check


def _layers(*shapes: tuple[int, int]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {}
    for k, (n_in, n_out) in enumerate(shapes):
        arrays[f"W{k}"] = rng.standard_normal((n_in, n_out)).astype(np.float32)
        arrays[f"b{k}"] = rng.standard_normal(n_out).astype(np.float32)
    return arrays


def _good() -> dict[str, np.ndarray]:
    return {**_layers((6, 5), (5, 3)), "activations": np.array(["sigmoid", "softmax"])}


def _npz(tmp_path: Path, arrays: dict[str, np.ndarray]) -> str:
    path = tmp_path / "model.npz"
    np.savez(path, **arrays)
    return str(path)


def _drop(name: str) -> dict[str, np.ndarray]:
    arrays = _good()
    del arrays[name]
    return arrays


def _replace(**changes: np.ndarray) -> dict[str, np.ndarray]:
    return {**_good(), **changes}


def _nan_weight() -> dict[str, np.ndarray]:
    arrays = _good()
    arrays["W1"][2, 1] = np.nan
    return arrays


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_drop("b0"), "missing array b0"),
        (_drop("W0"), "missing array W0"),
        (_drop("activations"), "missing string array 'activations'"),
        (_replace(W1=np.ones((4, 3), np.float32)), "layer 0 has 5 outputs but layer 1 takes 4 inputs"),
        (_replace(b0=np.ones(4, np.float32)), "layer 0: bias shape (4,) does not match 5 outputs"),
        (_replace(W0=np.ones(6, np.float32)), "layer 0: weights must be 2-D"),
        (_nan_weight(), "layer 1: weights or biases contain NaN or infinity"),
        (_replace(b1=np.array([0, np.inf, 0], np.float32)), "layer 1: weights or biases contain NaN or infinity"),
        (_replace(activations=np.array(["swish", "softmax"])), "layer 0: unknown activation 'swish'"),
        (_replace(activations=np.array(["softmax", "softmax"])), "softmax is only allowed on the output layer"),
        (_replace(activations=np.array(["sigmoid"])), "2 weight arrays but 1 activations"),
        (_replace(W1=np.array([["a", "b", "c"]] * 5)), "array W1 holds text (<U1); expected real numbers"),
    ],
    ids=[
        "no-b0",
        "no-W0",
        "no-activations",
        "W-mismatch",
        "b-mismatch",
        "W-1d",
        "nan",
        "inf",
        "swish",
        "hidden-softmax",
        "activation-count",
        "strings",
    ],
)
def test_malformed_model(arrays, message, fails, tmp_path) -> None:
    path = _npz(tmp_path, arrays)
    for command in ("run", "plan", "compare"):
        error = fails(command, "--model", path)
        assert error.startswith(str(tmp_path / "model.npz"))
        assert message in error


def test_the_good_model_runs(tmp_path, capsys) -> None:
    """The base of the malformed ones is itself fine: each failure above is the one change."""
    path = _npz(tmp_path, _good())
    assert main(["run", "--model", path, "--json", str(tmp_path / "out.json")]) == 0
    assert (tmp_path / "out.json").exists()
    assert "validated against numpy: yes" in capsys.readouterr().out


def test_not_an_npz(fails, tmp_path) -> None:
    path = tmp_path / "model.npz"
    path.write_text("W0 = [[1, 2], [3, 4]]\n")
    assert fails("run", "--model", str(path)) == (
        f"model file {path} is not a model file: expected an .npz archive of arrays W0, b0, W1, b1, ... and "
        "activations (as Network.save writes), or an ONNX file ending in .onnx"
    )
    path.unlink()
    assert fails("run", "--model", str(path)) == f"model file {path} does not exist"


def test_network_too_large_for_one_core(fails) -> None:
    """1,1500,1 on one core: x 8 (one float, aligned to 8) + w0 6000 + acc0 6000 + b0 6000
    + h0.0 6000 + h0.1 6000 + w1 6000 + acc1 8 + b1 8 + y 8 = 36032 bytes, against 32768 - 4096
    of code; its 4501 weights and biases (18004 bytes) alone would fit."""
    error = fails("run", "--chip", "1x1", "--layers", "1,1500,1")
    assert "core (0, 0) (chain position 0) needs 36032 bytes of data but has 28672 bytes free" in error
    assert "largest buffer w0 6000 bytes" in error
    assert "smaller --batch" not in error  # a batch of one: no --batch to make smaller


def test_parameters_beyond_the_whole_chip_are_refused_from_the_sizes(fails) -> None:
    """100,100,10: 100 * 100 + 100 + 100 * 10 + 10 = 11110 weights and biases, 44440 bytes,
    more than one core's 28672; 30000,30000 would take 3.6 GB before any layout is built."""
    error = fails("run", "--chip", "1x1", "--layers", "100,100,10")
    assert error.startswith("network [100, 100, 10] does not fit 1x1: its 11110 weights and biases take 44440 bytes")
    assert "its 1 cores hold 28672 bytes of data in all" in error
    error = fails("plan", "--chip", "e64", "--layers", "30000,30000")
    assert "its 900030000 weights and biases take 3600120000 bytes" in error
    assert "its 64 cores hold 1835008 bytes" in error


def test_batch_too_large_for_sram(fails) -> None:
    """6,16,4 on e16 with 1150 samples: every core holds all inputs, x = 1150 * 6 * 4 = 27600
    bytes; the owners of outputs (chain cores 3, 7, 11, 15) hold the most: 27600 + w0 24 +
    acc0 8 + b0 8 + h0 2 * 64 + w1 16 + acc1 8 + b1 8 + partial_in1 2 * 8 + y 1150 * 4 = 32416."""
    error = fails("run", "--chip", "e16", "--layers", "6,16,4", "--batch", "1150")
    assert "core (0, 3) (chain position 3) needs 32416 bytes of data but has 28672 bytes free" in error
    assert "e64" in error
    assert "smaller --batch" in error


def test_batch_beyond_a_core_is_refused_from_the_sizes(fails) -> None:
    """x = 1200 * 6 * 4 = 28800 bytes on a core of 28672: refused before the inputs exist."""
    error = fails("run", "--chip", "e16", "--layers", "6,16,4", "--batch", "1200")
    assert error.startswith("network [6, 16, 4] does not fit e16 with a batch of 1200: a core that computes")
    assert "every sample's inputs, 28800 bytes, but has 28672 bytes free" in error
    assert "smaller --batch" in error


def test_inputs_of_the_wrong_width(fails, tmp_path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((3, 5), np.float32))
    message = "inputs have shape (3, 5) but the network takes 6 inputs per sample"
    assert fails("run", "--layers", "6,16,4", "--inputs", str(path)) == message
    assert fails("compare", "--layers", "6,16,4", "--inputs", str(path)) == message
    np.save(path, np.zeros((2, 3, 6), np.float32))
    assert "inputs have shape (2, 3, 6)" in fails("run", "--layers", "6,16,4", "--inputs", str(path))
    np.save(path, np.full((2, 6), np.nan, np.float32))
    assert fails("run", "--layers", "6,16,4", "--inputs", str(path)) == "inputs contain NaN or infinity"
    path.write_text("not numpy")
    assert fails("run", "--layers", "6,16,4", "--inputs", str(path)) == (
        f"inputs file {path} is not a .npy file: expected an array of shape (rows, 6) from numpy.save"
    )


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("6,x,4", "--layers must be comma-separated integers like 6,16,4, got '6,x,4'"),
        ("6", "--layers needs 2 or more sizes, all >= 1, got '6'"),
        ("6,0,4", "--layers needs 2 or more sizes, all >= 1, got '6,0,4'"),
        ("6,-3,4", "--layers needs 2 or more sizes, all >= 1, got '6,-3,4'"),
        ("", "--layers is empty: give comma-separated sizes like 6,16,4"),
        ("6;16;4", "--layers must be comma-separated integers like 6,16,4, got '6;16;4'"),
    ],
)
def test_bad_layers(layers, message, fails) -> None:
    assert fails("run", "--layers", layers) == message
    assert fails("plan", "--layers", layers) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--strategy", "bogus"), "argument --strategy: unknown strategy 'bogus': use one of"),
        (("plan", "--strategy", "bogus"), "argument --strategy: unknown strategy 'bogus': use one of"),
        (("compare", "--strategies", "partitioned,bogus"), "unknown strategy 'bogus': use one of"),
        (("compare", "--strategies", "partitioned:sideways"), "unknown broadcast 'sideways' in --strategies"),
        (("run", "--broadcast", "sideways"), "argument --broadcast: invalid choice: 'sideways'"),
        (("run", "--chip", "e99"), "unknown chip 'e99'"),
        (("run", "--batch", "0"), "argument --batch: expected an integer >= 1, got '0'"),
        (("run", "--batch", "two"), "argument --batch: expected an integer >= 1, got 'two'"),
        (("run", "--seed", "-1"), "argument --seed: expected an integer >= 0, got '-1'"),
        (("run", "--no-such-option"), "unrecognized arguments: --no-such-option"),
        (("run", "--kernels", "fortran"), "argument --kernels: invalid choice: 'fortran' (choose from 'asm', 'c')"),
        (("compare", "--kernels", "C"), "argument --kernels: invalid choice: 'C'"),
        (("plan", "--kernels", ""), "argument --kernels: invalid choice: ''"),
        (("rnn", "--kernels", "gcc"), "argument --kernels: invalid choice: 'gcc'"),
        (("train", "--kernels", "asm,c"), "argument --kernels: invalid choice: 'asm,c'"),
    ],
)
def test_bad_options(args, message, fails) -> None:
    assert message in fails(*args)


def test_model_and_layers_together(fails, tmp_path) -> None:
    path = _npz(tmp_path, _good())
    assert fails("run", "--model", path, "--layers", "6,16,4") == "give either --model or --layers, not both"


def test_no_command_at_all(capsys) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnmap: error: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--layers", "100000000,2"), "its 200000002 weights and biases take 800000008 bytes"),
        (("--layers", "30000,30000"), "its 900030000 weights and biases take 3600120000 bytes"),
        (("--batch", "100000000"), "with a batch of 100000000"),
    ],
)
def test_sizes_are_refused_before_anything_large_is_allocated(fails, monkeypatch, args, message) -> None:
    """Refused from the sizes alone: the network and its inputs are never built, so no MemoryError, no wait."""

    def never(*_: object, **__: object) -> None:
        raise AssertionError("allocated before the size check")

    monkeypatch.setattr("nnmap.cli.random_network", never)
    monkeypatch.setattr("nnmap.cli.random_inputs", never)
    for command in ("run", "plan", "compare"):
        assert message in fails(command, *args)


def test_options_that_would_be_ignored_are_refused(fails, tmp_path) -> None:
    model, inputs = _npz(tmp_path, _good()), tmp_path / "x.npy"
    np.save(inputs, np.zeros((2, 6), np.float32))
    message = "--hidden-activation and --output-activation shape a random network: the model has its own"
    assert fails("run", "--model", model, "--output-activation", "relu") == message
    assert fails("run", "--inputs", str(inputs), "--batch", "2") == "give either --inputs or --batch, not both"


def _recurrent() -> dict[str, np.ndarray]:
    """Two layers of 4 units over 3 inputs."""
    rng = np.random.default_rng(1)
    arrays = {}
    for i in range(2):
        arrays[f"W{i}"] = rng.uniform(-0.5, 0.5, (3 if i == 0 else 4, 4)).astype(np.float32)
        arrays[f"U{i}"] = rng.uniform(-0.5, 0.5, (4, 4)).astype(np.float32)
        arrays[f"b{i}"] = rng.uniform(-0.5, 0.5, 4).astype(np.float32)
    return arrays


def _recurrent_with(**changes: np.ndarray) -> dict[str, np.ndarray]:
    return {**_recurrent(), **changes}


def _recurrent_without(name: str) -> dict[str, np.ndarray]:
    arrays = _recurrent()
    del arrays[name]
    return arrays


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_recurrent_without("U1"), "missing array U1 (a recurrent model holds W0, U0, b0, W1, U1, b1, ...)"),
        (_recurrent_without("W0"), "missing array W0"),
        ({}, "missing array W0"),
        (_recurrent_with(activations=np.array(["tanh"])), "unexpected array activations"),
        (_recurrent_with(U0=np.ones((4, 3), np.float32)), "layer 0: U has shape (4, 3) but W has 4 hidden units"),
        (_recurrent_with(b1=np.ones(5, np.float32)), "layer 1: b has shape (5,) but W has 4 hidden units"),
        (_recurrent_with(W1=np.ones((3, 4), np.float32)), "layer 1 takes 3 inputs but the layer below has 4 units"),
        (
            _recurrent_with(W0=np.ones((3, 2), np.float32), U0=np.ones((2, 2), np.float32), b0=np.ones(2, np.float32)),
            "layer 1 has 4 hidden units but layer 0 has 2: every layer of a stack has the same number",
        ),
        (_recurrent_with(W0=np.full((3, 4), np.nan, np.float32)), "layer 0: weights or biases contain NaN"),
        (_recurrent_with(U1=np.array([["a"] * 4] * 4)), "layer 1: U1 holds <U1 values, not real numbers"),
        (_recurrent_with(b0=np.ones(4, bool)), "layer 0: b0 holds bool values, not real numbers"),
        (_recurrent_with(W1=np.full((4, 4), 1e300)), "layer 1: weights or biases contain NaN or infinity"),
        (_recurrent_with(W0=np.ones(3, np.float32)), "layer 0: W must be 2-D (inputs, hidden)"),
    ],
    ids=[
        "no-U1",
        "no-W0",
        "empty",
        "extra",
        "U-shape",
        "b-shape",
        "W-rows",
        "hidden-sizes",
        "nan",
        "strings",
        "bools",
        "overflow",
        "W-1d",
    ],
)
def test_malformed_recurrent_model(arrays, message, fails, tmp_path) -> None:
    error = fails("rnn", "--model", _npz(tmp_path, arrays), "--steps", "2")
    assert error.startswith(str(tmp_path / "model.npz"))
    assert message in error


def test_the_good_recurrent_model_runs(tmp_path, capsys) -> None:
    """The base of the malformed ones is itself fine: each failure above is the one change."""
    path = _npz(tmp_path, _recurrent())
    assert main(["rnn", "--model", path, "--steps", "2", "--json", str(tmp_path / "out.json")]) == 0
    assert (tmp_path / "out.json").exists()
    assert "wavefront over serial" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--chip", "e16", "--layers", "17"), "17 layers need a group of cores each but the chip has 16 cores"),
        (("--steps", "0"), "argument --steps: expected an integer >= 1, got '0'"),
        (("--steps", "-3"), "argument --steps: expected an integer >= 1, got '-3'"),
        (("--layers", "0"), "argument --layers: expected an integer >= 1, got '0'"),
        (("--hidden", "0"), "argument --hidden: expected an integer >= 1, got '0'"),
        (("--inputs-size", "-1"), "argument --inputs-size: expected an integer >= 1, got '-1'"),
        (("--layers", "two"), "argument --layers: expected an integer >= 1, got 'two'"),
        (("--order", "diagonal"), "argument --order: invalid choice: 'diagonal'"),
        (("--chip", "e99"), "unknown chip 'e99'"),
    ],
)
def test_bad_recurrent_options(args, message, fails) -> None:
    assert message in fails("rnn", *args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # 100000000 steps of 32 inputs: 12,800,000,000 bytes, against 28,672 a core has.
        (("--steps", "100000000"), "100000000 steps of 32 inputs take 12800000000 bytes"),
        # 3 layers of 100000 units: (32 + 100000 + 1) 100000 + 2 (200001 x 100000) parameters, 4 bytes each.
        (("--hidden", "100000"), "3 layers of 100000 units take 200014000000 bytes of weights and biases"),
    ],
)
def test_recurrent_sizes_are_refused_before_anything_is_allocated(fails, monkeypatch, args, message) -> None:
    def never(*_: object, **__: object) -> None:
        raise AssertionError("allocated before the size check")

    monkeypatch.setattr("nnmap.cli.rnn.random_stack", never)
    monkeypatch.setattr("nnmap.cli.rnn.random_sequence", never)
    assert message in fails("rnn", *args)


def test_a_recurrent_group_that_cannot_hold_its_weights(fails) -> None:
    """128 inputs, 128 units, 16 steps on e16: layer 0's group of 6 cores deals (128 + 128) * 128 = 32768
    products; chain position 2 takes [10922, 16384): y42 from x170 and y43..y63 whole, 22 pieces and
    5462 weights (w0 21848 bytes), and it owns y42..y63. With x 16 * 128 * 4 = 8192, two states
    2 * 512, sums 88, one partial sum 8, biases 88, its states 16 * 22 * 4 = 1408, freed 8 and the
    serial order's token 8 (the serial plan is made first): 32672 bytes, against 32768 - 4096 of code."""
    error = fails("rnn", "--chip", "e16", "--hidden", "128", "--inputs-size", "128", "--steps", "16")
    assert "core (0, 2) (chain position 2) needs 32672 bytes of data but has 28672 bytes free" in error
    assert "largest buffer w0 21848 bytes" in error
    assert "layer 0's group, chain positions 0-5" in error


def test_a_recurrent_model_and_its_shape_together(fails, tmp_path) -> None:
    path = _npz(tmp_path, _recurrent())
    assert fails("rnn", "--model", path, "--hidden", "4") == (
        "give either --model or --hidden, not both (the model sets the shape)"
    )


def test_a_recurrent_model_that_is_not_an_npz(fails, tmp_path) -> None:
    path = tmp_path / "model.npz"
    path.write_text("W0 = [[1, 2], [3, 4]]\n")
    assert fails("rnn", "--model", str(path)).startswith(f"model file {path} is not a model file: expected an .npz")
    np.save(tmp_path / "one.npy", np.zeros(3, np.float32))
    single = str(tmp_path / "one.npy")
    assert fails("rnn", "--model", single).startswith(f"model file {single} is a single .npy array: expected")
