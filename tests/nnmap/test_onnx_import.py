"""Models from where users have them: ONNX files and fitted scikit-learn MLPs, run on the chip.

Every simulated output is compared with what onnxruntime or scikit-learn computes for the
same inputs, within 1e-5.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from epiphany_sim.config import load_chip
from nnmap.cli import main
from nnmap.errors import ModelError
from nnmap.model import from_sklearn
from nnmap.model_files import load_model
from nnmap.run import run

TOLERANCE = 1e-5
RNG = np.random.default_rng(12)
X_TRAIN = RNG.random((90, 6)).astype(np.float32)
X = RNG.random((5, 6)).astype(np.float32)


def _fit(estimator, y: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X_TRAIN, y)


def _classifier(classes: int = 3) -> MLPClassifier:
    y = (X_TRAIN[:, 0] * classes).astype(int) % classes
    return _fit(MLPClassifier((9,), activation="relu", max_iter=300, random_state=0), y)


def _onnxruntime(path: Path, x: np.ndarray, output: str | None = None) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = output or session.get_outputs()[0].name
    return session.run([name], {session.get_inputs()[0].name: x})[0]


def _on_chip(path: Path, chip: str, x: np.ndarray) -> np.ndarray:
    result = run(load_chip(chip), load_model(path), "partitioned", x)
    assert result.metrics["validated"]
    return result.outputs


@pytest.fixture(scope="module")
def sklearn_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clf = _classifier()
    model = to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    path = tmp_path_factory.mktemp("skl") / "clf.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def _tensor(name: str, array: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def _graph_model(nodes: list, initializers: dict[str, np.ndarray], n_in: int = 6, n_out: int = 4) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, n_out])],
        [_tensor(name, value) for name, value in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def _every_operator() -> onnx.ModelProto:
    """Every supported operator: Gemm (transB, alpha, beta), Tanh, MatMul + Add, Relu, Identity, Sigmoid, Softmax."""
    rng = np.random.default_rng(3)
    return _graph_model(
        [
            helper.make_node("Gemm", ["x", "w0t", "b0"], ["z0"], transB=1, alpha=0.5, beta=2.0),
            helper.make_node("Tanh", ["z0"], ["h0"]),
            helper.make_node("MatMul", ["h0", "w1"], ["m1"]),
            helper.make_node("Add", ["b1", "m1"], ["z1"]),  # the constant first: Add commutes
            helper.make_node("Relu", ["z1"], ["r1"]),
            helper.make_node("Identity", ["r1"], ["h1"]),
            helper.make_node("MatMul", ["h1", "w2"], ["m2"]),
            helper.make_node("Add", ["m2", "b2"], ["z2"]),
            helper.make_node("Sigmoid", ["z2"], ["h2"]),
            helper.make_node("Gemm", ["h2", "w3", "b3"], ["z3"]),
            helper.make_node("Softmax", ["z3"], ["y"], axis=-1),
        ],
        {
            "w0t": rng.standard_normal((7, 6)),
            "b0": rng.standard_normal((1, 7)),
            "w1": rng.standard_normal((7, 5)),
            "b1": rng.standard_normal(5),
            "w2": rng.standard_normal((5, 8)),
            "b2": rng.standard_normal(8),
            "w3": rng.standard_normal((8, 4)),
            "b3": rng.standard_normal(4),
        },
    )


@pytest.mark.slow
@pytest.mark.parametrize("chip", ["e16", "e64"])
def test_an_sklearn_model_converted_by_skl2onnx_matches_onnxruntime(sklearn_onnx: Path, chip: str) -> None:
    expected = _onnxruntime(sklearn_onnx, X, "probabilities")
    assert load_model(sklearn_onnx).sizes == [6, 9, 3]
    np.testing.assert_allclose(_on_chip(sklearn_onnx, chip, X), expected, rtol=0, atol=TOLERANCE)


@pytest.mark.slow
@pytest.mark.parametrize("chip", ["e16", "e64"])
def test_a_graph_built_with_onnx_helper_matches_onnxruntime(tmp_path: Path, chip: str) -> None:
    path = tmp_path / "net.onnx"
    onnx.save(_every_operator(), path)
    net = load_model(path)
    assert net.sizes == [6, 7, 5, 8, 4]
    assert [layer.activation for layer in net.layers] == ["tanh", "relu", "sigmoid", "softmax"]
    np.testing.assert_allclose(_on_chip(path, chip, X), _onnxruntime(path, X), rtol=0, atol=TOLERANCE)


def test_matmul_without_add_is_a_layer_without_bias(tmp_path: Path) -> None:
    path = tmp_path / "net.onnx"
    w = np.random.default_rng(4).standard_normal((6, 4))
    onnx.save(_graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"w": w}), path)
    net = load_model(path)
    assert net.layers[0].activation == "identity"
    assert np.array_equal(net.layers[0].bias, np.zeros(4, np.float32))
    np.testing.assert_allclose(_on_chip(path, "e16", X), _onnxruntime(path, X), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    ("nodes", "operator"),
    [
        ([helper.make_node("LeakyRelu", ["x"], ["y"])], "LeakyRelu"),
        ([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Reshape", ["m", "s"], ["y"])], "Reshape"),
        ([helper.make_node("Conv", ["x", "w"], ["y"])], "Conv"),
        ([helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Exp", ["m"], ["y"])], "Exp"),
    ],
)
def test_any_other_operator_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nodes: list, operator: str
) -> None:
    path = tmp_path / "net.onnx"
    onnx.save(_graph_model(nodes, {"w": np.ones((6, 4)), "s": np.array([-1, 4])}), path)
    with pytest.raises(ModelError, match=f"operator {operator} .* is not supported"):
        load_model(path)
    assert main(["run", "--model", str(path), "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nnmap: error: ONNX model {path}: operator {operator} ")
    assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a protobuf \xff\xff", "is not a valid ONNX model"), (b"", "a network has one input, the model has 0")],
)
def test_a_broken_onnx_file_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "net.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_model(path)


def test_the_cli_runs_an_onnx_model(sklearn_onnx: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, outputs = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(inputs, X)
    assert (
        main(["run", "--chip", "e64", "--model", str(sklearn_onnx), "--inputs", str(inputs), "--outputs", str(outputs)])
        == 0
    )
    assert "validated against numpy: yes" in capsys.readouterr().out
    expected = _onnxruntime(sklearn_onnx, X, "probabilities")
    np.testing.assert_allclose(np.load(outputs), expected, rtol=0, atol=TOLERANCE)


def test_from_sklearn_matches_predict_proba_of_a_multiclass_classifier() -> None:
    clf = _classifier(classes=4)
    net = from_sklearn(clf)
    assert net.sizes == [6, 9, 4]
    assert [layer.activation for layer in net.layers] == ["relu", "softmax"]
    np.testing.assert_allclose(net.forward(X), clf.predict_proba(X), rtol=0, atol=TOLERANCE)
    result = run(load_chip("e16"), net, "partitioned", X)
    np.testing.assert_allclose(result.outputs, clf.predict_proba(X), rtol=0, atol=TOLERANCE)


def test_from_sklearn_binary_classifier_gives_the_positive_class() -> None:
    """sklearn's logistic is sigmoid here: one output, predict_proba's second column."""
    clf = _fit(MLPClassifier((5, 4), activation="logistic", max_iter=300, random_state=1), X_TRAIN[:, 1] > 0.5)
    net = from_sklearn(clf)
    assert [layer.activation for layer in net.layers] == ["sigmoid", "sigmoid", "sigmoid"]
    result = run(load_chip("e64"), net, "partitioned", X)
    np.testing.assert_allclose(result.outputs[:, 0], clf.predict_proba(X)[:, 1], rtol=0, atol=TOLERANCE)


def test_from_sklearn_regressor_gives_predict() -> None:
    reg = _fit(
        MLPRegressor(hidden_layer_sizes=(8,), activation="tanh", max_iter=300, random_state=2),
        X_TRAIN[:, :2] @ [1.0, -2.0],
    )
    net = from_sklearn(reg)
    assert [layer.activation for layer in net.layers] == ["tanh", "identity"]
    np.testing.assert_allclose(net.forward(X)[:, 0], reg.predict(X), rtol=0, atol=TOLERANCE)


def test_from_sklearn_wants_a_fitted_mlp() -> None:
    with pytest.raises(ModelError, match="takes a fitted MLPClassifier or MLPRegressor, got MLPClassifier"):
        from_sklearn(MLPClassifier())
    with pytest.raises(ModelError, match="got str"):
        from_sklearn("model")


@pytest.mark.slow
def test_reading_onnx_needs_only_the_onnx_package(sklearn_onnx: Path) -> None:
    probe = (
        "import sys\nfrom nnmap.model_files import load_model\nload_model(sys.argv[1])\n"
        "print(sorted(m for m in ('onnxruntime', 'skl2onnx', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(sklearn_onnx)], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"


def test_without_onnx_an_onnx_model_is_one_line_saying_what_to_install(
    sklearn_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(
        ModelError, match=r"^reading ONNX models needs the onnx package: pip install 'epiphany-nnmap\[onnx\]'$"
    ):
        load_model(sklearn_onnx)


def _refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], model: onnx.ModelProto) -> str:
    """``nnmap run`` on ``model``: status 2, one line on stderr (returned), no file written."""
    path = tmp_path / "net.onnx"
    path.write_bytes(model.SerializeToString())
    assert main(["run", "--model", str(path), "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nnmap: error: ONNX model {path}: ")
    assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]
    return err


def test_a_graph_with_a_cycle_is_refused_naming_a_node_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A MatMul reads the Relu's output, which reads the MatMul's: a loop that never reaches x."""
    model = _graph_model(
        [
            helper.make_node("MatMul", ["r", "w"], ["m"], name="loop_matmul"),
            helper.make_node("Relu", ["m"], ["r"], name="loop_relu"),
            helper.make_node("Identity", ["r"], ["y"], name="out"),
        ],
        {"w": np.ones((4, 4))},
    )
    err = _refused_in_one_line(tmp_path, capsys, model)
    assert "the graph has a cycle through node 'loop_" in err


