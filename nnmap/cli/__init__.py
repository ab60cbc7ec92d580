"""``nnmap``: plan, run and compare neural-network mappings on a simulated Epiphany chip.

Every error the tools raise on purpose becomes one line on stderr and exit status 2,
Ctrl-C the line ``interrupted`` and exit status 130, SIGTERM ``terminated`` and 143. Every
output path is claimed before any simulation starts and the files are moved into place together at the end, so a
command that fails leaves none of them behind.

The package is the whole command line: this module is the ``nnmap`` command (``main``) and
its mapping subcommands; ``train``, ``rnn`` and ``tune`` are the other subcommands,
``options`` the arguments they share, and ``python -m nnmap.cli`` runs ``main``
(``__main__``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from epiphany_sim import progress
from epiphany_sim.checks import int_arg, number_arg
from epiphany_sim.config import ChipConfig
from epiphany_sim.errors import SimError
from epiphany_sim.exits import exit_status, interrupted
from epiphany_sim.fabric_kernel import needs_compiling
from epiphany_sim.files import OutputFiles, json_text, npy_bytes
from epiphany_sim.helptext import HelpFormatter
from epiphany_sim.mesh import CHAIN_ORDERS
from nnmap.analysis import RANKINGS, rank
from nnmap.capacity import check_capacity, fit_hint
from nnmap.chunks import chunk_rows, run_chunks
from nnmap.cli.options import add_chip_arguments, add_load_argument, chip_from_args, mapping_epilog
from nnmap.cli.rnn import add_rnn_parser, rnn_command
from nnmap.cli.train import add_train_parser, train_command
from nnmap.cli.tune import add_tune_arguments, tune_command
from nnmap.errors import MappingError, TooManyRowsError
from nnmap.lowering.delivery import DELIVERIES
from nnmap.lowering.feed import FEEDS, feed_class
from nnmap.lowering.forward import default_chain
from nnmap.mapping import plan_for
from nnmap.mapping_file import Mapping, load_mapping, mapping_json, mapping_of
from nnmap.model import ACTIVATIONS, Network, parse_sizes, random_inputs, random_network
from nnmap.model_files import load_inputs, load_model
from nnmap.reference import REFERENCE_TOLERANCE, load_reference, reference_figures
from nnmap.report import report_html
from nnmap.run import run
from nnmap.session import faster_load
from nnmap.sparsity import MASK_PATTERNS, sparsify
from nnmap.strategies import STRATEGIES, all_variants, get_strategy
from nnmap.sweep import CONNECT_TIMEOUT_S, DEFAULT_WORKERS, RESULTS_CSV, RESULTS_JSON, SweepOutcome, run_sweep
from nnmap.sweep_spec import DEFAULT_MAX_RUNS, load_spec
from nnmap.text import table
from nnmap.trace import trace_json

DEFAULT_LAYERS = "6,16,4"  # the blog post's example: 6 inputs, 16 hidden nodes, 4 outputs
DEFAULT_STRATEGY = "partitioned"
DEFAULT_ACTIVATION = "sigmoid"
DEFAULT_RANKING = "total"  # what a Parallella owner waits for: loading, computing and reading back
Variant = tuple[str, str | None]  # a strategy and its broadcast (None: the strategy's own)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"formatter_class": HelpFormatter, **kwargs})

    def error(self, message: str) -> NoReturn:
        # raised, not exited: ``main`` turns it into the same one line and status 2 as any error
        raise SimError(message)


def _common(p: argparse.ArgumentParser) -> None:
    add_chip_arguments(p)
    progress.add_quiet_argument(p)
    p.add_argument("--layers", default=None, help=f"layer sizes, inputs first (default {DEFAULT_LAYERS})")
    p.add_argument(
        "--model",
        metavar="FILE",
        help="the network instead of --layers: an .npz of W0,b0,W1,b1,... and activations, or an .onnx file",
    )
    for option, choices in (("--hidden-activation", ACTIVATIONS[:-1]), ("--output-activation", ACTIVATIONS)):
        p.add_argument(option, choices=choices, help=f"of the random network (default {DEFAULT_ACTIVATION})")
    p.add_argument("--seed", type=int_arg(0), default=0, help="seed of random weights, masks and inputs (default 0)")
    p.add_argument(
        "--sparsity",
        type=number_arg(0.0, 1.0, high_open=True),
        metavar="S",
        help="drop this fraction of the connections of every layer of --layers (0 <= S < 1): a sparse network",
    )
    p.add_argument(
        "--sparse-pattern",
        choices=list(MASK_PATTERNS),
        help="which connections --sparsity keeps (default random)",
    )
    p.add_argument(
        "--inputs", metavar="FILE.npy", help="inputs of shape (rows, n_in); more rows than fit run in chunks"
    )
    p.add_argument("--batch", type=int_arg(1), help="random input samples instead of --inputs (default 1)")
    p.add_argument(
        "--feed",
        choices=list(FEEDS),
        help="preload: every input loaded before the compute phase (default); "
        "host: the host streams the samples in during it, into three rows per core",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnmap", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('epiphany-nnmap')}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    mapping = mapping_epilog()
    p_plan = sub.add_parser("plan", help="print each core's products, outputs, partial sums and SRAM", epilog=mapping)
    p_run = sub.add_parser("run", help="simulate one strategy and validate it against numpy", epilog=mapping)
    p_cmp = sub.add_parser("compare", help="run several strategies on the same network and inputs", epilog=mapping)
    p_tune = sub.add_parser(
        "tune", help="estimate many mappings, simulate the best and write the fastest as a plan file", epilog=mapping
    )
    for p in (p_plan, p_run, p_cmp, p_tune):
        _common(p)
    add_tune_arguments(p_tune)
    for p in (p_plan, p_run):
        p.add_argument(
            "--strategy",
            type=strategy_name,
            metavar="NAME",
            help=f"mapping strategy: one of {', '.join(STRATEGIES)}; one per layer joined by '+' "
            f"(partitioned+node-per-core); or pipeline=W1+W2+... to share its groups by these weights "
            f"(default {DEFAULT_STRATEGY})",
        )
        p.add_argument(
            "--broadcast",
            default=None,
            choices=list(DELIVERIES),
            help="how hidden values reach the cores that read them (default: the strategy's own)",
        )

    p_plan.add_argument(
        "--save", metavar="FILE.json", help="write the mapping as a plan file, which run --plan replays exactly"
    )
    p_run.add_argument(
        "--plan",
        metavar="FILE.json",
        help="replay the mapping of a plan file (plan --save): its chip, avoided cores, strategy, broadcast, feed, "
        "load and chain of cores, on the network of --layers or --model",
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
    p_cmp.add_argument(
        "--rank-by",
        default=DEFAULT_RANKING,
        choices=list(RANKINGS),
        help="the figure the table is sorted by, fastest first and marked *: "
        + "; ".join(
            f"{name}: {r.meaning}" + (" (default)" if name == DEFAULT_RANKING else "") for name, r in RANKINGS.items()
        ),
    )
    p_cmp.add_argument(
        "--outputs",
        metavar="DIR",
        help="save each run's simulated outputs into DIR (created if missing) as STRATEGY-BROADCAST.npy",
    )
    for p in (p_plan, p_run, p_cmp, p_tune):
        add_load_argument(p)
        p.add_argument(
            "--chain-order",
            choices=list(CHAIN_ORDERS),
            help="the order the chain of cores takes over the mesh: rows, a snake along the rows (default); "
            "columns, a snake along the columns; hilbert, a Hilbert curve, whose first cores fill a square"
            + ("; tune tries every order unless one is given" if p is p_tune else ""),
        )
    for p in (p_run, p_cmp):
        p.add_argument("--plots", metavar="DIR", help="write PNG figures into DIR (created if missing)")
        p.add_argument(
            "--reference",
            metavar="FILE.npy",
            help="the outputs you expect, (rows, n_out) for --inputs' rows (such as scikit-learn's predict_proba): "
            "the simulated outputs are validated against them too",
        )
        p.add_argument(
            "--reference-tolerance",
            type=number_arg(0, low_open=True),
            metavar="TOL",
            help=f"largest difference from --reference, absolute up to 1 and relative above "
            f"(default {REFERENCE_TOLERANCE:g}: float32 on the chip against a float64 reference)",
        )
    p_sweep = sub.add_parser("sweep", help="run a grid of chips, networks, strategies and batches on Dask")
    p_sweep.add_argument("--spec", metavar="FILE.toml", required=True, help="the grid (see nnmap/sweep_spec.py)")
    p_sweep.add_argument("--out", metavar="DIR", required=True, help="results.csv, results.json and figures go here")
    p_sweep.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (default: a local cluster)")
    p_sweep.add_argument("--resume", action="store_true", help="skip the runs DIR already records")
    p_sweep.add_argument(
        "--workers", type=int_arg(1), help=f"local cluster worker processes (default {DEFAULT_WORKERS})"
    )
    p_sweep.add_argument(
        "--max-runs",
        type=int_arg(1),
        default=DEFAULT_MAX_RUNS,
        metavar="N",
        help=f"refuse a grid of more runs than this (default {DEFAULT_MAX_RUNS})",
    )
    p_sweep.add_argument(
        "--connect-timeout",
        type=number_arg(0, low_open=True),
        default=CONNECT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to try reaching --scheduler (default {CONNECT_TIMEOUT_S:g})",
    )
    progress.add_quiet_argument(p_sweep)
    add_train_parser(sub)
    add_rnn_parser(sub)
    return parser


def _network(args: argparse.Namespace, chip: ChipConfig) -> Network:
    """The network of ``--model`` or ``--layers``, its sizes checked against the chip before it is allocated."""
    if args.model and args.layers is not None:
        raise SimError("give either --model or --layers, not both")
    if args.model and (args.hidden_activation or args.output_activation):
        raise SimError("--hidden-activation and --output-activation shape a random network: the model has its own")
    if args.sparse_pattern and args.sparsity is None:
        raise SimError("--sparse-pattern chooses the connections --sparsity keeps: give --sparsity too")
    if args.model and args.sparsity is not None:
        raise SimError(
            "--sparsity draws a random sparse network: use it with --layers (a model's masks are M0, M1, ...)"
        )
    if args.inputs and args.batch is not None:
        raise SimError("give either --inputs or --batch, not both")
    batch = args.batch or 1
    held = feed_class(args.feed).held(batch)
    fits = partial(check_capacity, chip, batch=batch, hint=fit_hint(chip, batch), error=MappingError, held=held)
    if args.model:
        return load_model(args.model, fits)
    sizes = parse_sizes(DEFAULT_LAYERS if args.layers is None else args.layers)
    fits(sizes, density=1.0 - (args.sparsity or 0.0))
    hidden, output = args.hidden_activation or DEFAULT_ACTIVATION, args.output_activation or DEFAULT_ACTIVATION
    net = random_network(sizes, hidden, output, args.seed)
    if args.sparsity is None:
        return net
    return sparsify(net, args.sparsity, args.sparse_pattern or "random", args.seed)


def _inputs(args: argparse.Namespace, net: Network) -> np.ndarray:
    if args.inputs:
        return load_inputs(args.inputs, net.sizes[0])
    return random_inputs(net, args.batch or 1, args.seed)


def _reference(args: argparse.Namespace, net: Network, x: np.ndarray) -> np.ndarray | None:
    """The expected outputs of ``--reference``, checked against the run's rows before anything runs."""
    if args.reference_tolerance is not None and not args.reference:
        raise SimError("--reference-tolerance is the tolerance of --reference: give --reference too")
    return load_reference(args.reference, len(x), net.sizes[-1]) if args.reference else None


