"""The checks every user-supplied value passes: numbers, integers, addresses, arrays, size lists."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from epiphany_sim import checks
from epiphany_sim.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        (float("nan"), {}, "x must be a finite number, got nan"),
        (float("inf"), {"low": 0}, "x must be a finite number >= 0, got inf"),
        (-1.0, {"low": 0}, "x must be a finite number >= 0, got -1.0"),
        (0, {"low": 0, "low_open": True}, "x must be a finite number > 0, got 0"),
        (1.5, {"low": 0, "high": 1}, "x must be a finite number in [0, 1], got 1.5"),
        (1, {"low": 0, "high": 1, "high_open": True}, "x must be a finite number in [0, 1), got 1"),
        ("3", {}, "x must be a finite number, got '3'"),
        (True, {}, "x must be a finite number, got True"),
        (10**400, {}, "x must be a finite number, got 1000"),
    ],
)
def test_number_refuses_what_is_not_a_finite_number_in_range(value: object, bounds: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        checks.number("x", value, ConfigError, **bounds)


@pytest.mark.parametrize(("value", "bounds"), [(0.5, {"low": 0, "high": 1}), (3, {}), (np.float32(2.0), {"low": 2})])
def test_number_accepts_finite_numbers_in_range(value: object, bounds: dict) -> None:
    assert checks.number("x", value, ConfigError, **bounds) == float(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [(2.0, "an integer >= 1, got 2.0"), (False, "an integer >= 1, got False"), (0, "an integer >= 1, got 0")],
)
def test_integer_wants_an_int_not_a_float_or_bool(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        checks.integer("n", value, ConfigError, low=1)
    assert checks.integer("n", np.int64(7), ConfigError, low=1) == 7


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, r"must be an address in \[0x0, 0xffffffff\], got -1"),
        (1 << 32, r"must be an address in \[0x0, 0xffffffff\], got 4294967296"),
        (0x8E000004, "0x8e000004 is not aligned to 8 bytes"),
        (2.0, "must be an address, an integer"),
    ],
)
def test_address_is_inside_the_32_bit_map_and_aligned(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        checks.address("base", value, ConfigError, alignment=8)
    assert checks.address("base", 0x8E000000, ConfigError, alignment=8) == 0x8E000000


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.ones(3, complex), r"holds complex numbers \(complex128\); expected real numbers"),
        (np.array(["1", "2"]), r"holds text \(<U1\); expected real numbers"),
        (np.array([1, None]), r"holds Python objects \(object\)"),
        (np.array([True]), r"holds booleans \(bool\)"),
        (np.array([1.0, np.nan]), "contain NaN or infinity"),
        (np.array([1e300]), "contain numbers too large for float32"),
        (np.array([2**200], dtype=object), "holds Python objects"),
    ],
)
def test_real_array_refuses_all_but_real_finite_numbers(values: np.ndarray, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        checks.real_array("inputs", values, ConfigError)


def test_real_array_gives_float32() -> None:
    out = checks.real_array("inputs", np.arange(4, dtype=np.int64), ConfigError)
    assert out.dtype == np.float32
    assert out.tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "sizes is empty"),
        ("  ", "sizes is empty"),
        ("6,x", "must be comma-separated integers like 6,16,4, got '6,x'"),
        ("6", "needs 2 or more sizes, all >= 1, got '6'"),
        ("6,0", "needs 2 or more sizes, all >= 1, got '6,0'"),
    ],
)
def test_int_list(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        checks.int_list("sizes", text, ConfigError, min_count=2)
    assert checks.int_list("sizes", " 6, 16 ,4", ConfigError, min_count=2) == [6, 16, 4]


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (checks.int_arg(0), "-1", "expected an integer >= 0, got '-1'"),
        (checks.int_arg(1), "1.5", "expected an integer >= 1, got '1.5'"),
        (checks.number_arg(0, low_open=True), "nan", "expected a finite number > 0, got 'nan'"),
        (checks.number_arg(0, low_open=True), "inf", "expected a finite number > 0, got 'inf'"),
        (checks.number_arg(0, 1), "two", r"expected a finite number in \[0, 1\], got 'two'"),
    ],
)
def test_argument_types_say_what_they_expected(parse, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(text)


def test_argument_types_parse_good_values() -> None:
    assert checks.int_arg(0)("12") == 12
    assert checks.number_arg(0, 1)("0.25") == 0.25
