"""Float32 arithmetic for compiled code that gives numpy's results to the bit.

A core's program computes its dot products and sums in float32, and the mapped run must give the
numbers numpy gives, whichever way the program runs: op by op in Python, or inside the fabric's
compiled loop. Floating-point addition is not associative, so "the same sum" means the same
additions in the same order, and each function here follows numpy's own order:

- ``dot32``: numpy computes a float32 dot product by calling its BLAS's ``cblas_sdot`` (the
  ``FLOAT_dot`` function of numpy's ``arraytypes.c.src``, in chunks of up to half the BLAS's
  largest integer whose sums it adds in double and rounds to float32 once; a program's vectors fit
  in one chunk, so the result is ``sdot``'s own). OpenBLAS picks its ``sdot`` kernel for the CPU
  at run time (its ``DYNAMIC_ARCH`` build: Haswell, SkylakeX, Zen, ... each sum in a different
  order), so no re-implementation can match it on every machine: ``dot32`` calls the very function
  numpy calls, found in the library that numpy's extension module links (``scipy-openblas64``, the
  BLAS of numpy's wheels). Where it is not found (another BLAS, such as macOS's Accelerate),
  ``dot32`` calls back into ``np.dot`` itself: still exact, but through Python;
  ``DOT_IN_COMPILED_CODE`` says which.
- ``sum32``: ``np.sum`` of float32 is numpy's pairwise summation (``pairwise_sum`` in numpy's
  ``loops_utils.h.src``): blocks of at most 128 values summed by eight interleaved partial sums,
  longer runs split in two at a multiple of eight, and the total added to the reduction's identity,
  ``0.0``. It is ordinary arithmetic, so it is written out here.

Every function is compiled by numba (callable from other compiled functions) and runs as plain
Python, with the same results, under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import ctypes
import importlib
from typing import Any

import numba
import numpy as np
from llvmlite import binding  # type: ignore[import-untyped]
from numba import types

from epiphany_sim.fabric_kernel import compiled

PW_BLOCKSIZE = 128
"""The longest run numpy's pairwise summation sums without splitting it (``PW_BLOCKSIZE``)."""

SDOT_SYMBOLS = ("scipy_cblas_sdot64_", "cblas_sdot64_")
"""The names of the 64-bit-integer ``cblas_sdot`` numpy may link: scipy-openblas64's, then a plain ILP64 BLAS's."""

_SDOT_NAME = "nnmap_exact_sdot"
# The compiled code calls sdot by this name, bound to an address when this module is imported, so
# that numba's on-disk cache of the callers stays valid from one process to the next.

_SDOT_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_float, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64
)


def _numpy_sdot(n: int, x: int, incx: int, y: int, incy: int) -> float:
    """``cblas_sdot``'s contract computed by ``np.dot`` on the memory at addresses ``x`` and ``y``."""
    if n <= 0:
        return 0.0
    xs = np.ctypeslib.as_array(ctypes.cast(x, ctypes.POINTER(ctypes.c_float)), ((n - 1) * incx + 1,))
    ys = np.ctypeslib.as_array(ctypes.cast(y, ctypes.POINTER(ctypes.c_float)), ((n - 1) * incy + 1,))
    return float(np.dot(xs[::incx], ys[::incy]))


_NUMPY_SDOT = _SDOT_TYPE(_numpy_sdot)


def _agrees_with_numpy(sdot: Any) -> bool:
    """Whether ``sdot`` gives ``np.dot``'s bits on vectors long enough for kernels to differ in their order."""
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(4000) * np.exp2(rng.integers(-20, 20, 4000))).astype(np.float32)
    for n, stride in ((1, 1), (7, 1), (64, 1), (64, 3), (1000, 1), (1000, 2)):
        expected = np.dot(values[: n * stride : stride], values[3000 : 3000 + n])
        if np.float32(sdot(n, values.ctypes, stride, values[3000:].ctypes, 1)) != expected:
            return False
    return True


def _find_sdot() -> Any:
    """numpy's own ``cblas_sdot``, or None.

    Looked up through numpy's extension module, which names it: a lookup in a library searches the
    libraries it links too, so this is the function numpy's own calls reach.
    """
    try:
        library = ctypes.CDLL(importlib.import_module("numpy._core._multiarray_umath").__file__)
    except (ImportError, OSError, TypeError):
        return None
    for name in SDOT_SYMBOLS:
        try:
            sdot = ctypes.cast(library[name], _SDOT_TYPE)
        except AttributeError:  # no such symbol
            continue
        if _agrees_with_numpy(sdot):
            return sdot
    return None


_FOUND = _find_sdot()
DOT_IN_COMPILED_CODE: bool = _FOUND is not None
"""Whether ``dot32`` calls numpy's BLAS directly from compiled code (else it calls ``np.dot`` through Python)."""

_SDOT = _FOUND if DOT_IN_COMPILED_CODE else _NUMPY_SDOT
binding.add_symbol(_SDOT_NAME, ctypes.cast(_SDOT, ctypes.c_void_p).value)
if getattr(numba.config, "DISABLE_JIT", False):  # set by numba from the environment at import
    _sdot: Any = _SDOT
else:
    _sdot = types.ExternalFunction(
        _SDOT_NAME, types.float32(types.int64, types.voidptr, types.int64, types.voidptr, types.int64)
    )


@compiled
def dot32(mem: np.ndarray, x: int, x_stride: int, w: int, n: int) -> np.float32:
    """``np.dot(mem[x : x + n * x_stride : x_stride], mem[w : w + n])``, bit for bit.

    Both vectors must lie inside ``mem``: compiled code does not check it (numpy's slices would
    silently shorten them).

    Args:
        mem: the memory image, a contiguous 1-D float32 array.
        x: index of the first element of the strided vector.
        x_stride: its stride in elements, 1 or more.
        w: index of the first element of the contiguous vector.
        n: the vectors' length; 0 gives 0.0.
    """
    if n <= 0:
        return np.float32(0)
    return np.float32(_sdot(n, mem[x:].ctypes, x_stride, mem[w:].ctypes, 1))


@compiled
def _pairwise(mem: np.ndarray, start: int, n: int) -> np.float32:
    """numpy's ``pairwise_sum`` of ``mem[start : start + n]``: the same additions in the same order."""
    if n < 8:
        # numpy starts at -0.0, so that a sum of negative zeros stays -0.0.
        res = np.float32(-0.0)
        for i in range(start, start + n):
            res += mem[i]
        return res
    if n <= PW_BLOCKSIZE:
        r0, r1, r2, r3 = mem[start], mem[start + 1], mem[start + 2], mem[start + 3]
        r4, r5, r6, r7 = mem[start + 4], mem[start + 5], mem[start + 6], mem[start + 7]
        end = start + n
        for i in range(start + 8, end - n % 8, 8):
            r0 += mem[i]
            r1 += mem[i + 1]
            r2 += mem[i + 2]
            r3 += mem[i + 3]
            r4 += mem[i + 4]
            r5 += mem[i + 5]
            r6 += mem[i + 6]
            r7 += mem[i + 7]
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(end - n % 8, end):
            res += mem[i]
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(mem, start, half) + _pairwise(mem, start + half, n - half)


@compiled
def sum32(mem: np.ndarray, start: int, n: int) -> np.float32:
    """``np.sum(mem[start : start + n], dtype=np.float32)``, bit for bit.

    numpy's float32 ``add.reduce`` starts from the identity ``0.0`` and adds the pairwise sum of
    all ``n`` values (so a sum of negative zeros, or of nothing, is ``0.0``).
    """
    return np.float32(0) + _pairwise(mem, start, n)
