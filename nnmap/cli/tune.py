"""The ``nnmap tune`` subcommand: its own options, and the command once the chip, network and inputs are known.

``nnmap.cli`` gives the subcommand the network options every mapping command shares
(``--layers``, ``--model``, ``--batch``, ``--feed``, ``--load``, the chip's); ``--feed`` and
``--load`` restrict those axes of the space instead of choosing one run. Every output path
is claimed before anything is estimated; a bad option exits 2 in one line.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from epiphany_sim import progress
from epiphany_sim.checks import int_arg
from epiphany_sim.config import ChipConfig
from epiphany_sim.files import OutputFiles, json_text
from nnmap.analysis import RANKINGS
from nnmap.model import Network
from nnmap.tune.report import summary_lines, tune_json, tune_table, winner_plan_json
from nnmap.tune.search import DEFAULT_BUDGET, parse_budget
from nnmap.tune.space import mapping_space
from nnmap.tune.tune import DEFAULT_OBJECTIVE, DEFAULT_TOP, tune

DEFAULT_TUNE_WORKERS = 2


def add_tune_arguments(p: argparse.ArgumentParser) -> None:
    """tune's options beyond the shared network and chip ones."""
    p.add_argument(
        "--top",
        type=int_arg(1),
        default=DEFAULT_TOP,
        metavar="K",
        help=f"simulate the best K estimates (default {DEFAULT_TOP})",
    )
    p.add_argument(
        "--objective",
        choices=list(RANKINGS),
        default=DEFAULT_OBJECTIVE,
        help="what the winner is fastest at: "
        + "; ".join(f"{name}: {r.meaning}" for name, r in RANKINGS.items())
        + f" (default {DEFAULT_OBJECTIVE})",
    )
    p.add_argument(
        "--budget",
        default=str(DEFAULT_BUDGET),
        metavar="N|Ns",
        help=f"candidates to estimate at most, or seconds to spend estimating, such as 30s (default {DEFAULT_BUDGET})",
    )
    p.add_argument(
        "--workers",
        type=int_arg(0),
        default=DEFAULT_TUNE_WORKERS,
        help=f"local Dask worker processes for the simulations; 0 runs them in this process "
        f"(default {DEFAULT_TUNE_WORKERS})",
    )
    p.add_argument("--save", metavar="FILE.json", help="write the winner as a plan file, which run --plan replays")
    p.add_argument("--json", metavar="FILE", help="write every simulated candidate's estimate and figures as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw estimated against simulated cycles and the front")


def tune_command(args: argparse.Namespace, chip: ChipConfig, net: Network, x: np.ndarray, feeds: Any) -> int:
    """Run ``nnmap tune``: 0 if a winner ran and validated, 1 if none did."""
    budget = parse_budget(args.budget)
    space = mapping_space(
        chip, net, (args.load,) if args.load else None, feeds, (args.chain_order,) if args.chain_order else None
    )
    with OutputFiles() as out:
        save_path = out.file(args.save, "--save")
        json_path = out.file(args.json, "--json")
        plot_path = out.file(args.plot, "--plot")
        result = tune(chip, net, x, space, args.objective, args.top, budget, args.workers)
        if save_path and result.winner is not None:
            out.write(save_path, winner_plan_json(result, chip, net, len(x)))
        if json_path:
            out.write(json_path, json_text(tune_json(result, chip, net, len(x))))
        if plot_path:
            from nnmap.plots.tune import tune_figure  # matplotlib only when drawing

            out.write(plot_path, tune_figure(result))
    print(tune_table(result))
    print("\n".join(summary_lines(result, chip, net, len(x))))
    progress.wrote(out.placed)
    return 0 if result.winner is not None else 1
