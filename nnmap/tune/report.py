"""tune's output: the table of the simulated candidates, its JSON, the winner's plan file and the front.

The table prints, per simulated candidate, each phase's estimate and simulated cycles
(``est / sim``), the estimate's error on the objective and on the total, and whether the run
matched numpy; ``*`` marks the winner.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from epiphany_sim.config import ChipConfig
from nnmap.analysis import RANKINGS
from nnmap.mapping import plan_for
from nnmap.mapping_file import mapping_json, mapping_of
from nnmap.model import Network
from nnmap.text import table
from nnmap.tune.tune import Row, TuneResult

PHASE_COLUMNS = (
    ("setup", "setup_cycles"),
    ("compute", "compute_cycles"),
    ("readback", "readback_cycles"),
    ("total", "total_cycles"),
    ("per sample", "per_sample_cycles"),
)
"""The figures the table gives estimated and simulated, with their column titles."""


def _pair(row: Row, figure: str) -> str:
    estimated = row.estimate.figures()[figure]
    simulated = row.metrics.get(figure)
    return f"{estimated:,.0f} / " + (f"{simulated:,.0f}" if simulated is not None else "-")


def _error(row: Row, figure: str) -> str:
    return f"{row.errors[figure]:+.0%}" if figure in row.errors else "-"


def _valid(row: Row) -> str:
    if "error" in row.metrics:
        return "failed"
    return "yes" if row.metrics["validated"] else "NO"


def tune_table(result: TuneResult) -> str:
    """The simulated candidates, best simulated first, the winner's rank marked ``*``."""
    figure = result.figure
    header = [
        "rank",
        "strategy:broadcast",
        "cores",
        "order",
        "load",
        "feed",
        *(f"{title} est / sim" for title, _ in PHASE_COLUMNS),
        f"err {result.objective}",
        "valid",
    ]
    lines = [
        [
            f"{i + 1} *" if row is result.winner else str(i + 1),
            f"{row.candidate.strategy}:{row.candidate.broadcast}",
            str(row.candidate.cores),
            row.candidate.order,
            row.candidate.load,
            row.candidate.feed,
            *(_pair(row, key) for _, key in PHASE_COLUMNS),
            _error(row, figure),
            _valid(row),
        ]
        for i, row in enumerate(result.rows)
    ]
    return table(header, lines)


def summary_lines(result: TuneResult, config: ChipConfig, net: Network, batch: int) -> list[str]:
    """What was searched and simulated, the estimate's error and the winner, a line each."""
    s = result.searched
    errs = [abs(r.errors[result.figure]) for r in result.rows if result.figure in r.errors]
    lines = [
        f"tune: network {net.sizes} on {config.name} ({config.rows}x{config.cols}), batch {batch}, "
        f"kernels {config.kernels}, objective {result.objective} ({RANKINGS[result.objective].meaning})",
        f"  estimated {len(s.estimated)} of {s.space} candidates in {s.seconds:.1f} s ({s.refused} do not fit); "
        f"simulated the best {len(result.rows)} in {result.simulate_seconds:.1f} s",
    ]
    if errs:
        lines.append(
            f"  estimate error on {result.objective}: median {float(np.median(errs)):.1%}, worst {max(errs):.1%}"
        )
    if result.winner is None:
        lines.append("  no simulated candidate ran and validated: no winner")
    else:
        w = result.winner
        lines.append(
            f"  winner (*): {w.candidate.name}, {w.metrics[result.figure]:,.0f} {result.figure.replace('_', ' ')}"
        )
    return lines


def winner_plan_json(result: TuneResult, config: ChipConfig, net: Network, batch: int) -> str:
    """The winner as a plan file (``nnmap.mapping_file``), which ``nnmap run --plan`` replays exactly."""
    assert result.winner is not None
    c = result.winner.candidate
    plan = plan_for(c.strategy, config, net, batch, c.broadcast, c.chain(config), c.feed)
    return mapping_json(mapping_of(plan, c.load))


def front(result: TuneResult) -> list[tuple[int, float, str]]:
    """``(cores, simulated figure, candidate)`` of the validated runs that no run on as few cores or fewer beats:
    the front of time against cores used, fewest cores first."""
    figure = result.figure
    runs = sorted((r.candidate.cores, r.metrics[figure], r.candidate.name) for r in result.rows if r.ok)
    out: list[tuple[int, float, str]] = []
    for cores, value, name in runs:
        if not out or value < out[-1][1]:  # sorted by cores, then value: the first of each count is its least
            out.append((cores, value, name))
    return out


def best_estimate_per_cores(result: TuneResult) -> list[tuple[int, float]]:
    """``(cores, least estimated figure)`` for each number of cores the search estimated, fewest first."""
    best: dict[int, float] = {}
    for e in result.searched.estimated:
        value = e.estimate.figures()[result.figure]
        best[e.candidate.cores] = min(value, best.get(e.candidate.cores, value))
    return sorted(best.items())


def tune_json(result: TuneResult, config: ChipConfig, net: Network, batch: int) -> dict[str, Any]:
    """Everything tune measured, as plain data."""
    s = result.searched
    return {
        "chip": config.name,
        "kernels": config.kernels,
        "layers": net.sizes,
        "batch": batch,
        "objective": result.objective,
        "objective_figure": result.figure,
        "space": s.space,
        "estimated": len(s.estimated),
        "refused": s.refused,
        "estimate_seconds": s.seconds,
        "simulate_seconds": result.simulate_seconds,
        "winner": result.winner.candidate.name if result.winner else None,
        "front": [{"cores": c, "cycles": v, "candidate": n} for c, v, n in front(result)],
        "candidates": [
            {
                "candidate": row.candidate.name,
                **{k: getattr(row.candidate, k) for k in ("strategy", "broadcast", "cores", "order", "load", "feed")},
                "estimate": row.estimate.figures(),
                "estimate_error": row.errors,
                "simulated": row.metrics,
            }
            for row in result.rows
        ],
    }