def _with_reference(metrics: dict[str, Any], outputs: np.ndarray, args: argparse.Namespace, expected: Any) -> None:
    """Add the comparison with ``--reference`` (if given) to a run's ``metrics``."""
    if expected is not None:
        tolerance = args.reference_tolerance or REFERENCE_TOLERANCE
        metrics["reference"] = reference_figures(outputs, expected, args.reference, tolerance)


def _validated(metrics: dict[str, Any]) -> bool:
    """Whether a run matched numpy and, if given, the reference."""
    return bool(metrics["validated"] and metrics.get("reference", {"validated": True})["validated"])


def _output_name(strategy: str, broadcast: str | None) -> str:
    """The file ``compare --outputs`` saves a variant's outputs in: ``STRATEGY-BROADCAST.npy``."""
    return f"{strategy}-{broadcast or get_strategy(strategy).default_broadcast}.npy"


def _rows_per_run(args: argparse.Namespace, chip: ChipConfig, net: Network, x: np.ndarray, variant: Variant) -> int:
    """The rows one run takes: as many as fit for ``--inputs``; all of them for ``--batch``, the batch asked for."""
    return chunk_rows(chip, net, *variant, len(x), args.feed, args.chain) if args.inputs else len(x)


def strategy_name(text: str) -> str:
    """``--strategy``'s value, if it names a strategy (``nnmap.strategies.get_strategy``)."""
    try:
        return get_strategy(text).name
    except MappingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _variants(text: str) -> list[Variant]:
    if text == "all":
        return list(all_variants())
    out: list[Variant] = []
    for item in text.split(","):
        name, _, bc = item.strip().partition(":")
        get_strategy(name)
        if bc and bc not in DELIVERIES:
            raise SimError(f"unknown broadcast {bc!r} in --strategies: use one of {', '.join(DELIVERIES)}")
        out.append((name, bc or None))
    return out


