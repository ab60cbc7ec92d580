"""Model and input files: read without pickle, checked from their headers, one line when wrong."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnmap.cli import main
from nnmap.errors import ModelError
from nnmap.model import Layer, Network, random_network
from nnmap.model_files import load_inputs, load_model, load_npz


def _saved(tmp_path: Path, net: Network | None = None) -> Path:
    path = tmp_path / "model.npz"
    (net or random_network([6, 5, 3], "tanh", "softmax", seed=2)).save(path)
    return path


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return path


def _members(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {name: _npy(array) for name, array in arrays.items()}


def test_save_then_load_gives_the_same_network(tmp_path: Path) -> None:
    net = random_network([6, 5, 3], "tanh", "softmax", seed=2)
    back = load_model(_saved(tmp_path, net))
    assert [layer.activation for layer in back.layers] == ["tanh", "softmax"]
    for a, b in zip(net.layers, back.layers, strict=True):
        assert np.array_equal(a.weights, b.weights)
        assert np.array_equal(a.bias, b.bias)


GOOD = {"W0": np.ones((6, 5), np.float32), "b0": np.zeros(5, np.float32), "activations": np.array(["relu"])}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is not a model file: expected an .npz archive of arrays W0, b0"),
        (lambda p: p.write_text("W0 = [[1, 2]]\n"), "is not a model file: expected an .npz archive"),
        (lambda p: np.save(p.with_suffix(".npy"), np.ones(3)) or p.with_suffix(".npy").rename(p), "is a single .npy"),
        (lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 40), "is a damaged .npz archive"),
        (lambda p: p.mkdir(), "is a directory, not a file"),
    ],
    ids=["empty", "text", "npy", "zip-magic-only", "directory"],
)
def test_a_file_that_is_not_an_npz(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "model.npz"
    make(path)
    with pytest.raises(ModelError, match=message):
        load_model(path)


def test_a_truncated_archive(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    data = path.read_bytes()
    for keep in (len(data) // 2, len(data) - 10, 30):
        path.write_bytes(data[:keep])
        with pytest.raises(ModelError, match=f"model file {path} is a damaged .npz archive"):
            load_model(path)


def test_an_object_array_is_refused_without_unpickling(tmp_path: Path) -> None:
    arrays = {**GOOD, "activations": np.array(["relu"], dtype=object)}
    path = _zip(tmp_path, _members(arrays))
    with pytest.raises(ModelError, match="array activations holds Python objects, which nnmap does not unpickle"):
        load_model(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"W0": np.ones((6, 0), np.float32), "b0": np.zeros(0, np.float32)}, "a layer needs inputs and outputs"),
        ({"W0": np.ones((6, 5), complex)}, r"array W0 holds complex numbers \(complex128\); expected real numbers"),
        ({"b0": np.array(["a"] * 5)}, r"array b0 holds text \(<U1\); expected real numbers"),
        ({"activations": np.array([1.0])}, "'activations' must be a string array"),
        ({"W0": np.full((6, 5), 1e300)}, "weights or biases contain NaN or infinity"),
    ],
    ids=["zero-outputs", "complex-weights", "string-bias", "numeric-activations", "too-large-for-float32"],
)
def test_arrays_of_the_wrong_kind(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        load_model(_zip(tmp_path, _members({**GOOD, **change})))


def test_a_header_that_claims_more_than_the_file_holds_is_refused_before_allocating(tmp_path: Path) -> None:
    """A header of 10^6 x 10^6 float32 (4 TB) over 120 bytes of data: refused from the sizes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    lie = header.getvalue() + np.ones((6, 5), np.float32).tobytes()
    path = _zip(tmp_path, {**_members(GOOD), "W0": lie})
    with pytest.raises(ModelError, match=r"array W0 is truncated: its header declares shape \(1000000, 1000000\)"):
        load_model(path)


def test_the_sizes_are_checked_before_the_weights_are_read(tmp_path: Path) -> None:
    seen: list[list[int]] = []

    def refuse(sizes: list[int]) -> None:
        seen.append(sizes)
        raise ModelError("too large")

    with pytest.raises(ModelError, match="too large"):
        load_npz(_saved(tmp_path), refuse)
    assert seen == [[6, 5, 3]]


def test_inputs_files(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.arange(12, dtype=np.float64).reshape(2, 6))
    x = load_inputs(path, 6)
    assert x.dtype == np.float32
    assert x.tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    np.save(path, np.arange(6))
    assert load_inputs(path, 6).shape == (1, 6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: np.save(p, np.array([["a"] * 6] * 2)), "holds text (<U1); expected real numbers"),
        (lambda p: np.save(p, np.ones((2, 6), complex)), "holds complex numbers (complex128)"),
        (lambda p: np.save(p, np.array([[1] * 6, None], dtype=object)), "holds Python objects"),
        (lambda p: np.savez(p, x=np.ones((2, 6))) or p.with_suffix(".npy.npz").rename(p), "is an .npz archive"),
        (lambda p: p.write_bytes(_npy(np.ones((4, 6)))[:-8]), "is truncated: its header declares shape (4, 6)"),
        (lambda p: p.write_bytes(b""), "is not a .npy file: expected an array of shape (rows, 6)"),
        (lambda p: np.save(p, np.zeros((0, 6))), "has no rows: expected an array of shape (rows, 6) with rows >= 1"),
    ],
    ids=["strings", "complex", "objects", "npz", "truncated", "empty", "no-rows"],
)
def test_bad_inputs_files(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "x.npy"
    make(path)
    with pytest.raises(ModelError, match=re.escape(message)):
        load_inputs(path, 6)


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--model", b"", "is not a model file"),
        ("--model", b"just text\n", "is not a model file"),
        ("--inputs", _npy(np.array([["a"] * 6])), "holds text"),
        ("--inputs", _npy(np.ones((1, 6), complex)), "holds complex numbers"),
    ],
)
def test_the_cli_says_what_was_expected_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, content: bytes, message: str
) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    extra = ["--layers", "6,4"] if option == "--inputs" else []
    assert main(["run", option, str(path), *extra, "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnmap: error: ")
    assert message in err
    assert "pickle" not in err
    assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_complex_values_never_reach_a_layer() -> None:
    with pytest.raises(ModelError, match="weights holds complex numbers"):
        Layer(np.ones((2, 2), complex), np.zeros(2, np.float32), "relu")
