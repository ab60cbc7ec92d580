"""Plan files: a mapping written to JSON, small and readable, that a later run replays exactly.

A mapping is everything but the network and its inputs that decides what a run simulates:
the chip (a preset or mesh name, the fields that differ from it, the kernel profile, the
avoided cores), the strategy, its broadcast, the input feed, the load path, and the cores in
chain order. ``save_mapping`` writes one, ``load_mapping`` reads it back, checking every
value; ``Mapping.check_network`` refuses a network whose layer sizes differ from the file's.

The file (``FORMAT``, version ``VERSION``)::

    {
      "format": "nnmap-plan", "version": 1,
      "chip": "e64", "chip_overrides": {"clock_hz": 1000000000.0},
      "kernels": "asm", "avoid_cores": [[0, 3]],
      "strategy": "partitioned", "broadcast": "bidir", "feed": "preload", "load": "dram",
      "chain": [[0, 0], [0, 1], [0, 2], [0, 4], ...],
      "layers": [{"n_in": 64, "n_out": 40}, {"n_in": 40, "n_out": 10}]
    }

``layers`` holds one object per layer, in order. A strategy chosen per layer, or pipeline
groups of given sizes, are written in the strategy's name (``nnmap.strategies.names``:
``partitioned+node-per-core``, ``pipeline=4+12``). A key this version does not know is refused
rather than ignored, so a file never replays differently from the run that wrote it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epiphany_sim.config import E16, ChipConfig, chip_from_name
from epiphany_sim.errors import ConfigError
from epiphany_sim.mesh import Coord
from nnmap.capacity import check_usable
from nnmap.errors import MappingError
from nnmap.lowering.delivery import DELIVERIES
from nnmap.lowering.feed import FEEDS
from nnmap.model import Network
from nnmap.plan import Plan
from nnmap.session import LOADS
from nnmap.strategies import get_strategy

FORMAT = "nnmap-plan"
VERSION = 1
_KEYS = (
    *("format", "version", "chip", "chip_overrides", "kernels", "avoid_cores"),
    *("strategy", "broadcast", "feed", "load", "chain", "layers"),
)
_LAYER_KEYS = ("n_in", "n_out")
_OWN_FIELDS = ("kernels", "avoid_cores")  # chip fields the file gives keys of their own


@dataclass(frozen=True)
class Mapping:
    """A mapping as a plan file holds it.

    Attributes:
        chip: the chip, its overrides, kernel profile and avoided cores applied.
        strategy: a registered strategy name.
        broadcast: the broadcast of hidden values.
        feed: how the inputs reach the cores.
        load: how the host loads the initial values.
        chain: the cores in chain order, as the plan ran on them.
        sizes: the network's layer sizes, inputs first.
    """

    chip: ChipConfig
    strategy: str
    broadcast: str
    feed: str
    load: str
    chain: list[Coord]
    sizes: list[int]

    def check_network(self, net: Network) -> None:
        """Raise ``MappingError`` unless ``net`` has the layer sizes the mapping was made for."""
        if net.sizes != self.sizes:
            raise MappingError(f"the plan file maps a network of sizes {self.sizes}, not {net.sizes}")


def mapping_of(plan: Plan, load: str) -> Mapping:
    """The mapping ``plan`` runs, with the load path ``load``."""
    return Mapping(plan.config, plan.strategy, plan.broadcast, plan.feed, load, list(plan.chain), plan.net.sizes)


def mapping_json(mapping: Mapping) -> str:
    """The plan file's text: one key per line, each core and layer on one line."""
    base, overrides = _chip_base(mapping.chip)
    head = {
        "format": FORMAT,
        "version": VERSION,
        "chip": base,
        "chip_overrides": overrides,
        "kernels": mapping.chip.kernels,
        "avoid_cores": [list(c) for c in mapping.chip.avoid_cores],
        "strategy": mapping.strategy,
        "broadcast": mapping.broadcast,
        "feed": mapping.feed,
        "load": mapping.load,
    }
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in head.items()]
    lines.append(f'  "chain": {json.dumps([list(c) for c in mapping.chain])}')
    layers = [{"n_in": n_in, "n_out": n_out} for n_in, n_out in zip(mapping.sizes, mapping.sizes[1:], strict=False)]
    lines.append('  "layers": [\n' + ",\n".join(f"    {json.dumps(layer)}" for layer in layers) + "\n  ]")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def save_mapping(mapping: Mapping, path: str | Path) -> None:
    """Write ``mapping`` to the plan file ``path``."""
    Path(path).write_text(mapping_json(mapping))