def _summary(m: dict[str, Any]) -> str:
    util = m["core_utilisation"]
    speedup = f"{m['speedup']:.2f}x" if m["speedup"] else "n/a"
    return "\n".join(
        [
            f"{m['strategy']} (broadcast {m['broadcast']}) of {m['layers']} on {m['chip']}, batch {m['batch']}, "
            f"kernels {m['kernels']}",
            f"  setup {m['setup_cycles']:.0f} cycles, compute {m['compute_cycles']:.0f}, readback "
            f"{m['readback_cycles']:.0f}; total {m['total_cycles']:.0f} cycles = {m['time_us']:.2f} us",
            f"  per sample with the weights resident {m['per_sample_cycles']:.0f} cycles = "
            f"{m['per_sample_time_us']:.2f} us (the parameters took {m['parameters_cycles']:.0f} cycles to load)",
            f"  single core {m['single_core_cycles']:.0f} compute cycles; speedup {speedup}",
            f"  core utilisation mean {np.mean(util):.0%} (min {min(util):.0%}, max {max(util):.0%}); "
            f"busiest mesh link {m['link_max_utilisation']:.0%}",
            f"  {m['messages']} messages; {m['bytes_on_chip']} bytes on chip, {m['bytes_off_chip']} off chip",
            f"  {m['edges_cut']} connections cut; {m['hop_bytes']} bytes x hops in the compute phase; "
            f"multiply-adds of the busiest core {m['imbalance']:.2f}x the mean",
            f"  validated against numpy: {'yes' if m['validated'] else 'NO'} (max abs error {m['max_abs_error']:.2g})",
        ]
        + ([_reference_line(m["reference"])] if "reference" in m else [])
        + ([_stream_line(m)] if "fill_cycles" in m else [])
    )


