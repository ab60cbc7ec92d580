"""``nnmap``: plan, run and compare neural-network mappings on a simulated Epiphany chip.

Every error the tools raise on purpose becomes one line on stderr and exit status 2;
output files are written only once everything they hold has been computed.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from tqdm import tqdm

from epiphany_sim.config import ChipConfig, load_chip
from epiphany_sim.errors import SimError
from epiphany_sim.files import check_output_path, write_atomic, write_json
from nnmap.lowering.broadcast import BROADCASTS
from nnmap.lowering.feed import FEEDS
from nnmap.model import ACTIVATIONS, Network, load_inputs, load_npz, parse_sizes, random_inputs, random_network
from nnmap.options import add_chip_arguments
from nnmap.report import report_html
from nnmap.run import run
from nnmap.sparsity import PATTERNS, sparsify
from nnmap.strategies import STRATEGIES, all_variants, get_strategy
from nnmap.sweep import CONNECT_TIMEOUT_S, DEFAULT_WORKERS, SweepOutcome, run_sweep
from nnmap.sweep_spec import load_spec
from nnmap.text import table
from nnmap.trace import trace_json
from nnmap.train_cli import add_train_parser, train_command

DEFAULT_LAYERS = "6,16,4"  # the blog post's example: 6 inputs, 16 hidden nodes, 4 outputs
DEFAULT_STRATEGY = "partitioned"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # raised, not exited: ``main`` turns it into the same one line and status 2 as any error
        raise SimError(message)


def _common(p: argparse.ArgumentParser) -> None:
    add_chip_arguments(p)
    p.add_argument("--layers", default=None, help=f"layer sizes, inputs first (default {DEFAULT_LAYERS})")
    p.add_argument("--model", metavar="FILE.npz", help="weights W0,b0,W1,b1,... and activations (instead of --layers)")
    p.add_argument("--hidden-activation", default="sigmoid", choices=ACTIVATIONS[:-1])
    p.add_argument("--output-activation", default="sigmoid", choices=ACTIVATIONS)
    p.add_argument("--seed", type=int, default=0, help="seed of random weights, masks and inputs (default 0)")
    p.add_argument(
        "--sparsity",
        type=float,
        metavar="S",
        help="drop this fraction of the connections of every layer of --layers (0 <= S < 1): a sparse network",
    )
    p.add_argument(
        "--sparse-pattern",
        choices=list(PATTERNS),
        help="which connections --sparsity keeps (default random)",
    )
    p.add_argument("--inputs", metavar="FILE.npy", help="inputs of shape (batch, n_in)")
    p.add_argument("--batch", type=int, default=1, help="random input samples when no --inputs (default 1)")
    p.add_argument(
        "--feed",
        default="preload",
        choices=list(FEEDS),
        help="preload: every input loaded before the compute phase (default); "
        "host: the host streams the samples in during it, into three rows per core",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnmap", description=__doc__.splitlines()[0].replace("``", ""))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_plan = sub.add_parser("plan", help="print each core's products, outputs, partial sums and SRAM")
    p_run = sub.add_parser("run", help="simulate one strategy and validate it against numpy")
    p_cmp = sub.add_parser("compare", help="run several strategies on the same network and inputs")
    for p in (p_plan, p_run, p_cmp):
        _common(p)
    for p in (p_plan, p_run):
        p.add_argument(
            "--strategy",
            default=DEFAULT_STRATEGY,
            choices=list(STRATEGIES),
            help=f"mapping strategy (default {DEFAULT_STRATEGY})",
        )
        p.add_argument(
            "--broadcast",
            default=None,
            choices=list(BROADCASTS),
            help="hidden-value broadcast (default: the strategy's own)",
        )
    p_run.add_argument("--json", metavar="FILE", help="write the run's figures as JSON")
    p_run.add_argument("--outputs", metavar="FILE.npy", help="save the simulated outputs")
    p_run.add_argument("--trace", metavar="FILE.json", help="write a Chrome trace-event file (Perfetto)")
    p_run.add_argument("--report", metavar="FILE.html", help="write one self-contained HTML page with all figures")
    every = ", ".join(f"{name}:{bc}" for name, bc in all_variants())
    p_cmp.add_argument(
        "--strategies", default="all", help=f"comma-separated strategy[:broadcast] list, or 'all' (default): {every}"
    )
    p_cmp.add_argument("--json", metavar="FILE", help="write every run's figures as JSON")
    for p in (p_run, p_cmp):
        p.add_argument("--plots", metavar="DIR", help="write PNG figures into DIR (created if missing)")
    p_sweep = sub.add_parser("sweep", help="run a grid of chips, networks, strategies and batches on Dask")
    p_sweep.add_argument("--spec", metavar="FILE.toml", required=True, help="the grid (see nnmap/sweep_spec.py)")
    p_sweep.add_argument("--out", metavar="DIR", required=True, help="results.csv, results.json and figures go here")
    p_sweep.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (default: a local cluster)")
    p_sweep.add_argument("--resume", action="store_true", help="skip the runs DIR already records")
    p_sweep.add_argument("--workers", type=int, help=f"local cluster worker processes (default {DEFAULT_WORKERS})")
    p_sweep.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to try reaching --scheduler (default {CONNECT_TIMEOUT_S:g})",
    )
    add_train_parser(sub)
    return parser


def _network(args: argparse.Namespace) -> Network:
    if args.model and args.layers:
        raise SimError("give either --model or --layers, not both")
    if args.sparse_pattern and args.sparsity is None:
        raise SimError("--sparse-pattern chooses the connections --sparsity keeps: give --sparsity too")
    if args.model:
        if args.sparsity is not None:
            raise SimError(
                "--sparsity draws a random sparse network: use it with --layers (a model's masks are M0, M1, ...)"
            )
        return load_npz(args.model)
    sizes = parse_sizes(args.layers or DEFAULT_LAYERS)
    net = random_network(sizes, args.hidden_activation, args.output_activation, args.seed)
    if args.sparsity is None:
        return net
    return sparsify(net, args.sparsity, args.sparse_pattern or "random", args.seed)


def _inputs(args: argparse.Namespace, net: Network) -> np.ndarray:
    if args.inputs:
        return load_inputs(args.inputs, net)
    return random_inputs(net, args.batch, args.seed)


def _variants(text: str) -> list[tuple[str, str | None]]:
    if text == "all":
        return list(all_variants())
    out: list[tuple[str, str | None]] = []
    for item in text.split(","):
        name, _, bc = item.strip().partition(":")
        get_strategy(name)
        if bc and bc not in BROADCASTS:
            raise SimError(f"unknown broadcast {bc!r} in --strategies: use one of {', '.join(BROADCASTS)}")
        out.append((name, bc or None))
    return out


def _summary(m: dict[str, Any]) -> str:
    util = m["core_utilisation"]
    speedup = f"{m['speedup']:.2f}x" if m["speedup"] else "n/a"
    return "\n".join(
        [
            f"{m['strategy']} (broadcast {m['broadcast']}) of {m['layers']} on {m['chip']}, batch {m['batch']}",
            f"  setup {m['setup_cycles']:.0f} cycles, compute {m['compute_cycles']:.0f}, readback "
            f"{m['readback_cycles']:.0f}; total {m['total_cycles']:.0f} cycles = {m['time_us']:.2f} us",
            f"  single core {m['single_core_cycles']:.0f} compute cycles; speedup {speedup}",
            f"  core utilisation mean {np.mean(util):.0%} (min {min(util):.0%}, max {max(util):.0%}); "
            f"busiest mesh link {m['link_max_utilisation']:.0%}",
            f"  {m['messages']} messages; {m['bytes_on_chip']} bytes on chip, {m['bytes_off_chip']} off chip",
            f"  {m['edges_cut']} connections cut; {m['hop_bytes']} bytes x hops in the compute phase; "
            f"multiply-adds of the busiest core {m['imbalance']:.2f}x the mean",
            f"  validated against numpy: {'yes' if m['validated'] else 'NO'} (max abs error {m['max_abs_error']:.2g})",
        ]
        + ([_stream_line(m)] if "fill_cycles" in m else [])
    )


def _stream_line(m: dict[str, Any]) -> str:
    steady = m["steady_cycles_per_sample"]
    per_sample = f"{steady:.0f} cycles per sample in the steady state" if steady is not None else "one sample"
    cores = "+".join(map(str, m["layer_cores"]))
    return (
        f"  stream over {cores} cores by layer: fill {m['fill_cycles']:.0f} cycles, {per_sample}, "
        f"drain {m['drain_cycles']:.0f}"
    )


def _table(rows: list[dict[str, Any]]) -> str:
    header = [
        "strategy",
        "broadcast",
        "compute cyc",
        "speedup",
        "util mean",
        "link max",
        "on-chip B",
        "off-chip B",
        "messages",
        "cut edges",
        "hop x B",
        "imbalance",
        "valid",
    ]
    lines = [
        [
            m["strategy"],
            m["broadcast"],
            f"{m['compute_cycles']:.0f}",
            f"{m['speedup']:.2f}" if m["speedup"] else "-",
            f"{np.mean(m['core_utilisation']):.0%}",
            f"{m['link_max_utilisation']:.0%}",
            str(m["bytes_on_chip"]),
            str(m["bytes_off_chip"]),
            str(m["messages"]),
            str(m["edges_cut"]),
            str(m["hop_bytes"]),
            f"{m['imbalance']:.2f}",
            "yes" if m["validated"] else "NO",
        ]
        for m in rows
    ]
    return table(header, lines)


def _sweep_summary(out: str, outcome: SweepOutcome) -> str:
    done = outcome.skipped + outcome.ran
    lines = [
        f"sweep: {done} of {outcome.total} runs recorded in {out} ({outcome.skipped} from before, "
        f"{outcome.ran} now, in {outcome.wall_seconds:.1f} s)"
    ]
    if outcome.failed or outcome.not_validated:
        lines.append(
            f"  of the runs now: {outcome.failed} failed (see the error column), "
            f"{outcome.not_validated} did not match numpy"
        )
    if outcome.lost:
        lines.append(f"  {outcome.lost} runs lost with their workers: run again with --resume")
    if outcome.interrupted:
        lines.append("  interrupted: run again with --resume to finish")
    return "\n".join(lines)


def _sweep(args: argparse.Namespace) -> int:
    if args.scheduler and args.workers is not None:
        raise SimError("--workers sizes the local cluster: drop it when using --scheduler")
    if not 0 < args.connect_timeout < math.inf:
        raise SimError(f"--connect-timeout is seconds, a positive number; got {args.connect_timeout}")
    spec = load_spec(args.spec)
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    try:
        outcome = run_sweep(spec, args.out, args.scheduler, args.resume, workers, args.connect_timeout)
    except KeyboardInterrupt:  # while the cluster started: nothing ran yet
        print("nnmap: sweep interrupted before any run finished", file=sys.stderr)
        return 130
    if not outcome.interrupted:
        from nnmap.plots import save_figures, sweep_figures  # matplotlib only when drawing

        save_figures(sweep_figures(outcome.rows), args.out)
    print(_sweep_summary(args.out, outcome))
    if outcome.interrupted:
        return 130
    return 1 if outcome.lost or outcome.not_validated else 0


def _run(args: argparse.Namespace, chip: ChipConfig, net: Network, x: np.ndarray) -> int:
    for path in (args.json, args.plots, args.outputs, args.trace, args.report):
        check_output_path(path)
    visual = bool(args.plots or args.trace or args.report)
    result = run(chip, net, args.strategy, x, args.broadcast, trace=visual, progress=True, feed=args.feed)
    figures: dict[str, bytes] = {}
    if args.plots or args.report:
        from nnmap.plots import run_figures  # matplotlib only when drawing

        figures = run_figures(result)
    trace_text = trace_json(result) if args.trace else None
    page = report_html(result.metrics, figures) if args.report else None
    print(_summary(result.metrics))
    if args.outputs:
        write_atomic(args.outputs, lambda tmp: np.save(tmp, result.outputs))
    if args.json:
        write_json(result.metrics, args.json)
    if trace_text is not None:
        write_atomic(args.trace, lambda tmp: Path(tmp).write_text(trace_text))
    if page is not None:
        write_atomic(args.report, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    _save(figures, args.plots)
    return 0 if result.metrics["validated"] else 1


def _compare(args: argparse.Namespace, chip: ChipConfig, net: Network, x: np.ndarray) -> int:
    check_output_path(args.json)
    check_output_path(args.plots)
    variants = _variants(args.strategies)
    rows = [
        run(chip, net, name, x, bc, feed=args.feed).metrics
        for name, bc in tqdm(variants, desc="strategies", unit="run", disable=not sys.stderr.isatty(), leave=False)
    ]
    figures: dict[str, bytes] = {}
    if args.plots:
        from nnmap.plots import compare_figures  # matplotlib only when drawing

        figures = compare_figures(rows)
    print(f"network {net.sizes} on {chip.name} ({chip.rows}x{chip.cols}), batch {len(x)}")
    print(_table(rows))
    if args.json:
        write_json({"chip": chip.name, "layers": net.sizes, "batch": len(x), "runs": rows}, args.json)
    _save(figures, args.plots)
    return 0 if all(m["validated"] for m in rows) else 1


def _save(figures: dict[str, bytes], directory: str | None) -> None:
    if directory:
        from nnmap.plots import save_figures

        save_figures(figures, directory)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return train_command(args)
    if args.command == "sweep":
        return _sweep(args)
    chip = load_chip(args.chip, args.chip_config)
    net = _network(args)
    x = _inputs(args, net)
    if args.command == "plan":
        print(get_strategy(args.strategy).plan(chip, net, len(x), args.broadcast, feed=args.feed).describe())
        return 0
    if args.command == "run":
        return _run(args, chip, net, x)
    return _compare(args, chip, net, x)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nnmap`` console script."""
    try:
        return _main(argv)
    except SimError as exc:
        print(f"nnmap: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that could not be read or written after all
        print(f"nnmap: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
