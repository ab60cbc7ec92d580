"""The ``nnmap train`` subcommand: train on the simulated chip, record loss against simulated time.

``add_train_parser`` adds the subcommand to ``nnmap``'s parser and ``train_command`` runs
it. Every check (chip, dataset, network, hyperparameters, output paths, shards) happens
before the first epoch, and files are written only once every run has finished, so a bad
argument exits with status 2 and leaves nothing behind.
"""

from __future__ import annotations

import argparse
from typing import Any

from epiphany_sim import checks, progress
from epiphany_sim.checks import int_arg
from epiphany_sim.files import OutputFiles, json_text
from epiphany_sim.helptext import choices_epilog, summary
from nnmap.capacity import check_capacity
from nnmap.cli.options import add_chip_arguments, add_load_argument, chip_from_args
from nnmap.errors import TrainingError
from nnmap.loss import LOSSES
from nnmap.text import table
from nnmap.training import (
    DATASETS,
    TRAINERS,
    EpochRecord,
    Hyperparameters,
    Trainer,
    TrainResult,
    get_trainer,
    load_dataset,
    network_for,
    takers,
    train,
)
from nnmap.training.base import bigger_chip_hint

# Hidden layers when --layers is not given: none for the gates (a single neuron learns OR),
# a few for XOR (which a single layer cannot learn) and the tables.
DEFAULT_HIDDEN = {"or": [], "xor": [4], "digits": [16], "iris": [8], "wine": [8]}
DEFAULT_TRAINER = "partitioned"


def add_train_parser(sub: Any) -> None:
    """Add ``train`` to the subparsers ``sub`` of the ``nnmap`` parser."""
    trainers = choices_epilog("strategies (trainers)", {name: summary(cls) for name, cls in TRAINERS.items()})
    p = sub.add_parser(
        "train", help="train a network on the simulated chip (loss against simulated time)", epilog=trainers
    )
    add_chip_arguments(p)
    add_load_argument(p)
    progress.add_quiet_argument(p)
    p.add_argument(
        "--strategy",
        help=f"training strategy: {', '.join(sorted(TRAINERS))} (default {DEFAULT_TRAINER})",
    )
    p.add_argument(
        "--strategies",
        metavar="A,B,...",
        help="several strategies, run one after the other from the same weights (instead of --strategy)",
    )
    p.add_argument("--dataset", default="or", choices=DATASETS, help="training set (default or)")
    p.add_argument("--samples", type=int_arg(1), metavar="N", help="train on the first N samples only")
    p.add_argument(
        "--layers",
        metavar="H1,H2,...",
        help="hidden layer sizes, 'none' for none (default: none for or, 4 for xor, 16 for digits, 8 else)",
    )
    p.add_argument("--epochs", type=int, default=100, help="epoch cap (default 100)")
    p.add_argument("--lr", type=float, default=0.3, help="learning rate (default 0.3)")
    p.add_argument("--momentum", type=float, default=0.0, help="momentum (default 0: plain SGD)")
    p.add_argument("--loss", default="mse", choices=LOSSES, help="loss (default mse)")
    p.add_argument("--seed", type=int_arg(0), default=0, help="seed of weights and sample order (default 0)")
    p.add_argument("--target-loss", type=float, help="stop once the loss is at most this")
    p.add_argument("--target-accuracy", type=float, help="stop once the accuracy is at least this (0..1)")
    for name, option in Hyperparameters.options().items():
        p.add_argument(
            _flag(name),
            type=type(option.default),
            metavar=option.metavar,
            help=f"{', '.join(takers(name))}: {option.help} (default {option.default:g})",
        )
    p.add_argument("--json", metavar="FILE", help="write per-epoch records and totals as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw loss against simulated time, all strategies on one plot")


def _hidden(text: str | None, dataset: str) -> list[int]:
    if text is None:
        return DEFAULT_HIDDEN[dataset]
    if text.strip().lower() == "none":
        return []
    return checks.int_list("--layers (hidden sizes, or 'none')", text, TrainingError)


def _flag(option: str) -> str:
    return f"--{option.replace('_', '-')}"


