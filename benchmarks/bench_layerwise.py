"""Layer-wise parallelism: the layer pipeline, DNI and the recurrent wavefront against their baselines.

Usage: python benchmarks/bench_layerwise.py [--short] [--plot FILE.png] [--json FILE]

Inference: for each network on e16 and e64, at batch 32 and 256, the ``pipeline`` strategy
(a group of cores per layer, ``stream`` broadcast) and the ``partitioned`` scheme (every
layer over every core, ``bidir``), both with the inputs streamed in by the host during the
compute phase (``--feed host``: 256 samples of 64 inputs preloaded would take 64 KB of a
32 KB core), each validated against numpy. Each row: compute-phase cycles, cycles per
sample (compute over batch), and for the pipeline its steady state (the interval between
samples leaving the last layer), fill and drain cycles and cores per layer. Then, per
network and batch, the partitioned scheme's cycles per sample over the pipeline's
steady state.

Training: the digits (1797 samples, a 64-24-10 sigmoid network, lr 0.2, momentum 0.8), four
epochs on e16 and e64 with back-propagation over the partitioned scheme, back-propagation
over the pipeline's groups (``pipeline``) and decoupled layers with synthetic gradients
(``dni``, models' learning rate 0.08): the first epoch at 85% accuracy and the simulated
time to it, the simulated time per epoch and its ratio to back-propagation's over the
partitioned scheme, the accuracy at the end. ``--plot`` draws loss against simulated time
for every training run.

Recurrent networks: the table of ``bench_rnn.py``, the wavefront order against the serial
one and against the ideal ``L T / (L + T - 1)``, on e16 and e64.

``--short`` (for CI, seconds): the network 64,64,10 on e16 at batches 4 and 8, the first
48 digits for one epoch on e16, one small recurrent shape on e16 and e64: it checks that
every row runs, not the figures. The full run takes about half an hour of wall time.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _bench import machine
from bench_rnn import SHAPES, SHORT_SHAPES, wavefront, wavefront_table

from epiphany_sim import chip_from_name
from epiphany_sim.errors import SimError
from epiphany_sim.files import check_output_path, write_atomic, write_json
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.text import table
from nnmap.training import Hyperparameters, TrainResult, get_trainer, load_dataset, network_for, train

NETWORKS = {"e16": [[64, 128, 10], [64, 128, 128, 10]], "e64": [[64, 256, 256, 10], [64, 512, 10]]}
BATCHES = [32, 256]
MAPPINGS = [("pipeline", "stream"), ("partitioned", "bidir")]
TRAINERS = ["partitioned", "pipeline", "dni"]
HIDDEN = [24]
HP = {"lr": 0.2, "momentum": 0.8, "sg_lr": 0.08, "epochs": 4}
TARGET = 0.85


def inference(networks: dict[str, list[list[int]]], batches: list[int]) -> list[dict[str, Any]]:
    rows = []
    for chip_name, shapes in networks.items():
        chip = chip_from_name(chip_name)
        for sizes in shapes:
            net = random_network(sizes, seed=1)
            for batch in batches:
                x = random_inputs(net, batch, seed=2)
                for strategy, broadcast in MAPPINGS:
                    rows.append(run(chip, net, strategy, x, broadcast, baseline=False, feed="host").metrics)
                    print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def inference_table(rows: list[dict[str, Any]]) -> str:
    header = ["chip", "layers", "batch", "mapping", "compute cyc", "cyc/sample", "steady cyc/sample"]
    header += ["fill cyc", "drain cyc", "cores by layer", "valid"]
    lines = []
    for m in rows:
        streamed = "fill_cycles" in m
        lines.append(
            [
                m["chip"],
                ",".join(map(str, m["layers"])),
                str(m["batch"]),
                f"{m['strategy']}/{m['broadcast']}",
                f"{m['compute_cycles']:.0f}",
                f"{m['compute_cycles'] / m['batch']:.0f}",
                f"{m['steady_cycles_per_sample']:.0f}" if streamed else "-",
                f"{m['fill_cycles']:.0f}" if streamed else "-",
                f"{m['drain_cycles']:.0f}" if streamed else "-",
                "+".join(map(str, m["layer_cores"])) if streamed else "all",
                "yes" if m["validated"] else "NO",
            ]
        )
    return table(header, lines)


def inference_ratios(rows: list[dict[str, Any]]) -> list[str]:
    """Per chip, network and batch: partitioned's cycles per sample over the pipeline's, fill and drain
    included, and over the pipeline's steady state."""
    by = {(m["chip"], tuple(m["layers"]), m["batch"], m["strategy"]): m for m in rows}
    lines = []
    for chip, layers, batch, strategy in by:
        if strategy != "pipeline":
            continue
        pipeline = by[(chip, layers, batch, "pipeline")]
        overall, steady = pipeline["compute_cycles"] / batch, pipeline["steady_cycles_per_sample"]
        per_sample = by[(chip, layers, batch, "partitioned")]["compute_cycles"] / batch
        lines.append(
            f"{chip} {','.join(map(str, layers))} batch {batch}: partitioned {per_sample:.0f} cycles per sample, "
            f"pipeline {overall:.0f} ({per_sample / overall:.2f}x), its steady state {steady:.0f} "
            f"({per_sample / steady:.2f}x)"
        )
    return lines


