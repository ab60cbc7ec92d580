"""``--reference``: the simulated outputs validated against the user's own expected outputs too,
and ``compare --outputs``: every strategy's outputs saved.

The reference here is what users have: scikit-learn's ``predict_proba`` of an ``MLPClassifier``
fitted on part of the digits, computed in float64, against the chip's float32.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from nnmap import cli
from nnmap.cli import main
from nnmap.model import from_sklearn
from nnmap.reference import REFERENCE_TOLERANCE

ROWS = 24
VARIANTS = ["partitioned:bidir", "node-per-core", "allgather"]
FILES = ["allgather-direct.npy", "node-per-core-bidir.npy", "partitioned-bidir.npy"]
"""What ``compare --outputs`` writes for ``VARIANTS``: STRATEGY-BROADCAST.npy, the strategy's own broadcast where
none is named."""


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """A 64-12-10 classifier of the digits saved as a model, ``ROWS`` inputs, and their ``predict_proba``."""
    x, y = load_digits(return_X_y=True)
    x = x / 16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((12,), max_iter=60, random_state=0).fit(x[:400], y[:400])
    folder = tmp_path_factory.mktemp("digits")
    from_sklearn(clf).save(folder / "mlp.npz")
    np.save(folder / "x.npy", x[-ROWS:].astype(np.float32))
    return folder / "mlp.npz", folder / "x.npy", clf.predict_proba(x[-ROWS:])


def _compare(model: Path, inputs: Path, *extra: str) -> int:
    argv = ["compare", "--chip", "e16", "--model", str(model), "--inputs", str(inputs), "--strategies"]
    return main([*argv, ",".join(VARIANTS), *extra])


@pytest.mark.slow
def test_compare_validates_an_mlp_classifier_against_predict_proba(
    digits: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, inputs, proba = digits
    np.save(tmp_path / "proba.npy", proba)
    out = tmp_path / "outs"
    args = ["--reference", str(tmp_path / "proba.npy"), "--outputs", str(out), "--json", str(tmp_path / "c.json")]
    assert _compare(model, inputs, *args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].endswith("valid  vs reference")
    assert [line.split()[-2:] for line in table[2:5]] == [["yes", "yes"]] * 3
    runs = json.loads((tmp_path / "c.json").read_text())["runs"]
    for m in runs:
        assert m["validated"]
        assert m["reference"]["validated"]
        assert m["reference"]["tolerance"] == REFERENCE_TOLERANCE
        assert m["reference"]["file"] == str(tmp_path / "proba.npy")
    assert sorted(p.name for p in out.iterdir()) == FILES
    for name in FILES:
        saved = np.load(out / name)
        assert saved.shape == (ROWS, 10)
        np.testing.assert_allclose(saved, proba, rtol=0, atol=REFERENCE_TOLERANCE)
    errors = {f"{m['strategy']}-{m['broadcast']}.npy": m["reference"]["max_abs_error"] for m in runs}
    for name in FILES:
        assert errors[name] == pytest.approx(np.abs(np.load(out / name).astype(np.float64) - proba).max(), rel=1e-12)


@pytest.mark.slow
def test_a_reference_the_outputs_miss_fails_that_validation_alone(
    digits: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One probability moved by 1e-3, ten times the tolerance: numpy still agrees, the reference does not: status 1."""
    model, inputs, proba = digits
    moved = proba.copy()
    moved[5, 3] += 1e-3
    np.save(tmp_path / "moved.npy", moved)
    argv = ["run", "--chip", "e16", "--model", str(model), "--inputs", str(inputs), "--reference"]
    assert main([*argv, str(tmp_path / "moved.npy"), "--json", str(tmp_path / "r.json")]) == 1
    out = capsys.readouterr().out
    assert "validated against numpy: yes" in out
    assert f"validated against {tmp_path / 'moved.npy'}: NO (max abs error 0.001, tolerance 0.0001)" in out
    reference = json.loads((tmp_path / "r.json").read_text())["reference"]
    assert reference["validated"] is False
    assert reference["max_abs_error"] == pytest.approx(1e-3, abs=REFERENCE_TOLERANCE)
    assert main([*argv, str(tmp_path / "moved.npy"), "--reference-tolerance", "0.01"]) == 0
    assert f"validated against {tmp_path / 'moved.npy'}: yes" in capsys.readouterr().out


def _bad(proba: np.ndarray, how: str) -> np.ndarray:
    if how == "nan":
        bad = proba.copy()
        bad[2, 7] = np.nan
        return bad
    return {"rows": proba[:-1], "columns": proba[:, :9], "text": proba.astype(str)}[how]


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("nan", "holds NaN or infinity (1 value, the first at [2, 7])"),
        ("rows", f"has shape ({ROWS - 1}, 10), but the run has {ROWS} input rows of 10 outputs: expected ({ROWS}, 10)"),
        ("columns", f"has shape ({ROWS}, 9), but the run has {ROWS} input rows of 10 outputs"),
        ("text", "holds text"),
    ],
)
@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_reference_of_the_wrong_shape_or_with_nan_is_one_line(
    digits: tuple[Path, Path, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    how: str,
    message: str,
    command: str,
) -> None:
    model, inputs, proba = digits
    np.save(tmp_path / "ref.npy", _bad(proba, how))
    argv = [command, "--chip", "e16", "--model", str(model), "--inputs", str(inputs)]
    outputs = ["--outputs", str(tmp_path / ("y.npy" if command == "run" else "outs"))]
    assert main([*argv, "--reference", str(tmp_path / "ref.npy"), *outputs, "--json", str(tmp_path / "j")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nnmap: error: reference file {tmp_path / 'ref.npy'} ")
    assert message in err
    assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref.npy"]


def test_a_reference_tolerance_needs_a_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--reference-tolerance", "1e-3"]) == 2
    assert capsys.readouterr().err == (
        "nnmap: error: --reference-tolerance is the tolerance of --reference: give --reference too\n"
    )


def test_compare_claims_every_outputs_file_before_the_runs(
    digits: tuple[Path, Path, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted in its first run, compare has already claimed each strategy's file, and leaves none."""
    model, inputs, _ = digits
    out = tmp_path / "outs"

    def interrupted(*args: object, **kwargs: object) -> None:
        assert sorted(p.name.split(".")[1] + ".npy" for p in out.iterdir()) == FILES  # .NAME.<hex>.tmp
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_chunks", interrupted)
    assert _compare(model, inputs, "--outputs", str(out)) == 130
    assert list(tmp_path.iterdir()) == []
