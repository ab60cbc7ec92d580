"""The ``epiphany-sim`` command: show a chip, run synthetic traffic on it, run the Parallella microbenchmarks.

    epiphany-sim info --chip e16 [--chip-config FILE.toml]
    epiphany-sim traffic --chip e64 --pattern uniform --rate 0.2 --cycles 20000 --seed 1 --json FILE
                         [--warmup N] [--drain N] [--trace FILE.json [--trace-window START:END | --trace-bin N]]
    epiphany-sim traffic --chip e64 --pattern uniform --sweep 0.01:0.6:0.05 --plot FILE.png [--json FILE]
    epiphany-sim microbench dma|dma-read|dram-write|dram-read|host-write|host-read|memcpy|roundtrip|contention|matmul
                         --chip e16 [--kernels asm|c] [--size N] [--target sram|dram] [--direction to|from]
                         [--hops 1,2,3] [--streams N] [--n N] [--json FILE] [--plot FILE.png]

Any error, from a bad argument to an impossible chip, is one line on stderr and exit
status 2; Ctrl-C is the line ``interrupted`` and exit status 130, SIGTERM ``terminated`` and
143. Either way no output file is written: every output is claimed before the run and moved
into place at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any, NoReturn

from epiphany_sim import microbench, progress
from epiphany_sim import trace as chip_trace
from epiphany_sim.checks import int_arg, number_arg
from epiphany_sim.chip import Chip
from epiphany_sim.config import DEFAULT_KERNELS, KERNEL_PROFILES, ChipConfig, load_chip
from epiphany_sim.errors import SimError
from epiphany_sim.exits import exit_status
from epiphany_sim.fabric import TraceOptions
from epiphany_sim.files import OutputFiles, json_text
from epiphany_sim.helptext import HelpFormatter, choices_epilog, summary
from epiphany_sim.plots import dma_bandwidth_figure, load_latency_figure
from epiphany_sim.traffic import TRAFFIC_PATTERNS, TrafficResult, TrafficSpec, run_traffic, sweep, trace_events

DEFAULT_TRACE_BIN = 100
MAX_SWEEP_RATES = 1000

# Units of fields whose name does not end in one (``_hz``, ``_bytes``, ``_cycles``, ...).
_COUNT_UNITS = {
    "rows": "cores",
    "cols": "cores",
    "sram_banks": "banks",
    "dma_channels": "channels",
    "dma_outstanding_reads": "read requests in flight per DMA channel",
    "loop_unroll": "elements per trip of a compute loop",
    "c_loop_unroll": "elements per trip of a compiled loop",
    "router_fifo_depth": "transactions per router input",
    "first_row": "row of the global address map",
    "first_col": "column of the global address map",
    "dram_base_address": "Epiphany address",
}


_MICROBENCH_OPTIONS = {
    "size": ("dma", "dma-read", "dram-write", "dram-read", "host-write", "host-read", "memcpy"),
    "target": ("host-write", "host-read", "memcpy"),
    "direction": ("memcpy",),
    "hops": ("roundtrip",),
    "streams": ("contention",),
    "n": ("matmul",),
    "plot": ("dma",),
}


class UsageError(SimError):
    """The command line is malformed."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of printing usage and exiting, and names every default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{"formatter_class": HelpFormatter, **kwargs})

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def unit_of(field: str) -> str:
    """The unit of a ``ChipConfig`` field, read from its name."""
    if field in _COUNT_UNITS:
        return _COUNT_UNITS[field]
    per = re.fullmatch(r"(?:\w+_)?(bytes|cycles)_per_(\w+)", field)
    if per:
        return f"{per.group(1)}/{per.group(2)}"
    for suffix, unit in (("_hz", "Hz"), ("_bytes", "bytes"), ("_cycles", "cycles")):
        if field.endswith(suffix):
            return unit
    return ""


