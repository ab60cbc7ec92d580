"""Model and input files, read without pickle and checked from their headers before their data.

- A model (``--model``) is an ``.npz`` archive of float arrays ``W0, b0, W1, b1, ...``, a
  string array ``activations`` and, for sparse layers, boolean masks ``M0, M1, ...`` (any
  subset), as ``Network.save`` writes it, or an ONNX file (``.onnx``,
  ``nnmap.onnx_import``).
- Inputs (``--inputs``) are one ``.npy`` array of shape ``(rows, n_in)``, as ``numpy.save``
  writes it; expected outputs (``--reference``, ``nnmap.reference``) likewise, ``(rows, n_out)``.

Arrays are read from their ``.npy`` headers first: the dtype must be what the file is for
(real numbers, or text for the activation names), and the shape must agree with the bytes
the file actually holds, so a truncated or doctored file is refused before anything of the
size it claims is allocated. A dense model's layer sizes go to a caller's check (the chip's
capacity, ``nnmap.capacity.check_capacity``) before its weights are read; a sparse one's
size depends on its masks, so the plan's own check sees it. Nothing is ever
unpickled. A file that is not what it claims to be gets one line saying what was expected.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import numpy as np

from epiphany_sim import checks
from nnmap.errors import ModelError
from nnmap.model import Layer, Network, as_mask

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries, an empty zip
NPZ_FORMAT = "an .npz archive of arrays W0, b0, W1, b1, ... and activations (as Network.save writes)"
T = TypeVar("T")
SizesCheck = Callable[[list[int]], None]
"""Called with a dense model's layer sizes, read from its headers, before its weights are read
(a sparse model's size depends on its masks; the plan's own check sees it)."""


@dataclass(frozen=True)
class ArrayHeader:
    """What a ``.npy`` header declares: shape, dtype and memory order."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool

    @property
    def data_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _opening(path: Path, what: str) -> bytes:
    """The first bytes of ``path``, or a ``ModelError`` if it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(NPY_MAGIC))
    except FileNotFoundError:
        raise ModelError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ModelError(f"{what} {path} is a directory, not a file") from None
    except OSError as exc:
        raise ModelError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_header(fh: IO[bytes], where: str) -> ArrayHeader:
    """The header of the ``.npy`` array ``fh`` is at; ``where`` names it in messages."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version[0]}.{version[1]}")
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ModelError(f"{where} has a damaged .npy header: {exc}") from None
    if dtype.hasobject:
        raise ModelError(f"{where} holds Python objects, which nnmap does not unpickle; store numbers or text")
    return ArrayHeader(tuple(shape), dtype, fortran_order)


def read_data(fh: IO[bytes], header: ArrayHeader, available_bytes: int, where: str) -> np.ndarray:
    """The array ``header`` declares, read from ``fh`` once its size matches the ``available_bytes``."""
    if header.data_bytes != available_bytes:
        state = "is truncated" if available_bytes < header.data_bytes else "has bytes past its end"
        raise ModelError(
            f"{where} {state}: its header declares shape {header.shape} of {header.dtype} "
            f"({header.data_bytes} bytes) but it holds {available_bytes} bytes"
        )
    try:
        data = fh.read(header.data_bytes)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelError(f"{where} cannot be read: {exc}") from None
    if len(data) != header.data_bytes:
        raise ModelError(f"{where} is truncated")
    return np.frombuffer(data, dtype=header.dtype).reshape(header.shape, order="F" if header.fortran_order else "C")


def load_inputs(path: str | Path, n_in: int) -> np.ndarray:
    """Inputs from a ``.npy`` file of shape ``(rows, n_in)`` (or ``(n_in,)``, one row), as float32."""
    path = Path(path)

    def check(header: ArrayHeader, where: str) -> None:
        if len(header.shape) not in (1, 2) or header.shape[-1] != n_in:
            raise ModelError(f"inputs have shape {header.shape} but the network takes {n_in} inputs per sample")
        if header.shape[0] == 0:
            raise ModelError(f"{where} has no rows: expected an array of shape (rows, {n_in}) with rows >= 1")

    array = load_npy(path, "inputs file", "--inputs", f"an array of shape (rows, {n_in})", check)
    x = checks.real_array("inputs", array, ModelError)
    return x.reshape(-1, n_in)


