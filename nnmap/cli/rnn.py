"""The ``nnmap rnn`` subcommand: a stacked recurrent network over a sequence, serial order against wavefront.

``add_rnn_parser`` adds the subcommand to ``nnmap``'s parser and ``rnn_command`` runs it.
Both orders always run (``nnmap.recurrent.run``): the comparison is what the command is
for. ``--order`` picks the run whose cores the timeline draws and that ``--trace`` and
``--outputs`` record. Every check (chip, network, steps, output paths, that every layer's
group holds its share) happens before the first simulation, and files are written only
once both runs have finished, so a bad argument exits with status 2 and leaves nothing
behind.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from epiphany_sim import progress
from epiphany_sim.checks import int_arg
from epiphany_sim.config import ChipConfig
from epiphany_sim.errors import SimError
from epiphany_sim.files import OutputFiles, json_text, npy_bytes
from nnmap.cli.options import add_chip_arguments, chip_from_args
from nnmap.recurrent.model import RecurrentStack, load_stack, random_sequence, random_stack
from nnmap.recurrent.plan import ORDERS, check_capacity
from nnmap.recurrent.run import RecurrentRuns, run_orders
from nnmap.text import table
from nnmap.trace import phased_trace_json

SHAPE_DEFAULTS = {"layers": 3, "hidden": 32, "inputs_size": 32}
DEFAULT_STEPS = 16
DEFAULT_ORDER = "wavefront"


def add_rnn_parser(sub: Any) -> None:
    """Add ``rnn`` to the subparsers ``sub`` of the ``nnmap`` parser."""
    p = sub.add_parser("rnn", help="a stacked recurrent network in serial and wavefront order, against numpy")
    add_chip_arguments(p)
    progress.add_quiet_argument(p)
    p.add_argument(
        "--layers", type=int_arg(1), metavar="L", help=f"recurrent layers (default {SHAPE_DEFAULTS['layers']})"
    )
    p.add_argument(
        "--hidden", type=int_arg(1), metavar="H", help=f"units per layer (default {SHAPE_DEFAULTS['hidden']})"
    )
    p.add_argument(
        "--inputs-size", type=int_arg(1), metavar="N", help=f"inputs per step (default {SHAPE_DEFAULTS['inputs_size']})"
    )
    p.add_argument(
        "--steps",
        type=int_arg(1),
        default=DEFAULT_STEPS,
        metavar="T",
        help=f"sequence length (default {DEFAULT_STEPS})",
    )
    p.add_argument(
        "--order",
        choices=ORDERS,
        default=DEFAULT_ORDER,
        help=f"the run the timeline, --trace and --outputs show; both always run (default {DEFAULT_ORDER})",
    )
    p.add_argument(
        "--model",
        metavar="FILE.npz",
        help="weights W0,U0,b0,W1,U1,b1,... (instead of --layers, --hidden, --inputs-size)",
    )
    p.add_argument("--seed", type=int_arg(0), default=0, help="seed of random weights and inputs (default 0)")
    p.add_argument("--json", metavar="FILE", help="write both runs' figures and their comparison as JSON")
    p.add_argument("--outputs", metavar="FILE.npy", help="save every simulated state, shape (L, T, H)")
    p.add_argument("--trace", metavar="FILE.json", help="write a Chrome trace-event file (Perfetto)")
    p.add_argument("--plots", metavar="DIR", help="write PNG figures into DIR (created if missing)")


def _stack(args: argparse.Namespace, chip: ChipConfig) -> RecurrentStack:
    """The stack of ``--model`` or of the shape options, checked against the chip before it is allocated."""
    shape = {name: getattr(args, name) for name in SHAPE_DEFAULTS}
    if args.model:
        given = [f"--{name.replace('_', '-')}" for name, value in shape.items() if value is not None]
        if given:
            raise SimError(f"give either --model or {', '.join(given)}, not both (the model sets the shape)")
        stack = load_stack(args.model)
        check_capacity(chip, stack.depth, stack.hidden, stack.n_in, args.steps)
        return stack
    depth, hidden, n_in = (SHAPE_DEFAULTS[name] if value is None else value for name, value in shape.items())
    check_capacity(chip, depth, hidden, n_in, args.steps)
    return random_stack(depth, hidden, n_in, args.seed)


def _summary(result: RecurrentRuns) -> str:
    m = result.metrics
    sizes = ", ".join(str(b - a + 1) for a, b in m["group_chain_positions"])
    header = [
        "order",
        "setup cyc",
        "compute cyc",
        "readback cyc",
        "total cyc",
        "per-sequence cyc",
        "util mean",
        "messages",
        "on-chip B",
        "valid",
    ]
    rows = [
        [
            order,
            f"{m[order]['setup_cycles']:.0f}",
            f"{m[order]['compute_cycles']:.0f}",
            f"{m[order]['readback_cycles']:.0f}",
            f"{m[order]['total_cycles']:.0f}",
            f"{m[order]['per_sample_cycles']:.0f}",
            f"{np.mean(m[order]['core_utilisation']):.0%}",
            str(m[order]["messages"]),
            str(m[order]["bytes_on_chip"]),
            "yes" if m[order]["validated"] else "NO",
        ]
        for order in ORDERS
    ]
    return "\n".join(
        [
            f"{m['layers']} Elman layers of {m['hidden']} units, {m['inputs_size']} inputs, {m['steps']} steps on "
            f"{m['chip']} ({m['mesh'][0]}x{m['mesh'][1]}); the layers' groups have {sizes} cores",
            table(header, rows),
            f"wavefront over serial: {m['speedup']:.2f}x in compute cycles; ideal L*T/(L+T-1) = "
            f"{m['ideal_speedup']:.2f}x; ratio to the ideal {m['ratio_to_ideal']:.2f}",
        ]
    )


def rnn_command(args: argparse.Namespace) -> int:
    """Run ``nnmap rnn``; return the exit status (0, or 1 if a run does not match numpy)."""
    chip = chip_from_args(args)
    with OutputFiles() as out:
        json_path = out.file(args.json, "--json")
        outputs_path = out.file(args.outputs, "--outputs")
        trace_path = out.file(args.trace, "--trace")
        plots = out.directory(args.plots)
        stack = _stack(args, chip)
        x = random_sequence(stack, args.steps, args.seed)
        result = run_orders(chip, stack, x, args.order if trace_path else None, progress=True)
        shown = result.runs[args.order]
        if plots:
            from nnmap.plots import recurrent_figures  # matplotlib only when drawing

            for name, png in recurrent_figures(result, args.order).items():
                out.write(plots / name, png)
        if trace_path:
            what = {
                "chip": chip.name,
                "layers": stack.depth,
                "hidden": stack.hidden,
                "steps": len(x),
                "order": args.order,
            }
            out.write(trace_path, phased_trace_json(shown.chip, shown.phases, what))
        if outputs_path:
            out.write(outputs_path, npy_bytes(shown.states))
        if json_path:
            out.write(json_path, json_text({**result.metrics, "order": args.order}))
    print(_summary(result))
    progress.wrote(out.placed)
    return 0 if result.metrics["validated"] else 1
