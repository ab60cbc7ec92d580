"""Checks of the values a user supplies: numbers, addresses, arrays and command-line arguments.

Every value that reaches the simulator or the mapper from outside (a chip TOML file, a model
or inputs file, a command-line number, a sweep file) is checked here, once, so that a bad one
is refused with a one-line message saying what was expected, raised as the exception type
of the layer that asked (``ConfigError`` for a chip, ``ModelError`` for a model, ...).
Nothing here allocates more than the value it is given.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from epiphany_sim.errors import SimError

ADDRESS_BITS = 32
"""Width of the Epiphany's flat global address space."""

REAL_KINDS = "fiu"
"""numpy dtype kinds taken as real numbers: floats, signed and unsigned integers."""

_KIND_NAMES = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects", "b": "booleans"}

Error = type[SimError]


def expectation(
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> str:
    """What a number must be, in words: ``an integer >= 0``, ``a finite number in (0, 1]``."""
    kind = "an integer" if integer else "a finite number"
    if low is not None and high is not None:
        return f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{kind} {'<' if high_open else '<='} {high:g}"
    return kind


def _within(value: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    return above and below


def number(
    what: str,
    value: Any,
    error: Error,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float if it is a real, finite number within the bounds; else ``error`` naming ``what``."""
    must = f"{what} must be {expectation(False, low, high, low_open, high_open)}, got {value!r}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise error(must)
    try:
        converted = float(value)
    except OverflowError:
        raise error(must) from None
    if not math.isfinite(converted) or not _within(converted, low, high, low_open, high_open):
        raise error(must)
    return converted


def integer(what: str, value: Any, error: Error, low: int | None = None, high: int | None = None) -> int:
    """``value`` if it is an integer within the bounds; else ``error`` naming ``what``."""
    whole = not isinstance(value, bool | np.bool_) and isinstance(value, int | np.integer)
    if not whole or not _within(int(value), low, high, False, False):
        raise error(f"{what} must be {expectation(True, low, high)}, got {value!r}")
    return int(value)


def address(what: str, value: Any, error: Error, alignment: int = 1) -> int:
    """``value`` if it is an address of the 32-bit map aligned to ``alignment`` bytes; else ``error``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise error(f"{what} must be an address, an integer in [0, 2**{ADDRESS_BITS}), got {value!r}")
    if not 0 <= value < 1 << ADDRESS_BITS:
        raise error(f"{what} must be an address in [0x0, 0x{(1 << ADDRESS_BITS) - 1:x}], got {value!r}")
    if value % alignment:
        raise error(f"{what} 0x{value:08x} is not aligned to {alignment} bytes")
    return int(value)


def real_dtype(what: str, dtype: np.dtype, error: Error) -> None:
    """Raise ``error`` unless ``dtype`` holds real numbers (``REAL_KINDS``), naming what it holds instead."""
    if dtype.kind not in REAL_KINDS:
        held = _KIND_NAMES.get(dtype.kind, "values that are not numbers")
        raise error(f"{what} holds {held} ({dtype}); expected real numbers")


def real_array(what: str, values: Any, error: Error) -> np.ndarray:
    """``values`` as a float32 array if they are real, finite numbers; else ``error`` naming ``what``."""
    array = np.asarray(values)
    real_dtype(what, array.dtype, error)
    with np.errstate(over="ignore"):
        converted = array.astype(np.float32)
    if not np.all(np.isfinite(converted)):
        finite_before = array.dtype.kind in "iu" or bool(np.all(np.isfinite(array)))
        problem = "numbers too large for float32" if finite_before else "NaN or infinity"
        raise error(f"{what} contain {problem}")
    return converted


def int_list(what: str, text: str, error: Error, min_count: int = 1) -> list[int]:
    """``"6,16,4"`` as ``[6, 16, 4]``: at least ``min_count`` comma-separated integers, all >= 1."""
    if not text.strip():
        raise error(f"{what} is empty: give comma-separated sizes like 6,16,4")
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise error(f"{what} must be comma-separated integers like 6,16,4, got {text!r}") from None
    if len(values) < min_count or min(values) < 1:
        raise error(f"{what} needs {min_count} or more sizes, all >= 1, got {text!r}")
    return values


def int_arg(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer within the bounds."""

    def parse(text: str) -> int:
        try:
            return integer("", int(text), SimError, low, high)
        except (ValueError, SimError):
            raise argparse.ArgumentTypeError(f"expected {expectation(True, low, high)}, got {text!r}") from None

    parse.__name__ = "integer"
    return parse


def number_arg(
    low: float | None = None, high: float | None = None, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number within the bounds."""
    wanted = expectation(False, low, high, low_open, high_open)

    def parse(text: str) -> float:
        try:
            return number("", float(text), SimError, low, high, low_open, high_open)
        except (ValueError, SimError):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None

    parse.__name__ = "number"
    return parse