def load_npy(
    path: Path, what: str, option: str, expected: str, check: Callable[[ArrayHeader, str], None]
) -> np.ndarray:
    """The real-number array of the ``.npy`` file ``path``, once ``check`` has accepted its header.

    ``what`` names the file in messages, ``option`` the command-line option that takes it and
    ``expected`` what it should hold; ``check(header, where)`` raises ``ModelError`` for a shape
    the caller cannot use, before the data is read.
    """
    opening = _opening(path, what)
    if opening.startswith(ZIP_MAGICS):
        raise ModelError(f"{what} {path} is an .npz archive; {option} takes one .npy file holding {expected}")
    if opening != NPY_MAGIC:
        raise ModelError(f"{what} {path} is not a .npy file: expected {expected} from numpy.save")
    where = f"{what} {path}"
    with open(path, "rb") as fh:
        header = read_header(fh, where)
        checks.real_dtype(where, header.dtype, ModelError)
        check(header, where)
        return read_data(fh, header, path.stat().st_size - fh.tell(), where)


def load_model(path: str | Path, check_sizes: SizesCheck | None = None) -> Network:
    """The network in ``path``: an ONNX file if it ends in ``.onnx``, else an ``.npz`` archive.

    ``check_sizes`` is called with the layer sizes before the network is built (for an
    ``.npz``, before any weight is read).
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from nnmap.onnx_import import load_onnx  # needs the onnx package, only for ONNX files

        _opening(path, "model file")
        return load_onnx(path, check_sizes)
    return load_npz(path, check_sizes)


def load_npz(path: str | Path, check_sizes: SizesCheck | None = None) -> Network:
    """Load ``W0, b0, W1, b1, ...``, a string array ``activations`` and masks ``M0, M1, ...``
    (for sparse layers, any subset) from an ``.npz`` archive."""
    path = Path(path)
    expected = f"{NPZ_FORMAT}, or an ONNX file ending in .onnx"
    return read_npz(path, expected, lambda archive: _network(path, archive, check_sizes))


def npz_arrays(path: str | Path, expected: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path``, each checked from its header before its data is
    read; ``expected`` says, in a refusal, what the file should have been."""
    path = Path(path)

    def arrays(archive: zipfile.ZipFile) -> dict[str, np.ndarray]:
        return {
            info.filename.removesuffix(".npy"): _member(path, archive, info, info.filename.removesuffix(".npy"))
            for info in archive.infolist()
        }

    return read_npz(path, expected, arrays)


def read_npz(path: Path, expected: str, read: Callable[[zipfile.ZipFile], T]) -> T:
    """``read`` applied to the ``.npz`` archive ``path``, or one ``ModelError`` line if the file is
    not a readable archive (``expected`` says what it should have been)."""
    opening = _opening(path, "model file")
    if not opening.startswith(ZIP_MAGICS):
        kind = "a single .npy array" if opening == NPY_MAGIC else "not a model file"
        raise ModelError(f"model file {path} is {kind}: expected {expected}")
    try:
        with zipfile.ZipFile(path) as archive:
            return read(archive)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise ModelError(f"model file {path} is a damaged .npz archive: {exc}") from None


