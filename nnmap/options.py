"""Command-line arguments that ``nnmap``'s subcommands share, their help built from the presets and registries."""

from __future__ import annotations

import argparse

from epiphany_sim.config import E16, PRESETS
from epiphany_sim.helptext import choices_epilog, epilog, summary
from nnmap.lowering.broadcast import BROADCASTS
from nnmap.lowering.feed import FEEDS
from nnmap.sparsity import PATTERNS
from nnmap.strategies import STRATEGIES

DEFAULT_CHIP = E16.name


def chip_help() -> str:
    """What ``--chip`` takes: every preset, or a mesh of E16 cores."""
    presets = ", ".join(f"{p.name} ({p.rows}x{p.cols})" for p in PRESETS.values())
    return f"a preset: {presets}; or RxC, a mesh of {E16.name} cores such as 2x3 (default {DEFAULT_CHIP})"


def mapping_epilog() -> str:
    """The epilog of ``plan``, ``run`` and ``compare``: one line per strategy, broadcast, feed and sparse pattern."""
    return epilog(
        choices_epilog("strategies", {name: summary(cls) for name, cls in STRATEGIES.items()}),
        choices_epilog("broadcasts (of hidden values)", {name: summary(cls) for name, cls in BROADCASTS.items()}),
        choices_epilog("feeds (of the inputs)", {name: summary(cls) for name, cls in FEEDS.items()}),
        choices_epilog("sparse patterns", {name: summary(make) for name, make in PATTERNS.items()}),
    )


def add_chip_arguments(p: argparse.ArgumentParser) -> None:
    """``--chip`` and ``--chip-config``."""
    p.add_argument("--chip", default=DEFAULT_CHIP, help=chip_help())
    p.add_argument("--chip-config", metavar="FILE", help="TOML file of chip field overrides")