def _names(args: argparse.Namespace) -> list[str]:
    if args.strategy is not None and args.strategies is not None:
        raise TrainingError("give either --strategy or --strategies, not both")
    names = [n.strip() for n in args.strategies.split(",")] if args.strategies else [args.strategy or DEFAULT_TRAINER]
    for name in names:
        get_trainer(name)
    return names


def _check_options(names: list[str], options: dict[str, Any]) -> None:
    """Refuse an option that none of the chosen trainers takes (it would be silently ignored)."""
    for option in options:
        if not set(takers(option)) & set(names):
            raise TrainingError(f"{_flag(option)} is for {', '.join(takers(option))} only, not {', '.join(names)}")


def _summary(results: list[TrainResult]) -> str:
    header = [
        "strategy",
        "chip",
        "epochs",
        "loss",
        "accuracy",
        "setup cyc",
        "compute cyc",
        "total cyc",
        "per-sample cyc",
        "sim time (us)",
        "on-chip B",
        "off-chip B",
        "target",
    ]
    rows = []
    for r in results:
        d = r.to_dict()
        t = d["totals"]
        rows.append(
            [
                d["trainer"],
                d["chip"],
                str(t["epochs"]),
                f"{t['final_loss']:.4g}",
                f"{t['final_accuracy']:.1%}",
                f"{t['setup_cycles']:.0f}",
                f"{t['compute_cycles']:.0f}",
                f"{t['total_cycles']:.0f}",
                "-" if t["per_sample_cycles"] is None else f"{t['per_sample_cycles']:.0f}",
                f"{t['time_us']:.1f}",
                str(t["bytes_on_chip"]),
                str(t["bytes_off_chip"]),
                "reached" if d["reached_target"] else "-",
            ]
        )
    return table(header, rows)


def _train(trainer: Trainer, hp: Hyperparameters, load: str | None) -> TrainResult:
    """Train, reporting each epoch's loss and accuracy as it ends (``epiphany_sim.progress``)."""
    with progress.Bar(trainer.name, hp.epochs, "epochs") as bar:

        def epoch_done(rec: EpochRecord) -> None:
            bar.update(1 if rec.epoch else 0, note=f"loss {rec.loss:.4g}, accuracy {rec.accuracy:.0%}")

        return train(trainer, epoch_done, load)


def train_command(args: argparse.Namespace) -> int:
    """Run ``nnmap train``; return the exit status (0, or 1 if a target was set and missed)."""
    names = _names(args)
    options = {key: getattr(args, key) for key in Hyperparameters.options() if getattr(args, key) is not None}
    hp = Hyperparameters(
        lr=args.lr,
        momentum=args.momentum,
        loss=args.loss,
        epochs=args.epochs,
        seed=args.seed,
        target_loss=args.target_loss,
        target_accuracy=args.target_accuracy,
        **options,
    )
    _check_options(names, options)
    chip = chip_from_args(args)
    data = load_dataset(args.dataset, args.seed)
    if args.samples is not None:
        data = data.head(args.samples)
    hidden = _hidden(args.layers, args.dataset)
    check_capacity(chip, [data.n_in, *hidden, data.n_out], 1, bigger_chip_hint(chip), TrainingError)
    net = network_for(data, hidden, args.seed)
    trainers = [get_trainer(name)(chip, net, data, hp) for name in names]
    # constructing every trainer first checked each one (SRAM fit, shards): nothing has run yet
    with OutputFiles() as out:
        json_path = out.file(args.json, "--json")
        plot_path = out.file(args.plot, "--plot")
        results = [_train(trainer, hp, args.load) for trainer in trainers]
        if plot_path:
            from nnmap.plots import training_figure  # matplotlib only when asked for

            out.write(plot_path, training_figure([r.to_dict() for r in results]))
        if json_path:
            runs = [r.to_dict() for r in results]
            out.write(
                json_path,
                json_text({"dataset": data.name, "samples": data.n_samples, "layers": net.sizes, "runs": runs}),
            )
    print(
        f"{data.name}: {data.n_samples} samples, network {net.sizes}, lr {hp.lr}, momentum {hp.momentum}, "
        f"loss {hp.loss}"
    )
    print(_summary(results))
    progress.wrote(out.placed)
    targeted = hp.target_loss is not None or hp.target_accuracy is not None
    return 1 if targeted and not all(r.reached_target for r in results) else 0