def _reference_line(r: dict[str, Any]) -> str:
    return (
        f"  validated against {r['file']}: {'yes' if r['validated'] else 'NO'} "
        f"(max abs error {r['max_abs_error']:.2g}, tolerance {r['tolerance']:g})"
    )


def _stream_line(m: dict[str, Any]) -> str:
    steady = m["steady_cycles_per_sample"]
    per_sample = f"{steady:.0f} cycles per sample in the steady state" if steady is not None else "one sample"
    cores = "+".join(map(str, m["layer_cores"]))
    return (
        f"  stream over {cores} cores by layer: fill {m['fill_cycles']:.0f} cycles, {per_sample}, "
        f"drain {m['drain_cycles']:.0f}"
    )


_TABLE = [
    ("setup cyc", lambda m: f"{m['setup_cycles']:.0f}"),
    ("compute cyc", lambda m: f"{m['compute_cycles']:.0f}"),
    ("readback cyc", lambda m: f"{m['readback_cycles']:.0f}"),
    ("total cyc", lambda m: f"{m['total_cycles']:.0f}"),
    ("per-sample cyc", lambda m: f"{m['per_sample_cycles']:.0f}"),
    ("speedup", lambda m: f"{m['speedup']:.2f}" if m["speedup"] else "-"),
    ("util mean", lambda m: f"{np.mean(m['core_utilisation']):.0%}"),
    ("link max", lambda m: f"{m['link_max_utilisation']:.0%}"),
    ("on-chip B", lambda m: str(m["bytes_on_chip"])),
    ("off-chip B", lambda m: str(m["bytes_off_chip"])),
    ("messages", lambda m: str(m["messages"])),
    ("cut edges", lambda m: str(m["edges_cut"])),
    ("hop x B", lambda m: str(m["hop_bytes"])),
    ("imbalance", lambda m: f"{m['imbalance']:.2f}"),
    ("valid", lambda m: "yes" if m["validated"] else "NO"),
]
"""The columns of ``nnmap compare``'s table after its rank, strategy and broadcast."""


