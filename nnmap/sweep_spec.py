"""The sweep file: a grid of runs over chips, networks, strategies, broadcasts, batches and kernel profiles.

A sweep file is TOML with these top-level keys (every list is one axis of the grid; the
runs are every combination of one value from each):

.. code-block:: toml

    chips      = ["2x2", "e16", "e64"]          # presets (e16, e64, epiphany-v) or RxC meshes
    layers     = ["16,32,8", [32, 64, 10]]      # layer sizes, inputs first: "a,b,c" or [a, b, c]
    strategies = ["partitioned", "allgather"]   # registered names, "name:broadcast", or "all"
    broadcasts = ["default", "dram"]            # optional; "default" is the strategy's own
    batches    = [1, 4]                         # optional, default [1]: random input samples
    seeds      = [0]                            # optional, default [0]: weights and inputs
    kernels    = ["asm", "c"]                   # optional, default ["asm"]: kernel code profiles
    hidden_activation = "sigmoid"               # optional, as nnmap run's --hidden-activation
    output_activation = "sigmoid"               # optional, as nnmap run's --output-activation

A strategy written ``"name:broadcast"`` keeps its own broadcast; the ``broadcasts`` axis
applies to the plain names only. ``"all"`` is every strategy with each broadcast it declares
worth comparing (``Strategy.variants``), as ``nnmap compare --strategies all`` runs them.
Runs that come out identical (``"default"`` next to the broadcast it stands for) are one
run. Each run has a stable ``run_id``, a hash of its parameters, by which
``nnmap sweep --resume`` knows what is already recorded.

The whole file is checked before anything runs: a malformed file, an unknown key, a wrong
type, an unknown chip, strategy, broadcast, kernel profile or activation is a ``SweepError`` naming the file
and the key. So is a grid of more than ``DEFAULT_MAX_RUNS`` runs (or ``--max-runs``),
counted from the axes before the grid is expanded. Whether a network fits a chip's SRAM
is not checked here: a run that does not fit is a result of the sweep (recorded with its
error, found from the shapes before anything is allocated), not a malformed file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from epiphany_sim import checks
from epiphany_sim.config import DEFAULT_KERNELS, KERNEL_PROFILES, PRESETS, chip_from_name
from epiphany_sim.errors import SimError
from nnmap.errors import MappingError, SweepError
from nnmap.lowering.delivery import DELIVERIES
from nnmap.model import ACTIVATIONS
from nnmap.strategies import all_variants, get_strategy

DEFAULT_BROADCAST = "default"
DEFAULT_MAX_RUNS = 10_000
"""The most runs a sweep file may describe unless ``nnmap sweep --max-runs`` says otherwise."""
KEYS = (
    "chips",
    "layers",
    "strategies",
    "broadcasts",
    "batches",
    "seeds",
    "kernels",
    "hidden_activation",
    "output_activation",
)
REQUIRED = ("chips", "layers", "strategies")


@dataclass(frozen=True)
class RunParams:
    """Everything that decides one run of a sweep (and nothing that does not).

    Attributes:
        chip: the chip's name as ``chip_from_name`` knows it (``e16``, ``4x4``).
        layers: layer sizes, inputs first.
        strategy: a registered strategy name.
        broadcast: the broadcast variant, resolved (never ``"default"``).
        batch: random input samples.
        seed: seed of the random weights and inputs, as ``nnmap run --seed``.
        hidden_activation: activation of the hidden layers.
        output_activation: activation of the last layer.
        kernels: the kernel code profile (``ChipConfig.kernels``), as ``nnmap run --kernels``.
    """

    chip: str
    layers: tuple[int, ...]
    strategy: str
    broadcast: str
    batch: int
    seed: int
    hidden_activation: str
    output_activation: str
    kernels: str

    @property
    def run_id(self) -> str:
        """12 hex digits of a SHA-256 over the parameters: the same run gets the same id anywhere."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def layers_text(self) -> str:
        """Layer sizes as ``nnmap run --layers`` takes them (``"16,32,8"``)."""
        return ",".join(map(str, self.layers))


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, checked sweep file: its path and its runs in grid order."""

    path: Path
    runs: tuple[RunParams, ...]


def _fail(path: Path, message: str) -> SweepError:
    return SweepError(f"sweep file {path}: {message}")


def _list(path: Path, data: dict[str, Any], key: str, default: list[Any] | None) -> list[Any]:
    if key not in data:
        if default is None:
            raise _fail(path, f"missing key {key!r} (a list)")
        return default
    value = data[key]
    if not isinstance(value, list):
        raise _fail(path, f"{key} must be a list, got {value!r}")
    if not value:
        raise _fail(path, f"{key} is empty: give at least one value")
    return value


def _ints(path: Path, key: str, values: list[Any], minimum: int) -> list[int]:
    return [checks.integer(f"sweep file {path}: each of {key}", v, SweepError, low=minimum) for v in values]


def _chip(path: Path, name: Any) -> str:
    if not isinstance(name, str):
        raise _fail(path, f'chips must hold preset names ({", ".join(PRESETS)}) or meshes such as "4x4", got {name!r}')
    try:
        return chip_from_name(name).name
    except SimError as exc:
        raise _fail(path, str(exc)) from None


def _kernels(path: Path, name: Any) -> str:
    if name not in KERNEL_PROFILES:
        raise _fail(path, f"kernels must hold profile names ({', '.join(KERNEL_PROFILES)}), got {name!r}")
    return str(name)


def _layers(path: Path, value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        return tuple(checks.int_list(f"sweep file {path}: layers entry", value, SweepError, min_count=2))
    if not isinstance(value, list):
        raise _fail(path, f'layers entries are "6,16,4" or [6, 16, 4], got {value!r}')
    if len(value) < 2:
        raise _fail(path, f"layers entry {value!r} needs 2 or more sizes")
    where = f"sweep file {path}: a size in layers entry {value!r}"
    return tuple(checks.integer(where, size, SweepError, low=1) for size in value)


def _broadcast(path: Path, name: Any, where: str) -> str:
    if not isinstance(name, str) or (name not in DELIVERIES and name != DEFAULT_BROADCAST):
        raise _fail(
            path, f"unknown broadcast {name!r} in {where}: use {DEFAULT_BROADCAST!r} or one of {', '.join(DELIVERIES)}"
        )
    return name


def _variants(path: Path, strategies: Any, broadcasts: list[str]) -> list[tuple[str, str]]:
    """``(strategy, broadcast)`` pairs, broadcasts resolved, in file order, without repeats."""
    if strategies == "all":
        strategies = [f"{name}:{bc}" for name, bc in all_variants()]
    elif not isinstance(strategies, list) or not strategies:
        raise _fail(path, f'strategies must be "all" or a non-empty list, got {strategies!r}')
    pairs: list[tuple[str, str]] = []
    for item in strategies:
        if not isinstance(item, str):
            raise _fail(path, f"strategies must hold names, got {item!r}")
        name, colon, own = item.partition(":")
        try:
            strategy = get_strategy(name)
        except MappingError as exc:
            raise _fail(path, str(exc)) from None
        chosen = [_broadcast(path, own, f"strategy {item!r}")] if colon else broadcasts
        for bc in chosen:
            resolved = strategy.default_broadcast if bc == DEFAULT_BROADCAST else bc
            if not strategy.supports(resolved):
                raise _fail(path, f"strategy {name} does not support broadcast {resolved!r}")
            if (name, resolved) not in pairs:
                pairs.append((name, resolved))
    return pairs


def _activation(path: Path, data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = data.get(key, "sigmoid")
    if value not in allowed:
        raise _fail(path, f"{key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def parse_spec(text: str, path: str | Path = "<string>", max_runs: int = DEFAULT_MAX_RUNS) -> SweepSpec:
    """Check a sweep file's text and expand its grid; raise ``SweepError`` on anything wrong.

    A grid of more than ``max_runs`` combinations is refused before it is expanded.
    """
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r}: the keys are {', '.join(KEYS)}")
    chips = [_chip(path, c) for c in _list(path, data, "chips", None)]
    layers = [_layers(path, v) for v in _list(path, data, "layers", None)]
    if "strategies" not in data:
        raise _fail(path, "missing key 'strategies' (a list, or \"all\")")
    broadcasts = [_broadcast(path, b, "broadcasts") for b in _list(path, data, "broadcasts", [DEFAULT_BROADCAST])]
    variants = _variants(path, data["strategies"], broadcasts)
    batches = _ints(path, "batches", _list(path, data, "batches", [1]), 1)
    seeds = _ints(path, "seeds", _list(path, data, "seeds", [0]), 0)
    kernels = [_kernels(path, k) for k in _list(path, data, "kernels", [DEFAULT_KERNELS])]
    hidden = _activation(path, data, "hidden_activation", ACTIVATIONS[:-1])
    output = _activation(path, data, "output_activation", ACTIVATIONS)
    axes: dict[str, list[Any]] = {
        "chips": chips,
        "layers": layers,
        "strategies": variants,
        "batches": batches,
        "seeds": seeds,
        "kernels": kernels,
    }
    count = math.prod([len(values) for values in axes.values()])
    if count > max_runs:
        shape = " x ".join(f"{len(values)} {key}" for key, values in axes.items())
        raise _fail(path, f"{shape} make {count} runs, more than --max-runs {max_runs}: shrink the grid or raise it")
    runs: dict[str, RunParams] = {}
    grid = itertools.product(chips, layers, variants, batches, seeds, kernels)
    for chip, sizes, (strategy, bc), batch, seed, profile in grid:
        params = RunParams(chip, sizes, strategy, bc, batch, seed, hidden, output, profile)
        runs.setdefault(params.run_id, params)
    return SweepSpec(path, tuple(runs.values()))


def load_spec(path: str | Path, max_runs: int = DEFAULT_MAX_RUNS) -> SweepSpec:
    """Read and check a sweep file (see the module docstring for its format) of at most ``max_runs`` runs."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError(f"sweep file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read sweep file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_spec(text, path, max_runs)