def describe_chip(chip: ChipConfig) -> str:
    """Every field of ``chip`` with its unit, then the quantities derived from them."""
    lines = [f"chip {chip.name}: {chip.rows}x{chip.cols} mesh, {chip.n_cores} cores"]
    for field in dataclasses.fields(chip):
        value = getattr(chip, field.name)
        if field.name.endswith("_address"):
            value = f"0x{value:08x}"
        elif isinstance(value, str):
            value = repr(value)
        elif field.name == "avoid_cores":
            value = ";".join(f"{r},{c}" for r, c in value) or "none"
        lines.append(f"  {field.name:34} {value!s:>12}  {unit_of(field.name)}".rstrip())
    derived = [
        ("cycle_ns", f"{chip.cycle_ns:.4g}", "ns"),
        ("bank_bytes", chip.bank_bytes, "bytes"),
        ("data_bytes", chip.data_bytes, "bytes per core after code"),
        ("elink_write_cycles_per_transaction", f"{chip.elink_write_cycles_per_transaction:.4g}", "cycles/transaction"),
        ("elink_write_packet_cycles", f"{chip.elink_write_packet_cycles:.4g}", "cycles/transaction"),
        ("elink_read_cycles_per_request", f"{chip.elink_read_cycles_per_request:.4g}", "cycles/request"),
        (
            "elink_read_burst_cycles_per_request",
            f"{chip.elink_read_burst_cycles_per_request:.4g}",
            "cycles/request",
        ),
    ]
    lines.append("derived:")
    lines += [f"  {name:34} {value!s:>12}  {unit}" for name, value, unit in derived]
    return "\n".join(lines)


def describe_traffic(result: TrafficResult) -> str:
    """A short human summary of a traffic run."""
    if result.saturated:
        latency = (
            f"  latency   not measured: saturated ({result.delivered_fraction:.1%} of the window's "
            f"transactions arrived by the end of the drain)"
        )
    else:
        latency = (
            f"  latency   avg {result.avg_latency_cycles:.2f}  p99 {result.p99_latency_cycles:.2f}  "
            f"max {result.max_latency_cycles:.2f} cycles (zero load {result.zero_load_latency_cycles:.2f})"
        )
    return "\n".join(
        [
            f"{result.pattern} traffic on {result.chip} ({result.rows}x{result.cols}), {result.cycles}-cycle window "
            f"after {result.warmup_cycles} of warm-up, {result.drain_cycles} of drain, seed {result.seed}",
            f"  offered   {result.offered_rate:.4f} transactions/core/cycle (injected {result.injected_rate:.4f})",
            f"  accepted  {result.accepted_rate:.4f} transactions/core/cycle"
            + ("  SATURATED" if result.saturated else ""),
            latency,
            f"  hops      avg {result.avg_hops:.3f}; {result.transactions} transactions; "
            f"busiest link {result.max_link_utilisation:.3f} utilised",
        ]
    )