def training(chips: list[str], samples: int | None, epochs: int) -> dict[str, list[TrainResult]]:
    data = load_dataset("digits")
    if samples:
        data = data.head(samples)
    net = network_for(data, HIDDEN)
    hp = Hyperparameters(**{**HP, "epochs": epochs})
    results: dict[str, list[TrainResult]] = {}
    for chip_name in chips:
        chip = chip_from_name(chip_name)
        trainers = [get_trainer(name)(chip, net, data, hp) for name in TRAINERS]  # every setup checked first
        results[chip_name] = [train(trainer) for trainer in trainers]
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return results


def training_table(results: dict[str, list[TrainResult]]) -> str:
    header = ["trainer", "chip", f"epochs to {TARGET:.0%}", f"sim time to {TARGET:.0%} (us)", "us per epoch"]
    header += ["final acc", "epoch time"]
    lines = []
    for chip_results in results.values():
        per_epoch = {r.trainer: _per_epoch_us(r) for r in chip_results}
        for r in chip_results:
            last = r.records[-1]
            hit = next((rec for rec in r.records if rec.accuracy >= TARGET), None)
            lines.append(
                [
                    r.trainer,
                    r.config.name,
                    str(hit.epoch) if hit else f"not in {last.epoch}",
                    f"{hit.time_us:.1f}" if hit else f"> {last.time_us:.1f}",
                    f"{per_epoch[r.trainer]:.1f}",
                    f"{last.accuracy:.1%}",
                    f"{per_epoch[r.trainer] / per_epoch['partitioned']:.2f}x",
                ]
            )
    return table(header, lines)


def _per_epoch_us(result: TrainResult) -> float:
    """Simulated time per epoch, the setup (loading the weights) left out."""
    first, last = result.records[0], result.records[-1]
    return (last.time_us - first.time_us) / last.epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="small workloads that finish in seconds (for CI)")
    parser.add_argument("--plot", metavar="FILE.png", help="draw loss against simulated time of the training runs")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures as JSON")
    args = parser.parse_args()
    try:
        check_output_path(args.plot)
        check_output_path(args.json)
    except SimError as exc:
        parser.error(str(exc))
    networks = {"e16": [[64, 64, 10]]} if args.short else NETWORKS
    batches = [4, 8] if args.short else BATCHES
    print(machine())
    rows = inference(networks, batches)
    print(inference_table(rows))
    print("\n".join(inference_ratios(rows)))
    samples, epochs = (48, 1) if args.short else (None, HP["epochs"])
    results = training(["e16"] if args.short else ["e16", "e64"], samples, epochs)
    print()
    shown = {**HP, "epochs": epochs}
    print(
        f"digits ({samples or 'all'} samples), network 64,{','.join(map(str, HIDDEN))},10, {shown}, "
        f"target accuracy {TARGET}"
    )
    print(training_table(results))
    print()
    recurrent = wavefront(SHORT_SHAPES if args.short else SHAPES)
    print(wavefront_table(recurrent))
    if args.plot:
        from nnmap.plots import training_figure  # matplotlib only when drawing

        write_atomic(args.plot, training_figure([r.to_dict() for rs in results.values() for r in rs]))
    if args.json:
        runs = {chip: [r.to_dict() for r in rs] for chip, rs in results.items()}
        write_json({"inference": rows, "training": runs, "recurrent": recurrent}, args.json)


if __name__ == "__main__":
    main()
