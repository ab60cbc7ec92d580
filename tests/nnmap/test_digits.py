"""A network trained by scikit-learn on its digits runs on the Epiphany-64 and agrees with it.

scikit-learn's ``MLPClassifier`` keeps weights as ``coefs_`` of shape (inputs, outputs) and
biases as ``intercepts_``: exactly the ``.npz`` layout ``nnmap`` reads. Its ``predict_proba``
is the reference here, not numpy code of ours.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from epiphany_sim.config import load_chip
from nnmap.cli import main
from nnmap.model_files import load_npz
from nnmap.run import run

N_TEST = 100


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[MLPClassifier, np.ndarray, Path]:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel intensities 0..16 to 0..1
    x_train, y_train, x_test = x[:-N_TEST], digits.target[:-N_TEST], x[-N_TEST:]
    clf = MLPClassifier(hidden_layer_sizes=(32,), activation="logistic", max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    assert clf.out_activation_ == "softmax"
    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    np.savez(
        path,
        W0=clf.coefs_[0],
        b0=clf.intercepts_[0],
        W1=clf.coefs_[1],
        b1=clf.intercepts_[1],
        activations=np.array(["sigmoid", "softmax"]),
    )
    return clf, x_test, path


@pytest.mark.slow
def test_digits_network_matches_predict_proba_on_e64(trained) -> None:
    clf, x_test, path = trained
    net = load_npz(path)
    assert net.sizes == [64, 32, 10]
    assert [layer.activation for layer in net.layers] == ["sigmoid", "softmax"]
    result = run(load_chip("e64"), net, "partitioned", x_test, baseline=False)  # all 100 samples in one run
    expected = clf.predict_proba(x_test)
    assert result.outputs.shape == (N_TEST, 10)
    np.testing.assert_allclose(result.outputs, expected, rtol=0, atol=1e-5)
    assert result.metrics["validated"] is True
    assert (result.outputs.argmax(axis=1) == clf.predict(x_test)).all()
    assert clf.score(x_test, load_digits().target[-N_TEST:]) > 0.8  # a network that learnt something


@pytest.mark.slow
def test_digits_through_the_command_line(trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clf, x_test, path = trained
    inputs, outputs = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(inputs, x_test[:10])
    code = main(
        [
            "run",
            "--chip",
            "e64",
            "--model",
            str(path),
            "--inputs",
            str(inputs),
            "--outputs",
            str(outputs),
            "--strategy",
            "allgather",
        ]
    )
    assert code == 0
    assert "validated against numpy: yes" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(outputs), clf.predict_proba(x_test[:10]), rtol=0, atol=1e-5)