def _parser() -> _Parser:
    parser = _Parser(prog="epiphany-sim", description="A transaction-level simulator of the Adapteva Epiphany mesh.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('epiphany-nnmap')}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    chip_args = _Parser(add_help=False)
    chip_args.add_argument("--chip", default="e16", help="e16, e64, epiphany-v or RxC (default e16)")
    chip_args.add_argument("--chip-config", metavar="FILE.toml", help="TOML file of chip field overrides")
    profiles = "; ".join(f"{name}: {line}" for name, line in KERNEL_PROFILES.items())
    chip_args.add_argument(
        "--kernels",
        choices=list(KERNEL_PROFILES),
        help=f"how compute kernels are priced. {profiles} (default: the chip config's, else {DEFAULT_KERNELS})",
    )
    progress.add_quiet_argument(chip_args)
    commands.add_parser("info", parents=[chip_args], help="print every field of a chip with its unit")
    patterns = choices_epilog("patterns", {name: summary(cls) for name, cls in TRAFFIC_PATTERNS.items()})
    traffic = commands.add_parser(
        "traffic", parents=[chip_args], help="run synthetic traffic and report latency", epilog=patterns
    )
    traffic.add_argument("--pattern", default="uniform", choices=list(TRAFFIC_PATTERNS), help="where transactions go")
    traffic.add_argument(
        "--rate",
        type=number_arg(0, 1, low_open=True),
        default=0.1,
        help="offered transactions per core per cycle, (0, 1]",
    )
    traffic.add_argument("--cycles", type=int_arg(1), default=10_000, help="measurement window (default 10000)")
    traffic.add_argument(
        "--warmup", type=int_arg(0), default=1_000, help="cycles of traffic before the window (default 1000)"
    )
    traffic.add_argument(
        "--drain",
        type=int_arg(0),
        default=2_000,
        help="cycles of traffic after the window, for its transactions to arrive (default 2000)",
    )
    traffic.add_argument("--seed", type=int_arg(0), default=0, help="seed of the random traffic (default 0)")
    traffic.add_argument("--hotspot", metavar="ROW,COL", type=_coord, help="hotspot core (default: the centre)")
    traffic.add_argument(
        "--hotspot-fraction", type=number_arg(0, 1), default=0.1, help="share of traffic to the hotspot, [0, 1]"
    )
    traffic.add_argument("--json", metavar="FILE", help="also write every measure, per-link utilisation included")
    traffic.add_argument(
        "--trace",
        metavar="FILE.json",
        help="write a Chrome trace-event file (Perfetto) of the run: by default each link's "
        f"utilisation per {DEFAULT_TRACE_BIN}-cycle bin (about 9 MB for 20,000 cycles on 8x8)",
    )
    traffic.add_argument(
        "--trace-window",
        metavar="START:END",
        type=_window,
        help="with --trace: every transaction on every link between these cycles instead (about "
        "2 MB per 100 cycles on 8x8 at rate 0.2)",
    )
    traffic.add_argument("--trace-bin", metavar="N", type=int_arg(1), help="with --trace: the bin width in cycles")
    traffic.add_argument(
        "--sweep",
        metavar="LO:HI:STEP",
        type=_rates,
        help=f"one run per offered rate from LO to HI (inclusive) by STEP, instead of --rate "
        f"(at most {MAX_SWEEP_RATES} rates)",
    )
    traffic.add_argument("--plot", metavar="FILE.png", help="with --sweep: latency and accepted against offered load")
    bench = commands.add_parser(
        "microbench",
        parents=[chip_args],
        help="run a benchmark Parallella owners ran on their boards",
        epilog=choices_epilog("kinds", microbench.DESCRIPTIONS),
    )
    bench.add_argument("kind", choices=microbench.KINDS, help="the benchmark, one of the kinds below")
    bench.add_argument(
        "--size",
        type=int_arg(1),
        help="dma, dma-read, dram-write, dram-read, host-write, host-read, memcpy: bytes moved (default 8192)",
    )
    bench.add_argument(
        "--target",
        choices=microbench.TARGETS,
        help="host-write, host-read, memcpy: a core's SRAM (core (0, 0) for the host, its east neighbour for "
        "memcpy) or the DRAM window (default sram)",
    )
    bench.add_argument(
        "--direction",
        choices=microbench.DIRECTIONS,
        help="memcpy: core (0, 0) copies to the target or from it (default to)",
    )
    bench.add_argument("--hops", type=_hops, help="roundtrip: distances such as 1,2,3 (default 1 to 6)")
    bench.add_argument("--streams", type=int_arg(1), help="contention: streams crossing the measured one (default 3)")
    bench.add_argument(
        "--n", type=int_arg(1), help="matmul: matrix size, a multiple of the mesh side (default 32 per core)"
    )
    bench.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    bench.add_argument("--plot", metavar="FILE.png", help="dma: bandwidth against transfer size")
    return parser


def _rates(text: str) -> list[float]:
    """The rates of ``LO:HI:STEP``: LO, LO + STEP, ... up to HI inclusive."""
    try:
        lo, hi, step = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO:HI:STEP such as 0.01:0.6:0.05, got {text!r}") from None
    if not (0 < lo <= hi <= 1 and step > 0):
        raise argparse.ArgumentTypeError(f"need 0 < LO <= HI <= 1 and STEP > 0, got {text!r}")
    count = math.floor((hi - lo) / step + 1e-9) + 1
    if count > MAX_SWEEP_RATES:
        raise argparse.ArgumentTypeError(f"{text!r} gives {count} rates, over {MAX_SWEEP_RATES}: use a larger STEP")
    return [round(lo + k * step, 10) for k in range(count)]


def _window(text: str) -> tuple[float, float]:
    """The cycles of ``START:END``."""
    try:
        start, end = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END such as 5000:5200, got {text!r}") from None
    if not (0 <= start < end and math.isfinite(end)):
        raise argparse.ArgumentTypeError(f"need 0 <= START < END, got {text!r}")
    return start, end


def _hops(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected distances such as 1,2,3, got {text!r}") from None


def _coord(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected ROW,COL such as 2,3, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    with progress.command(f"epiphany-sim {args.command}", args.quiet):
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    chip = load_chip(args.chip, args.chip_config, args.kernels)
    if args.command == "info":
        print(describe_chip(chip))
        return 0
    if args.command == "microbench":
        return _microbench(chip, args)
    if args.plot and not args.sweep:
        raise UsageError("--plot draws a load sweep: give --sweep LO:HI:STEP too")
    if args.trace and args.sweep:
        raise UsageError("--trace records one run: drop --sweep, or --trace")
    if (args.trace_window or args.trace_bin is not None) and not args.trace:
        raise UsageError("--trace-window and --trace-bin shape the trace: give --trace FILE.json too")
    if args.trace_window and args.trace_bin is not None:
        raise UsageError("--trace-window keeps every transaction, --trace-bin sums them per bin: choose one")
    spec = TrafficSpec(
        args.pattern,
        args.rate,
        args.cycles,
        args.seed,
        args.hotspot,
        args.hotspot_fraction,
        warmup_cycles=args.warmup,
        drain_cycles=args.drain,
    )
    if args.sweep:
        return _sweep(chip, spec, args.sweep, args.json, args.plot)
    with OutputFiles() as out:
        json_path = out.file(args.json, "--json")
        trace_path = out.file(args.trace, "--trace")
        options = None
        if args.trace:
            options = (
                TraceOptions(window=args.trace_window)
                if args.trace_window
                else TraceOptions(window=None, bin_cycles=args.trace_bin or DEFAULT_TRACE_BIN)
            )
        sim = Chip(chip, trace=options or False, record=True)
        progress.phase(f"{spec.pattern} traffic at rate {spec.rate:g} on {chip.name}, {spec.cycles} cycles")
        result = run_traffic(sim, spec)
        if json_path:
            out.write(json_path, json_text(result.to_dict()))
        if trace_path:
            metadata = {"chip": chip.name, "pattern": spec.pattern, "rate": spec.rate}
            out.write(trace_path, chip_trace.trace_json(trace_events(sim), metadata))
    print(describe_traffic(result))
    progress.wrote(out.placed)
    return 0


def _microbench(chip: ChipConfig, args: argparse.Namespace) -> int:
    """Run one microbenchmark, print its figures as a short table, write its JSON and plot."""
    for option, kinds in _MICROBENCH_OPTIONS.items():
        if getattr(args, option) is not None and args.kind not in kinds:
            raise UsageError(f"--{option} applies to {', '.join(kinds)} only, not {args.kind}")
    with OutputFiles() as out:
        json_path = out.file(args.json, "--json")
        plot_path = out.file(args.plot, "--plot")
        progress.phase(f"{args.kind} on {chip.name}")
        result = _bench_result(chip, args)
        if json_path:
            out.write(json_path, json_text(result))
        if plot_path:
            out.write(plot_path, dma_bandwidth_figure(result["points"], chip.name))
    print(describe_microbench(result))
    progress.wrote(out.placed)
    return 0


def _bench_result(chip: ChipConfig, args: argparse.Namespace) -> dict:
    """The figures of the microbenchmark ``args.kind`` asks for."""
    size = args.size if args.size is not None else 8192
    if args.kind in microbench.SIZED:
        result = microbench.SIZED[args.kind](chip, size)
        if args.plot:
            result["points"] = microbench.dma_sweep(chip, [s for s in microbench.DMA_SIZES if s < size] + [size])
    elif args.kind in ("host-write", "host-read"):
        host = microbench.host_write if args.kind == "host-write" else microbench.host_read
        result = host(chip, size, args.target or "sram")
    elif args.kind == "memcpy":
        result = microbench.memcpy(chip, size, args.target or "sram", args.direction or "to")
    elif args.kind == "roundtrip":
        result = microbench.roundtrip(chip, args.hops)
    elif args.kind == "contention":
        result = microbench.contention(chip, args.streams if args.streams is not None else 3)
    else:
        result = microbench.matmul(chip, args.n if args.n is not None else 32 * chip.rows)
    return {"kind": args.kind, "chip": chip.name, "clock_hz": chip.clock_hz, "kernels": chip.kernels, **result}


def describe_microbench(result: dict) -> str:
    """A short table of a microbenchmark's figures."""
    lines = [f"{result['kind']} on {result['chip']} at {result['clock_hz'] / 1e6:g} MHz, kernels {result['kernels']}"]
    if result["kind"] == "roundtrip":
        lines += [f"  {'hops':>5} {'cycles':>9}"] + [f"  {p['hops']:>5} {p['cycles']:>9.1f}" for p in result["points"]]
        slope = result["cycles_per_hop_each_way"]
        lines.append(
            f"  fit: {result['fixed_cycles']:.1f} cycles + {slope:.2f} per hop each way"
            if math.isfinite(slope)
            else "  fit: needs two distances or more"
        )
        return "\n".join(lines)
    if "points" in result:  # a sweep of sizes, the asked one last
        lines += [f"  {'bytes':>6} {'cycles':>9} {'MB/s':>9}"]
        lines += [f"  {p['bytes']:>6} {p['cycles']:>9.1f} {p['mb_per_s']:>9.1f}" for p in result["points"]]
        return "\n".join(lines)
    for key, value in result.items():
        if key not in ("kind", "chip", "clock_hz", "kernels"):
            lines.append(f"  {key:20} {value:.6g}" if isinstance(value, float) else f"  {key:20} {value}")
    return "\n".join(lines)


def _sweep(chip: ChipConfig, spec: TrafficSpec, rates: list[float], json_arg: str | None, plot_arg: str | None) -> int:
    """Run the load sweep, print one line per rate, write the JSON and the figure."""
    with OutputFiles() as out:
        json_path = out.file(json_arg, "--json")
        plot_path = out.file(plot_arg, "--plot")
        results = sweep(chip, spec, progress.each(rates, "offered rates", "rates", [f"{r:g}" for r in rates]))
        if json_path:
            out.write(json_path, json_text({"sweep": [r.to_dict() for r in results]}))
        if plot_path:
            out.write(plot_path, load_latency_figure(results))
    print(f"{spec.pattern} traffic on {chip.name} ({chip.rows}x{chip.cols}), {spec.cycles}-cycle window per rate")
    print(f"  {'offered':>8} {'accepted':>9} {'avg lat':>9} {'p99 lat':>9}")
    for r in results:
        latency = "saturated" if r.saturated else f"{r.avg_latency_cycles:9.2f} {r.p99_latency_cycles:9.2f}"
        print(f"  {r.offered_rate:8.3f} {r.accepted_rate:9.4f} {latency:>19}")
    progress.wrote(out.placed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; its exit status: 0, 2 after a one-line error, 130 after Ctrl-C, 143 after SIGTERM."""
    return exit_status("epiphany-sim", lambda: _run(argv))


if __name__ == "__main__":
    sys.exit(main())
