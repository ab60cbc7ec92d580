"""Command-line arguments that ``nnmap``'s subcommands share, their help built from the presets."""

from __future__ import annotations

import argparse

from epiphany_sim.config import E16, PRESETS
from nnmap.session import LOADS

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


def add_chip_arguments(p: argparse.ArgumentParser) -> None:
    """``--chip`` and ``--chip-config``."""
    p.add_argument("--chip", default=DEFAULT_CHIP, help=chip_help())
    p.add_argument("--chip-config", metavar="FILE", help="TOML file of chip field overrides")
