"""The activations a core applies one output at a time agree with the array form, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from nnmap.model import activate, activate_one

# Values across float32's range: ordinary ones, ones where exp(-z) overflows float32 (z < -88.7),
# ones where the sigmoid is 1 or below float32's smallest normal, zeros of both signs.
_RNG = np.random.default_rng(7)
VALUES = np.concatenate(
    [
        _RNG.normal(0, 4, 2000),
        _RNG.uniform(-120, 120, 2000),
        [0.0, -0.0, 88.0, -88.0, -88.5, -89.0, -103.0, -104.0, -110.0, 1e-30, -1e-30, 3e38, -3e38],
    ]
).astype(np.float32)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "identity"])
def test_one_value_at_a_time_is_the_array_form_bit_for_bit(name: str) -> None:
    whole = activate(name, VALUES)
    one = np.array([activate_one(name, z) for z in VALUES], dtype=np.float32)
    assert one.tobytes() == whole.tobytes()


def test_the_sigmoid_of_one_value_is_the_formula_in_float64() -> None:
    z = VALUES.astype(np.float64)
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-z))
    got = np.array([activate_one("sigmoid", v) for v in VALUES], dtype=np.float64)
    tiny = np.finfo(np.float32).tiny  # below it float32 keeps fewer digits
    assert np.all(np.abs(got - expected) <= 1e-6 * expected + tiny)
    assert not np.any(np.isnan(got))
