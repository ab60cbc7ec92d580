"""The user's expected outputs (``--reference FILE.npy``): read, checked, and compared with a run's.

A run is always validated against numpy's forward pass of the same network in float32
(``nnmap.run.VALIDATION_TOLERANCE``). A reference is what the user expects instead: the outputs of the
model where it came from, such as scikit-learn's ``predict_proba``. Those are usually
computed in float64 from float64 weights, where the chip and numpy hold float32: the weights
and inputs are rounded to 24 bits (a relative 6e-8 each), and that rounding grows with a
layer's width and the size of its pre-activations. On scikit-learn MLPs fitted on the digits
(hidden layers of 32 to 100 units, relu, logistic and tanh) numpy's float32 pass is within
5.3e-7 of ``predict_proba``; the chip is held within 1e-5 of numpy. ``REFERENCE_TOLERANCE``,
1e-4, leaves ten times that for wider layers and larger values while still catching any
wrong output (a wrong weight, layer or activation moves outputs by far more). Like
``VALIDATION_TOLERANCE`` it is absolute for values up to 1 and relative above; ``--reference-tolerance``
changes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnmap.errors import ModelError
from nnmap.model_files import ArrayHeader, load_npy
from nnmap.run import validate

REFERENCE_TOLERANCE = 1e-4
"""Absolute below 1, relative above: float32 on the chip against a float64 reference (see the module docstring)."""


def load_reference(path: str | Path, rows: int, n_out: int) -> np.ndarray:
    """The expected outputs in ``path``: a ``.npy`` of shape ``(rows, n_out)`` (or ``(rows,)`` for one
    output), finite real numbers, as float64 ``(rows, n_out)``; a ``ModelError`` line otherwise."""
    path = Path(path)
    shape = f"({rows}, {n_out})" + (f" or ({rows},)" if n_out == 1 else "")

    def check(header: ArrayHeader, where: str) -> None:
        if header.shape not in ((rows, n_out), *(((rows,),) if n_out == 1 else ())):
            raise ModelError(
                f"{where} has shape {header.shape}, but the run has {rows} input rows of {n_out} outputs: "
                f"expected {shape}"
            )

    array = load_npy(path, "reference file", "--reference", f"expected outputs of shape {shape}", check)
    expected = np.asarray(array, dtype=np.float64).reshape(rows, n_out)
    bad = np.argwhere(~np.isfinite(expected))
    if len(bad):
        count = f"{len(bad)} value" + ("s" if len(bad) > 1 else "")
        raise ModelError(f"reference file {path} holds NaN or infinity ({count}, the first at {bad[0].tolist()})")
    return expected


def reference_figures(outputs: np.ndarray, expected: np.ndarray, path: str | Path, tolerance: float) -> dict[str, Any]:
    """How simulated ``outputs`` compare with the ``expected`` ones of the file ``path``, for the run's figures."""
    max_err, ok = validate(outputs, expected, tolerance)
    return {"file": str(path), "tolerance": tolerance, "max_abs_error": max_err, "validated": ok}
