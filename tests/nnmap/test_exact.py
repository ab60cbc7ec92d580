"""``dot32`` and ``sum32`` give numpy's float32 bits: compiled, called from compiled code, and as plain Python.

Every expected number is numpy's own (``np.dot``, ``np.sum``) on the same memory; results are
compared as bit patterns, so a sign of zero or a NaN counts too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from nnmap.programs.exact import DOT_IN_COMPILED_CODE, dot32, sum32

ROOT = Path(__file__).resolve().parents[2]
LENGTHS = [*range(301), 1000, 1023, 1025, 4097, 20000]


def _bits(value: float | np.floating) -> int:
    return int(np.float32(value).view(np.uint32))


def _memory(seed: int, size: int) -> np.ndarray:
    """Float32 values of both signs with exponents from 2**-40 to 2**40 (products and sums that round)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(size) * np.exp2(rng.integers(-40, 41, size))).astype(np.float32)


def _with_specials(mem: np.ndarray, seed: int) -> np.ndarray:
    """``mem`` with a few NaN, infinities and negative zeros at random places."""
    rng = np.random.default_rng(seed)
    out = mem.copy()
    for value in (np.nan, np.inf, -np.inf, -0.0):
        out[rng.integers(0, out.size, 3)] = value
    return out


def _dot_cases(seed: int, size: int) -> list[tuple[int, int, int, int]]:
    """``(x, x_stride, w, n)`` for every length and stride 1 to 4, at random offsets inside ``size`` words."""
    rng = np.random.default_rng(seed)
    cases = []
    for n in LENGTHS:
        for stride in (1, 2, 3, 4):
            span = max(n * stride, 1)
            cases.append((int(rng.integers(0, size - span)), stride, int(rng.integers(0, size - n)), n))
    return cases


@numba.njit
def _dots(mem: np.ndarray, cases: np.ndarray, out: np.ndarray) -> None:
    """``dot32`` called from compiled code, as the programs' interpreter calls it."""
    for i in range(cases.shape[0]):
        out[i] = dot32(mem, cases[i, 0], cases[i, 1], cases[i, 2], cases[i, 3])


@numba.njit
def _sums(mem: np.ndarray, cases: np.ndarray, out: np.ndarray) -> None:
    for i in range(cases.shape[0]):
        out[i] = sum32(mem, cases[i, 0], cases[i, 1])


def test_numpys_sdot_is_called_from_compiled_code_here() -> None:
    # numpy's wheels for Linux link scipy-openblas64, whose cblas_sdot this machine's numpy calls.
    assert DOT_IN_COMPILED_CODE


@pytest.mark.parametrize("specials", [False, True], ids=["finite", "nan-inf-zero"])
def test_dot32_is_np_dot_to_the_bit(specials: bool) -> None:
    size = 90_000
    mem = _memory(1, size)
    if specials:
        mem = _with_specials(mem, 2)
    cases = np.array(_dot_cases(3, size), dtype=np.int64)
    out = np.empty(len(cases), dtype=np.float32)
    with np.errstate(all="ignore"):
        _dots(mem, cases, out)
        expected = [np.dot(mem[x : x + n * s : s], mem[w : w + n]) for x, s, w, n in cases]
    assert out.view(np.uint32).tolist() == [_bits(e) for e in expected]
    # Called from Python too, on a sample.
    for (x, s, w, n), e in list(zip(cases.tolist(), expected, strict=True))[::97]:
        assert _bits(dot32(mem, x, s, w, n)) == _bits(e)


def test_dot32_of_long_vectors_sums_as_numpy_does() -> None:
    """Long vectors of like-signed values, where every summation order gives other bits: numpy's is kept."""
    mem = np.random.default_rng(4).uniform(0, 1, 50_000).astype(np.float32)
    for n in (64, 1000, 24_999):
        assert _bits(dot32(mem, 0, 2, 50_000 - n, n)) == _bits(np.dot(mem[0 : 2 * n : 2], mem[50_000 - n :]))


@pytest.mark.parametrize("specials", [False, True], ids=["finite", "nan-inf-zero"])
def test_sum32_is_np_sum_to_the_bit(specials: bool) -> None:
    size = 250_000
    mem = _memory(5, size)
    if specials:
        mem = _with_specials(mem, 6)
    rng = np.random.default_rng(7)
    cases = np.array([(int(rng.integers(0, size - n)), n) for n in [*LENGTHS, 8192, 8193, 200_000]], dtype=np.int64)
    out = np.empty(len(cases), dtype=np.float32)
    _sums(mem, cases, out)
    with np.errstate(all="ignore"):
        expected = [np.sum(mem[start : start + n], dtype=np.float32) for start, n in cases]
    assert out.view(np.uint32).tolist() == [_bits(e) for e in expected]


def test_sum32_of_negative_zeros_is_numpys_positive_zero() -> None:
    # numpy's reduction starts from add's identity, +0.0, and 0.0 + -0.0 is 0.0.
    mem = np.full(300, -0.0, dtype=np.float32)
    for n in (0, 1, 7, 8, 300):
        assert _bits(sum32(mem, 0, n)) == _bits(np.sum(mem[:n], dtype=np.float32)) == 0


_PLAIN = """
import json, sys
import numpy as np
import nnmap.programs.exact as exact
mem = (np.random.default_rng(8).standard_normal(3000) * np.exp2(np.arange(3000) % 61 - 30)).astype(np.float32)
mem[[5, 700]] = np.nan, np.inf
cases = [(x, s, w, n) for n in (0, 1, 7, 8, 9, 64, 129, 300) for s in (1, 3) for x, w in ((0, 2000), (11, 1500))]
print(json.dumps({
    "kind": type(exact.dot32).__name__,
    "in_compiled_code": exact.DOT_IN_COMPILED_CODE,
    "dot": [[float(exact.dot32(mem, *c)), float(np.dot(mem[c[0] : c[0] + c[3] * c[1] : c[1]], mem[c[2] : c[2] + c[3]]))]
            for c in cases],
    "sum": [[float(exact.sum32(mem, x, n)), float(np.sum(mem[x : x + n], dtype=np.float32))]
            for x, _, _, n in cases],
}))
"""

_NO_SYMBOL = """
import ctypes
_lookup = ctypes.CDLL.__getitem__
def _without_sdot(self, name):
    if "sdot" in name:
        raise AttributeError(name)
    return _lookup(self, name)
ctypes.CDLL.__getitem__ = _without_sdot
"""


def _run(script: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _assert_pairs_equal(result: dict) -> None:
    for name in ("dot", "sum"):
        assert [_bits(got) for got, _ in result[name]] == [_bits(want) for _, want in result[name]], name


@pytest.mark.slow  # a Python and numba start-up: about a second
def test_plain_python_gives_numpys_bits() -> None:
    """Under ``NUMBA_DISABLE_JIT=1`` the same functions run as Python and still call numpy's sdot."""
    result = _run(_PLAIN, NUMBA_DISABLE_JIT="1")
    assert result["kind"] == "function"  # numba was off
    assert result["in_compiled_code"]
    _assert_pairs_equal(result)


@pytest.mark.slow  # a Python and numba start-up and a load of the compiled dot32: about two seconds
def test_without_numpys_sdot_symbol_dot32_calls_np_dot() -> None:
    """Where the BLAS symbol is not found (another BLAS), importing works and ``dot32`` is still exact."""
    result = _run(_NO_SYMBOL + _PLAIN)
    assert result["kind"] == "CPUDispatcher"  # compiled
    assert not result["in_compiled_code"]
    _assert_pairs_equal(result)