def load_mapping(path: str | Path) -> Mapping:
    """The mapping of the plan file ``path``; ``MappingError`` in one line if it is not one this version replays."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise MappingError(f"plan file {path} does not exist") from None
    except OSError as exc:
        raise MappingError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"plan file {path} is not JSON: {exc}") from None
    try:
        return _mapping(data)
    except (MappingError, ConfigError) as exc:
        raise MappingError(f"plan file {path}: {exc}") from None


def _chip_base(chip: ChipConfig) -> tuple[str, dict[str, Any]]:
    """The preset or mesh name ``chip`` starts from and its fields that differ (besides ``_OWN_FIELDS``)."""
    try:
        base = chip_from_name(chip.name)
    except ConfigError:  # a name a chip file gave: start from e16 and keep the name as an override
        base = E16
    differ = {
        f.name: getattr(chip, f.name)
        for f in dataclasses.fields(chip)
        if f.name not in _OWN_FIELDS and getattr(chip, f.name) != getattr(base, f.name)
    }
    return base.name, differ


def _mapping(data: Any) -> Mapping:
    """``data`` (a plan file's JSON) as a ``Mapping``, every value checked."""
    if not isinstance(data, dict):
        raise MappingError("the file must hold one JSON object")
    if data.get("format") != FORMAT:
        raise MappingError(f'"format" must be {FORMAT!r}, got {data.get("format")!r}')
    if data.get("version") != VERSION:
        raise MappingError(f"version {data.get('version')!r} is not {VERSION}, the version this nnmap replays")
    missing = [key for key in _KEYS if key not in data]
    unknown = [key for key in data if key not in _KEYS]
    if missing or unknown:
        raise MappingError(f"missing keys {missing}" if missing else f"unknown keys {unknown}")
    chip = _chip(data)
    strategy = get_strategy(_text(data, "strategy")).name
    broadcast, feed = _choice(data, "broadcast", DELIVERIES), _choice(data, "feed", FEEDS)
    load = _choice(data, "load", LOADS)
    if not get_strategy(strategy).supports(broadcast):
        raise MappingError(f"strategy {strategy} does not support broadcast {broadcast!r}")
    chain = _cores(data["chain"], "chain")
    for coord in chain:
        if not (0 <= coord[0] < chip.rows and 0 <= coord[1] < chip.cols):
            raise MappingError(f"chain core {coord} is outside the {chip.rows}x{chip.cols} mesh")
    if len(set(chain)) != len(chain) or not chain:
        raise MappingError('"chain" must list one or more cores, none twice')
    check_usable(chip, chain, MappingError)
    return Mapping(chip, strategy, broadcast, feed, load, chain, _sizes(data["layers"]))


def _chip(data: dict[str, Any]) -> ChipConfig:
    overrides = data["chip_overrides"]
    if not isinstance(overrides, dict):
        raise MappingError('"chip_overrides" must be an object of chip fields')
    fields = {f.name for f in dataclasses.fields(ChipConfig)}
    unknown = sorted((set(overrides) - fields) | (set(overrides) & set(_OWN_FIELDS)))
    if unknown:
        raise MappingError(f'"chip_overrides" has keys that are not chip fields it may set: {unknown}')
    chip = chip_from_name(_text(data, "chip"))
    try:
        return chip.replace(**overrides, kernels=data["kernels"], avoid_cores=data["avoid_cores"])
    except TypeError as exc:  # a value of the wrong kind that a check compared before typing it
        raise MappingError(f"a chip field has a value of the wrong type: {exc}") from None


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise MappingError(f'"{key}" must be text, got {value!r}')
    return value


def _choice(data: dict[str, Any], key: str, names: Any) -> str:
    value = _text(data, key)
    if value not in names:
        raise MappingError(f"unknown {key} {value!r}: use one of {', '.join(names)}")
    return value


def _cores(value: Any, key: str) -> list[Coord]:
    """A list of ``[row, col]`` pairs of whole numbers."""
    ok = isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(type(v) is int for v in p) for p in value
    )
    if not ok:
        raise MappingError(f'"{key}" must be a list of [row, col] pairs of whole numbers')
    return [(p[0], p[1]) for p in value]


def _sizes(layers: Any) -> list[int]:
    """The layer sizes ``layers`` (one ``{"n_in", "n_out"}`` object per layer) describe."""
    if not isinstance(layers, list) or not layers or not all(isinstance(layer, dict) for layer in layers):
        raise MappingError('"layers" must be a list of one object per layer')
    for li, layer in enumerate(layers):
        if set(layer) != set(_LAYER_KEYS):
            raise MappingError(f"layer {li} must have exactly the keys {list(_LAYER_KEYS)}, got {sorted(layer)}")
        if not all(type(layer[key]) is int and layer[key] > 0 for key in _LAYER_KEYS):
            raise MappingError(f"layer {li}'s n_in and n_out must be whole numbers > 0")
        if li and layer["n_in"] != layers[li - 1]["n_out"]:
            raise MappingError(
                f"layer {li} takes {layer['n_in']} inputs but layer {li - 1} has {layers[li - 1]['n_out']} outputs"
            )
    return [layers[0]["n_in"], *(layer["n_out"] for layer in layers)]