def _network(path: Path, archive: zipfile.ZipFile, check_sizes: SizesCheck | None) -> Network:
    """The network in the ``.npz`` ``archive``: its arrays named and typed from their headers, a
    dense model's sizes given to ``check_sizes``, and only then their data read."""
    members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    n_layers = _layer_count(path, members)
    masks = [f"M{k}" for k in range(n_layers) if f"M{k}" in members]
    names = ["activations"] + [f"{kind}{k}" for k in range(n_layers) for kind in "Wb"] + masks
    headers = _checked_headers(path, archive, members, names, masks)
    if check_sizes is not None and not masks:
        _check_dense_sizes([headers[f"W{k}"].shape for k in range(n_layers)], check_sizes)
    arrays = {name: _member(path, archive, members[name], name) for name in names}
    layers = _layers(path, arrays, n_layers)
    try:
        return Network(tuple(layers))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def _layer_count(path: Path, members: dict[str, zipfile.ZipInfo]) -> int:
    """The number of layers the archive's arrays name (``W0, W1, ...`` in a row), once the
    activations are there, each weight array has its bias and each mask its weight array."""
    if "W0" not in members:
        raise ModelError(f"{path}: missing array W0 (expected W0, b0, W1, b1, ... and activations)")
    if "activations" not in members:
        raise ModelError(f"{path}: missing string array 'activations'")
    n_layers = 0
    while f"W{n_layers}" in members:
        n_layers += 1
    for k in range(n_layers):
        if f"b{k}" not in members:
            raise ModelError(f"{path}: missing array b{k}")
    stray = sorted(name for name in members if name[:1] == "M" and name[1:].isdigit() and int(name[1:]) >= n_layers)
    if stray:
        raise ModelError(f"{path}: mask {stray[0]} has no weight array W{stray[0][1:]}")
    return n_layers


def _checked_headers(
    path: Path, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], names: list[str], masks: list[str]
) -> dict[str, ArrayHeader]:
    """The headers of the arrays ``names``, each of the dtype it must have: text for the
    activations, booleans or real numbers for the ``masks``, real numbers for the rest."""
    headers: dict[str, ArrayHeader] = {}
    for name in names:
        with archive.open(members[name]) as fh:
            headers[name] = read_header(fh, f"{path}: array {name}")
    if headers["activations"].dtype.kind not in "US":
        raise ModelError(f"{path}: 'activations' must be a string array such as np.array(['relu', 'softmax'])")
    for name in names[1:]:
        if name not in masks or headers[name].dtype.kind != "b":
            checks.real_dtype(f"{path}: array {name}", headers[name].dtype, ModelError)
    return headers


def _check_dense_sizes(shapes: list[tuple[int, ...]], check_sizes: SizesCheck) -> None:
    """Give ``check_sizes`` the layer sizes of a dense model's weight ``shapes``, if they are
    matrices that chain (else the layers refuse them once read)."""
    if all(len(s) == 2 for s in shapes) and all(a[1] == b[0] for a, b in zip(shapes, shapes[1:], strict=False)):
        check_sizes([shapes[0][0]] + [s[1] for s in shapes])


def _layers(path: Path, arrays: dict[str, np.ndarray], n_layers: int) -> list[Layer]:
    """The ``n_layers`` layers of the arrays read: float32 weights and biases, each with its
    activation and, if it has one, its mask."""
    activations = [str(a) for a in np.atleast_1d(arrays["activations"])]
    if len(activations) != n_layers:
        raise ModelError(f"{path}: {n_layers} weight arrays but {len(activations)} activations")
    layers = []
    for k in range(n_layers):
        try:
            with np.errstate(over="ignore"):  # a value too large for float32 becomes inf, which Layer refuses
                weights, bias = arrays[f"W{k}"].astype(np.float32), arrays[f"b{k}"].astype(np.float32).reshape(-1)
            mask = as_mask(arrays[f"M{k}"]) if f"M{k}" in arrays else None
            layers.append(Layer(weights, bias, activations[k], mask))
        except ModelError as exc:
            raise ModelError(f"{path}: layer {k}: {exc}") from None
    return layers


def _member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    where = f"{path}: array {name}"
    with archive.open(info) as fh:
        header = read_header(fh, where)
        return read_data(fh, header, info.file_size - fh.tell(), where)