def test_a_node_not_reachable_from_the_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The output is computed from constants only: nothing joins it to x."""
    model = _graph_model(
        [helper.make_node("MatMul", ["c", "w"], ["y"], name="orphan")], {"w": np.ones((6, 4)), "c": np.ones((1, 6))}
    )
    err = _refused_in_one_line(tmp_path, capsys, model)
    assert "MatMul node 'orphan' has 0 non-constant inputs: it is not reachable from the input" in err
    model = _graph_model([helper.make_node("MatMul", ["z", "w"], ["y"], name="dangling")], {"w": np.ones((6, 4))})
    err = _refused_in_one_line(tmp_path, capsys, model)
    assert "the output is not reachable from the input 'x': 'z' is neither computed by a node nor the input" in err


def _weights(
    dims: list[int], data_type: int = TensorProto.FLOAT, raw: bytes | None = None, values=None
) -> onnx.ModelProto:
    """A one-MatMul model whose weight initializer ``w`` is built by hand, bypassing numpy_helper's checks."""
    model = _graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {})
    tensor = model.graph.initializer.add()
    tensor.name, tensor.data_type = "w", data_type
    tensor.dims.extend(dims)
    if raw is not None:
        tensor.raw_data = raw
    else:
        tensor.float_data.extend(values)
    return model


