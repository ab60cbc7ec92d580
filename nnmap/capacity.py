"""Whether a mapping fits the chip: the checks of its SRAM and of its cores, and the hints their errors give.

Two moments: before a network or its inputs exist, ``check_capacity`` refuses layer sizes
and batches that no layout could fit; once a layout exists, ``check_fits`` refuses one that
overflows a core's SRAM, naming the core, the bytes needed and the bytes available, and
``check_usable`` one that puts work on a core the chip avoids.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from epiphany_sim.config import PRESETS, ChipConfig
from epiphany_sim.errors import SimError
from epiphany_sim.mesh import Coord
from nnmap.plan import ELEMENT_BYTES, buffer_bytes, data_bytes


def larger_presets(config: ChipConfig) -> str:
    """The presets with more cores or more SRAM than ``config``, for the hint of a layout that does not fit."""
    bigger = [p for p in PRESETS.values() if p.n_cores > config.n_cores or p.sram_bytes > config.sram_bytes]
    return ", ".join(f"{p.name}: {p.n_cores} cores of {p.sram_bytes // 1024} KB" for p in bigger) or "none is larger"


def fit_hint(config: ChipConfig, batch: int) -> str:
    """What to change when a forward pass of ``batch`` samples does not fit ``config``."""
    smaller_batch = ", a smaller --batch" if batch > 1 else ""
    return f"use a chip with more cores or SRAM ({larger_presets(config)}){smaller_batch}, or a smaller network"


def check_capacity(
    config: ChipConfig,
    sizes: list[int],
    batch: int,
    hint: str,
    error: type[SimError],
    density: float = 1.0,
    held: int | None = None,
) -> None:
    """Raise ``error`` if, from the shapes alone, no mapping of ``sizes`` and ``batch`` can fit ``config``.

    Two conditions every layout meets, tested before a network or its inputs are allocated
    (a network of 30000 x 30000 weights would take 3.6 GB before the layout's own check):
    each weight and bias is held somewhere, so all of them fit the chip's data SRAM
    together; and a core that computes first-layer products holds ``held`` samples' inputs
    at once (every sample's, ``batch``, unless the inputs are streamed in).
    A sparse network of ``density`` (1 - sparsity) stores a weight and an input index per
    connection it keeps; its patterns keep at least about half the nominal density, so it
    is counted as ``density`` times the dense weights.
    """
    weights = sum(n_in * n_out for n_in, n_out in zip(sizes, sizes[1:], strict=False))
    parameters = math.floor(weights * density) + sum(sizes[1:])
    total_bytes = config.usable_cores * config.data_bytes
    if parameters * ELEMENT_BYTES > total_bytes:
        raise error(
            f"network {sizes} does not fit {config.name}: its {parameters} weights and biases take "
            f"{parameters * ELEMENT_BYTES} bytes but its {config.usable_cores} cores hold {total_bytes} bytes "
            f"of data in all; {hint}"
        )
    rows = batch if held is None else held
    input_bytes = rows * sizes[0] * ELEMENT_BYTES
    if input_bytes > config.data_bytes:
        what = "every sample's inputs" if rows == batch else f"{rows} samples' inputs at once"
        raise error(
            f"network {sizes} does not fit {config.name} with a batch of {batch}: a core that computes "
            f"first-layer products holds {what}, {input_bytes} bytes, but has {config.data_bytes} bytes free; {hint}"
        )


def check_usable(config: ChipConfig, cores: Iterable[Coord], error: type[SimError]) -> None:
    """Raise ``error`` naming the first of ``cores`` that the chip avoids (``ChipConfig.avoid_cores``)."""
    avoided = set(config.avoid_cores)
    for coord in cores:
        if tuple(coord) in avoided:
            raise error(
                f"core {tuple(coord)} is one {config.name} avoids (avoid_cores): a mapping may route through it "
                "but not run on it or keep buffers there"
            )


def fullest_core(layout: dict[Coord, dict[str, int]]) -> tuple[Coord, int]:
    """The core whose buffers (name to float32 elements) take the most SRAM, and those bytes."""
    need = {coord: data_bytes(named) for coord, named in layout.items()}
    worst = max(need, key=need.__getitem__)
    return worst, need[worst]


def check_fits(
    config: ChipConfig,
    sizes: list[int],
    layout: dict[Coord, dict[str, int]],
    hint: str,
    error: type[SimError],
    chain: list[Coord] | None = None,
) -> None:
    """Raise ``error`` naming the fullest core unless every core's buffers fit its SRAM.

    Args:
        config: the chip.
        sizes: the network's layer sizes, for the message.
        layout: per core, its buffers: name to float32 elements.
        hint: what to change, the message's end.
        error: the exception type to raise.
        chain: the cores in chain order, if the message should give the core's chain position.
    """
    worst, need = fullest_core(layout)
    if need <= config.data_bytes:
        return
    name, n = max(layout[worst].items(), key=lambda kv: kv[1])
    where = f" (chain position {chain.index(worst)})" if chain else ""
    raise error(
        f"network {sizes} does not fit {config.name}: core {worst}{where} needs {need} bytes of data but "
        f"has {config.data_bytes} bytes free ({config.sram_bytes} SRAM - {config.code_bytes} code; largest buffer "
        f"{name} {buffer_bytes(n)} bytes); {hint}"
    )