def _table(rows: list[dict[str, Any]]) -> str:
    """The ranked runs (``nnmap.analysis.rank``) as a table, the fastest's rank marked ``*``; a column
    for the user's reference when the runs were checked against one."""
    checked = "reference" in rows[0]
    header = ["rank", "strategy", "broadcast", *(name for name, _ in _TABLE)] + (["vs reference"] if checked else [])
    lines = [
        [f"{m['rank']} *" if m["rank"] == 1 else str(m["rank"]), m["strategy"], m["broadcast"]]
        + [cell(m) for _, cell in _TABLE]
        + (["yes" if m["reference"]["validated"] else "NO"] if checked else [])
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
        lines.append("  stopped by Ctrl-C: run again with --resume to finish")
    return "\n".join(lines)


def _sweep(args: argparse.Namespace) -> int:
    if args.scheduler and args.workers is not None:
        raise SimError("--workers sizes the local cluster: drop it when using --scheduler")
    spec = load_spec(args.spec, args.max_runs)
    workers = DEFAULT_WORKERS if args.workers is None else args.workers

    def announce(todo: int, recorded: int) -> None:
        before = f", {recorded} recorded before" if recorded else ""
        print(f"sweep: {len(spec.runs)} runs in {args.spec}{before}; {todo} to run", flush=True)
        if todo and needs_compiling():  # each worker compiles the fabric before its first run
            progress.compiling()

    outcome = run_sweep(spec, args.out, args.scheduler, args.resume, workers, args.connect_timeout, on_start=announce)
    written = [Path(args.out) / RESULTS_CSV, Path(args.out) / RESULTS_JSON]
    if not outcome.interrupted:
        from nnmap.plots import save_figures, sweep_figures  # matplotlib only when drawing

        written += save_figures(sweep_figures(outcome.rows), args.out)
    print(_sweep_summary(args.out, outcome))
    progress.wrote(written)
    if outcome.interrupted:
        return interrupted("nnmap")
    return 1 if outcome.lost or outcome.not_validated else 0


def _run(args: argparse.Namespace, chip: ChipConfig, net: Network, x: np.ndarray) -> int:
    rows = _rows_per_run(args, chip, net, x, (args.strategy, args.broadcast))
    visual = bool(args.plots or args.trace or args.report)
    if rows < len(x) and visual:
        raise SimError(
            f"--plots, --trace and --report show one run, but the {len(x)} input rows fit {chip.name}'s SRAM "
            f"only in chunks of {rows}: give at most {rows} rows, or drop those options"
        )
    expected = _reference(args, net, x)
    with OutputFiles() as out:
        json_path = out.file(args.json, "--json")
        outputs_path = out.file(args.outputs, "--outputs")
        trace_path = out.file(args.trace, "--trace")
        report_path = out.file(args.report, "--report")
        plots = out.directory(args.plots)
        if rows < len(x):
            chunked = run_chunks(
                chip,
                net,
                args.strategy,
                args.broadcast,
                x,
                rows,
                progress=True,
                feed=args.feed,
                load=args.load,
                chain=args.chain,
            )
            metrics, outputs = chunked.metrics, chunked.outputs
            _with_reference(metrics, outputs, args, expected)
            note = f"  {len(x)} input rows run in {chunked.chunks} chunks of up to {rows} rows that fit the SRAM"
        else:
            result = run(
                chip,
                net,
                args.strategy,
                x,
                args.broadcast,
                trace=visual,
                progress=True,
                feed=args.feed,
                load=args.load,
                chain=args.chain,
            )
            metrics, outputs, note = result.metrics, result.outputs, ""
            _with_reference(metrics, outputs, args, expected)
            figures: dict[str, bytes] = {}
            if plots or report_path:
                from nnmap.plots import run_figures  # matplotlib only when drawing

                figures = run_figures(result)
            if trace_path:
                out.write(trace_path, trace_json(result))
            if report_path:
                out.write(report_path, report_html(metrics, figures))
            if plots:
                for name, png in figures.items():
                    out.write(plots / name, png)
        if json_path:
            out.write(json_path, json_text(metrics))
        if outputs_path:
            out.write(outputs_path, npy_bytes(outputs))
    print(_summary(metrics) + (f"\n{note}" if note else ""))
    progress.wrote(out.placed)
    return 0 if _validated(metrics) else 1


def _compare(args: argparse.Namespace, chip: ChipConfig, net: Network, x: np.ndarray) -> int:
    variants = _variants(args.strategies)
    expected = _reference(args, net, x)
    with OutputFiles() as out:
        json_path = out.file(args.json, "--json")
        plots = out.directory(args.plots)
        saved = out.directory(args.outputs)
        if saved:  # each file claimed now, as every other output
            for name in sorted({_output_name(*variant) for variant in variants}):
                out.file(saved / name, "--outputs")
        names = [f"{name}:{bc}" if bc else name for name, bc in variants]
        done = [
            run_chunks(
                chip,
                net,
                name,
                bc,
                x,
                _rows_per_run(args, chip, net, x, (name, bc)),
                feed=args.feed,
                load=args.load,
                chain=args.chain,
            )
            for name, bc in progress.each(variants, "strategies", "runs", names)
        ]
        for d, variant in zip(done, variants, strict=True):
            _with_reference(d.metrics, d.outputs, args, expected)
            if saved:
                out.write(saved / _output_name(*variant), npy_bytes(d.outputs))
        rows = rank([d.metrics for d in done], args.rank_by)
        if plots:
            from nnmap.plots import compare_figures  # matplotlib only when drawing

            for name, png in compare_figures(rows).items():
                out.write(plots / name, png)
        if json_path:
            ranking = {"rank_by": args.rank_by, "rank_figure": RANKINGS[args.rank_by].figure}
            whole = {"chip": chip.name, "kernels": chip.kernels, "layers": net.sizes, "batch": len(x), **ranking}
            out.write(json_path, json_text({**whole, "runs": rows}))
    print(f"network {net.sizes} on {chip.name} ({chip.rows}x{chip.cols}), batch {len(x)}, kernels {chip.kernels}")
    print(_table(rows))
    print(f"  ranked by {RANKINGS[args.rank_by].meaning}, fastest first; * marks the fastest")
    for d in done:
        m = d.metrics
        if d.chunks > 1:
            print(f"  {m['strategy']}:{m['broadcast']}: {len(x)} rows in {d.chunks} chunks of up to {d.rows_per_chunk}")
    progress.wrote(out.placed)
    return 0 if all(_validated(m) for m in rows) else 1


def _plan(args: argparse.Namespace, chip: ChipConfig, net: Network, x: np.ndarray) -> int:
    rows = _rows_per_run(args, chip, net, x, (args.strategy, args.broadcast))
    if rows < len(x):
        print(f"the {len(x)} input rows run in chunks of up to {rows} rows; the plan of one such chunk:")
    plan = plan_for(args.strategy, chip, net, rows, args.broadcast, args.chain, args.feed)
    with OutputFiles() as out:
        save_path = out.file(args.save, "--save")
        if save_path:
            out.write(save_path, mapping_json(mapping_of(plan, args.load or faster_load(chip))))
    print(plan.describe())
    return 0


_PLAN_SETS = (
    ("--chip", "chip"),
    ("--chip-config", "chip_config"),
    ("--kernels", "kernels"),
    ("--avoid-cores", "avoid_cores"),
    ("--strategy", "strategy"),
    ("--broadcast", "broadcast"),
    ("--feed", "feed"),
    ("--load", "load"),
    ("--chain-order", "chain_order"),
)
"""The options a plan file sets, with their ``args`` names: ``run --plan`` refuses them."""


def _mapping(args: argparse.Namespace) -> tuple[ChipConfig, Mapping | None]:
    """The chip, and the mapping of ``--plan`` if given, with ``args``' mapping options filled in from it or
    their defaults (``args.chain``: the plan file's cores, else ``None``, the snake)."""
    args.chain = None
    if getattr(args, "plan", None) is None:
        args.feed = args.feed or "preload"
        if hasattr(args, "strategy"):
            args.strategy = args.strategy or DEFAULT_STRATEGY
        chip = chip_from_args(args)
        if args.chain_order and args.command != "tune":
            args.chain = default_chain(chip, args.chain_order)
        return chip, None
    given = [flag for flag, name in _PLAN_SETS if getattr(args, name) is not None]
    if given:
        raise SimError(f"--plan {args.plan} sets the chip and the mapping: drop {', '.join(given)}")
    mapping = load_mapping(args.plan)
    args.strategy, args.broadcast, args.feed, args.load = (
        mapping.strategy,
        mapping.broadcast,
        mapping.feed,
        mapping.load,
    )
    args.chain = mapping.chain
    return mapping.chip, mapping


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    with progress.command(f"nnmap {args.command}", args.quiet):
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    if args.command == "train":
        return train_command(args)
    if args.command == "rnn":
        return rnn_command(args)
    if args.command == "sweep":
        return _sweep(args)
    feeds = (args.feed,) if getattr(args, "feed", None) else None  # tune: the feeds to try (None: every one)
    chip, mapping = _mapping(args)
    net = _network(args, chip)
    if mapping is not None:
        mapping.check_network(net)
    x = _inputs(args, net)
    if args.command == "tune":
        return tune_command(args, chip, net, x, feeds)
    command = {"plan": _plan, "run": _run, "compare": _compare}[args.command]
    try:
        return command(args, chip, net, x)
    except TooManyRowsError as exc:  # only --batch gets here (--inputs runs in chunks): the layout's refusal names it
        raise exc.layout_error from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nnmap`` console script: 0, 1 (outputs not validated, target missed), 2, 130 or 143."""
    return exit_status("nnmap", lambda: _main(argv))