@pytest.mark.parametrize(
    ("model", "message"),
    [
        # 4 float32 values (16 bytes) declared as a 100000 x 100000 matrix: 4e10 bytes would be allocated
        (
            _weights([100000, 100000], raw=np.ones(4, np.float32).tobytes()),
            r"MatMul constant 'w' declares shape \(100000, 100000\), 40000000000 bytes "
            r"\(10000000000 float values of 4 bytes\), but holds 16",
        ),
        (_weights([6, 4], values=[1.0] * 23), r"declares shape \(6, 4\), 24 float values, but holds 23"),
        (_weights([6, 4], TensorProto.DOUBLE, raw=np.ones(24, np.float32).tobytes()), r"24 double values of 8 bytes"),
        (_weights([6, 4], TensorProto.STRING, raw=b""), "has data type 8, not a real number type"),
        (_weights([6, 4], TensorProto.BOOL, raw=b"\x01" * 24), "has data type 9, not a real number type"),
    ],
    ids=["huge-shape", "short-values", "wrong-type-size", "strings", "booleans"],
)
def test_an_initializer_that_disagrees_with_its_shape_or_type_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: onnx.ModelProto, message: str
) -> None:
    err = _refused_in_one_line(tmp_path, capsys, model)
    assert re.search(message, err), err


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        # a reference to an enclosing function's attribute: onnx.helper.get_attribute_value raises ValueError
        (helper.make_attribute_ref("transB", onnx.AttributeProto.INT), "attribute 'transB': Cannot get value of"),
        (helper.make_attribute("alpha", "two"), "attribute 'alpha' is not a number"),
        (helper.make_attribute("transB", 0.5), "attribute 'transB' is not an integer"),
    ],
    ids=["reference", "text-alpha", "float-transB"],
)
def test_an_attribute_that_cannot_be_read_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], attribute: onnx.AttributeProto, message: str
) -> None:
    gemm = helper.make_node("Gemm", ["x", "w"], ["y"], name="g")
    gemm.attribute.append(attribute)
    err = _refused_in_one_line(tmp_path, capsys, _graph_model([gemm], {"w": np.ones((6, 4))}))
    assert f"Gemm node 'g': {message}" in err


def test_skl2onnx_default_export_is_refused_with_the_export_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """skl2onnx's default classifier export ends in ZipMap (and reshapes the labels): the refusal says what to do."""
    clf = _classifier()
    err = _refused_in_one_line(tmp_path, capsys, to_onnx(clf, X[:1], target_opset=17))
    assert 'exported with options={"zipmap": False}, or use nnmap.model.from_sklearn' in err
