"""Command-line arguments that ``nnmap``'s subcommands share, their help built from the presets and registries."""

from __future__ import annotations

import argparse

from epiphany_sim.config import DEFAULT_KERNELS, E16, KERNEL_PROFILES, PRESETS, ChipConfig, load_chip
from epiphany_sim.helptext import choices_epilog, epilog, summary
from nnmap.lowering.delivery import DELIVERIES
from nnmap.lowering.feed import FEEDS
from nnmap.session import LOADS
from nnmap.sparsity import MASK_PATTERNS
from nnmap.strategies import STRATEGIES

DEFAULT_CHIP = E16.name


def chip_help() -> str:
    """What ``--chip`` takes: every preset, or a mesh of E16 cores."""
    presets = ", ".join(f"{p.name} ({p.rows}x{p.cols})" for p in PRESETS.values())
    return f"a preset: {presets}; or RxC, a mesh of {E16.name} cores such as 2x3 (default {DEFAULT_CHIP})"


def add_load_argument(p: argparse.ArgumentParser) -> None:
    """``--load``: how the host loads the weights and inputs before the compute phase."""
    p.add_argument(
        "--load",
        choices=list(LOADS),
        help="; ".join(f"{name}: {what}" for name, what in LOADS.items())
        + " (default: the faster on the chip by its rates, dram on every preset)",
    )


def kernels_help() -> str:
    """What ``--kernels`` takes: each kernel code profile with what it prices, and the default."""
    profiles = "; ".join(f"{name}: {line}" for name, line in KERNEL_PROFILES.items())
    return f"how compute kernels are priced. {profiles} (default: the chip config's, else {DEFAULT_KERNELS})"


def mapping_epilog() -> str:
    """The epilog of ``plan``, ``run`` and ``compare``: one line per strategy, broadcast, feed and sparse pattern."""
    return epilog(
        choices_epilog("strategies", {name: summary(cls) for name, cls in STRATEGIES.items()}),
        choices_epilog(
            "broadcasts (how hidden values reach their readers; targeted and stream send to those alone)",
            {name: summary(cls) for name, cls in DELIVERIES.items()},
        ),
        choices_epilog("feeds (of the inputs)", {name: summary(cls) for name, cls in FEEDS.items()}),
        choices_epilog("sparse patterns", {name: summary(make) for name, make in MASK_PATTERNS.items()}),
    )


def add_chip_arguments(p: argparse.ArgumentParser) -> None:
    """``--chip``, ``--chip-config``, ``--kernels`` and ``--avoid-cores``."""
    p.add_argument("--chip", help=chip_help())
    p.add_argument("--chip-config", metavar="FILE", help="TOML file of chip field overrides")
    p.add_argument("--kernels", choices=list(KERNEL_PROFILES), help=kernels_help())
    p.add_argument(
        "--avoid-cores",
        metavar="R,C;R,C",
        help="cores no program or buffer may use (row,col pairs separated by ';', such as '0,3;5,5'); "
        "traffic still routes through them (default: the chip config's, else none)",
    )


def chip_from_args(args: argparse.Namespace) -> ChipConfig:
    """The chip ``--chip``, ``--chip-config``, ``--kernels`` and ``--avoid-cores`` describe."""
    return load_chip(args.chip or DEFAULT_CHIP, args.chip_config, args.kernels, args.avoid_cores)
