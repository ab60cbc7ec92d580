"""Training strategies side by side: epochs and simulated time to a target, bytes moved.

Usage: python benchmarks/bench_training.py [--short] [--only or,or-sgd,or+60,or+600,digits,neurons,findings]
       [--json FILE]

Seven workloads, each a table with a row per strategy:

- the OR gate to a mean squared error of 0.001 (lr 0.3, momentum 0.9): one core, the
  partitioned mesh and the per-neuron workers; the last column is each one's simulated
  time to the target over one core's;
- the same with plain SGD (momentum 0, a cap of 6000 epochs), one core against the
  partitioned mesh: the README's 4,375 epochs (20 s of wall time, most of it the mesh's);
- digits to 90 % accuracy on e16 (lr 0.3, a 64-16-10 network): one core, downpour with
  ScatterBrain's settings (DIV 15, n_fetch = n_push = 300, n_shuffle 15), sync (also with the
  learning rate scaled by the 16 samples it averages) and hogwild (with lower epoch caps:
  each of their simulated epochs costs minutes of wall time); the
  last column is one core's time to the target over each one's;
- the same with a fixed cost per message (``write_overhead_cycles`` 60 and 600, 0.1 and 1 us),
  which the datasheet does not name but software adds; every message pays it, the single
  core's sample writes and done flags as well as the per-neuron jobs and answers;
- the per-neuron workers against one core on a bigger network (64-16-10, 200 digits, one
  epoch, no target: the ratio is of the time for that epoch);
- two Downpour findings on iris on a 2x3 mesh (a server and 5 clients, DIV 5): downpour
  with n_fetch = n_push = 300 (trains), n_fetch = 10, n_push = 300 (fetching 30x more often
  than pushing: fails) and n_fetch = 300, n_push = 30 (pushing 10x more often: trains), to a
  loss of 0.15.

``--short`` (for CI, a few seconds) caps both OR gates at 30 epochs, trains the first 48
digits for one epoch and iris for 2, with no other change: it checks that every row runs,
not the figures. The full run takes over an hour of wall time (downpour on digits needs
tens of epochs of 1797 simulated SGD steps each).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

from epiphany_sim import chip_from_name
from epiphany_sim.errors import SimError
from epiphany_sim.files import check_output_path, write_json
from nnmap.text import table as text_table
from nnmap.training import Hyperparameters, TrainResult, get_trainer, load_dataset, network_for, train


@dataclass
class Workload:
    """One table: a dataset, a network, a chip and the strategies to run with their settings."""

    title: str
    dataset: str
    hidden: list[int]
    chip: str
    hp: dict[str, Any]
    runs: list[tuple[str, str, dict[str, Any]]]  # (row label, trainer, hyperparameter changes)
    samples: int | None = None
    chip_changes: dict[str, Any] = field(default_factory=dict)  # ChipConfig fields to override
    ratio: str = "slowdown"  # time over the first row's; "speedup": the first row's over time; "": none
    results: list[tuple[str, TrainResult, float]] = field(default_factory=list)


SCATTERBRAIN = {"div": 15.0, "n_fetch": 300, "n_push": 300, "n_shuffle": 15}


def workloads(short: bool) -> dict[str, Workload]:
    or_epochs, or_sgd_epochs, digits_epochs, iris_epochs = (30, 30, 1, 2) if short else (2000, 6000, 60, 25)
    # per-row caps on digits: sync and hogwild cost minutes of wall time per simulated epoch
    sync_cap, hogwild_cap = (1, 1) if short else (20, 6)
    return {
        "or": Workload(
            "OR gate to MSE 0.001",
            "or",
            [],
            "e16",
            {"lr": 0.3, "momentum": 0.9, "epochs": or_epochs, "target_loss": 0.001},
            [("single", "single", {}), ("partitioned", "partitioned", {}), ("per-neuron", "per-neuron", {})],
        ),
        "or-sgd": Workload(
            "OR gate to MSE 0.001 with plain SGD (lr 0.3, no momentum)",
            "or",
            [],
            "e16",
            {"lr": 0.3, "momentum": 0.0, "epochs": or_sgd_epochs, "target_loss": 0.001},
            [("single", "single", {}), ("partitioned", "partitioned", {})],
        ),
        "digits": Workload(
            "digits to 90% accuracy",
            "digits",
            [16],
            "e16",
            {"lr": 0.3, "epochs": digits_epochs, "target_accuracy": 0.9},
            [
                ("single", "single", {}),
                ("downpour", "downpour", SCATTERBRAIN),
                ("sync", "sync", {"epochs": sync_cap}),
                ("sync, lr 16 x 0.3", "sync", {"epochs": sync_cap, "lr": 4.8}),
                ("hogwild", "hogwild", {"epochs": hogwild_cap}),
            ],
            samples=48 if short else None,
            ratio="speedup",
        ),
        **{
            f"or+{cycles}": Workload(
                f"OR gate to MSE 0.001 with {cycles} cycles of overhead per message",
                "or",
                [],
                "e16",
                {"lr": 0.3, "momentum": 0.9, "epochs": or_epochs, "target_loss": 0.001},
                [("single", "single", {}), ("per-neuron", "per-neuron", {})],
                chip_changes={"write_overhead_cycles": float(cycles)},
            )
            for cycles in (60, 600)
        },
        "neurons": Workload(
            "per-neuron workers on a bigger network: 200 digits, one epoch",
            "digits",
            [16],
            "e16",
            {"lr": 0.3, "epochs": 1},
            [("single", "single", {}), ("per-neuron", "per-neuron", {})],
            samples=48 if short else 200,
        ),
        "findings": Workload(
            "Downpour's findings: iris on 2x3, DIV 5, n_shuffle 15, to loss 0.15",
            "iris",
            [8],
            "2x3",
            {"lr": 0.3, "epochs": iris_epochs, "target_loss": 0.15, "div": 5.0, "n_shuffle": 15},
            [
                ("fetch = push = 300", "downpour", {"n_fetch": 300, "n_push": 300}),
                ("fetch 10, push 300", "downpour", {"n_fetch": 10, "n_push": 300}),
                ("fetch 300, push 30", "downpour", {"n_fetch": 300, "n_push": 30}),
            ],
            ratio="",
        ),
    }


def run(work: Workload) -> None:
    data = load_dataset(work.dataset)
    if work.samples:
        data = data.head(work.samples)
    net = network_for(data, work.hidden)
    chip = chip_from_name(work.chip).replace(**work.chip_changes)
    for label, trainer, changes in work.runs:
        hp = Hyperparameters(**{**work.hp, **changes})
        start = time.perf_counter()
        result = train(get_trainer(trainer)(chip, net, data, hp))
        work.results.append((label, result, time.perf_counter() - start))


def table(work: Workload) -> str:
    header = [
        "strategy",
        "chip",
        "epochs to target",
        "sim time to target (us)",
        "bytes on chip",
        "bytes off chip",
        "final loss",
        "final acc",
        work.ratio or "-",
        "wall s",
    ]
    rows = []
    first = work.results[0][1].to_dict()
    for label, result, wall in work.results:
        d = result.to_dict()
        totals = d["totals"]
        ratio = "-"
        targeted = "target_loss" in work.hp or "target_accuracy" in work.hp
        if work.ratio and not targeted:  # no target: the same epochs, compare their time
            a, b = totals["time_us"], first["totals"]["time_us"]
            ratio = f"{a / b:.2f}x" if work.ratio == "slowdown" else f"{b / a:.2f}x"
        elif work.ratio and d["reached_target"] and first["reached_target"]:
            a, b = d["time_to_target_us"], first["time_to_target_us"]
            ratio = f"{a / b:.2f}x" if work.ratio == "slowdown" else f"{b / a:.2f}x"
        if not targeted:
            epochs, sim_time = f"{totals['epochs']} (no target)", f"{totals['time_us']:.1f}"
        elif d["reached_target"]:
            epochs, sim_time = str(d["epochs_to_target"]), f"{d['time_to_target_us']:.1f}"
        else:
            epochs, sim_time = f"not in {totals['epochs']}", f"> {totals['time_us']:.1f}"
        rows.append(
            [
                label,
                d["chip"],
                epochs,
                sim_time,
                str(totals["bytes_on_chip"]),
                str(totals["bytes_off_chip"]),
                f"{totals['final_loss']:.4g}",
                f"{totals['final_accuracy']:.1%}",
                ratio,
                f"{wall:.1f}",
            ]
        )
    return f"{work.title}\n{text_table(header, rows)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="small workloads that finish in seconds (for CI)")
    parser.add_argument("--json", metavar="FILE", help="also write every run's records as JSON")
    parser.add_argument("--only", metavar="NAME,...", help="run only these workloads (names as in the usage line)")
    args = parser.parse_args()
    try:
        check_output_path(args.json)  # before any workload: the full run takes over an hour
    except SimError as exc:
        parser.error(str(exc))
    every = workloads(args.short)
    names = args.only.split(",") if args.only else list(every)
    unknown = set(names) - set(every)
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(sorted(unknown))}: use {', '.join(every)}")
    works = [every[name] for name in names]
    for work in works:
        run(work)
        print(table(work), end="\n\n", flush=True)
    if args.json:
        write_json(
            [{"title": w.title, "runs": [{"label": label, **r.to_dict()} for label, r, _ in w.results]} for w in works],
            args.json,
        )


if __name__ == "__main__":
    main()
