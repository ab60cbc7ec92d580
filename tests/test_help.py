"""``--help`` names what every choice is, one line each, and every default.

The names come from the registries, so a strategy, broadcast, feed, sparse pattern,
trainer, traffic pattern or microbenchmark added later must show up here with a line of its
own; the check of the defaults walks every option of every command of both programs.
"""

from __future__ import annotations

import argparse
import re

import pytest

from epiphany_sim import cli as sim_cli
from epiphany_sim import microbench
from epiphany_sim.traffic import TRAFFIC_PATTERNS
from nnmap import cli as nnmap_cli
from nnmap.lowering.delivery import DELIVERIES
from nnmap.lowering.feed import FEEDS
from nnmap.sparsity import MASK_PATTERNS
from nnmap.strategies import STRATEGIES
from nnmap.training.base import TRAINERS

MAPPING = {"strategies": STRATEGIES, "broadcasts": DELIVERIES, "feeds": FEEDS, "sparse patterns": MASK_PATTERNS}


def _help(main, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def _section(text: str, title: str) -> dict[str, str]:
    """The ``name  description`` lines of the epilog section that starts with ``title``."""
    lines = text.split(f"\n{title}")[1].split("\n\n")[0].splitlines()[1:]
    rows = [re.fullmatch(r"  (\S+) {2,}(\S.*)", line) for line in lines]
    assert all(rows), lines
    return {row[1]: row[2] for row in rows if row}


@pytest.mark.parametrize("command", ["plan", "run", "compare"])
def test_every_strategy_broadcast_feed_and_sparse_pattern_has_its_line(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(nnmap_cli.main, [command], capsys)
    for title, registry in MAPPING.items():
        lines = _section(text, title)
        assert list(lines) == list(registry), title
        assert all(len(description.split()) >= 4 for description in lines.values()), lines


def test_every_trainer_has_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _section(_help(nnmap_cli.main, ["train"], capsys), "strategies (trainers)")
    assert list(lines) == list(TRAINERS)
    assert lines["single"] == "Plain SGD on one core"


def test_every_traffic_pattern_and_microbenchmark_has_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    patterns = _section(_help(sim_cli.main, ["traffic"], capsys), "patterns")
    assert list(patterns) == list(TRAFFIC_PATTERNS)
    assert patterns["transpose"] == "Core (r, c) writes to (c, r)"
    kinds = _section(_help(sim_cli.main, ["microbench"], capsys), "kinds")
    assert list(kinds) == list(microbench.KINDS)
    assert all(len(description.split()) >= 4 for description in kinds.values())


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def _option_help(text: str) -> dict[str, str]:
    """Each option's block of ``--help`` text, by its first flag."""
    blocks: dict[str, str] = {}
    flag = None
    for line in text.splitlines():
        start = re.match(r"  (-[-\w]+)", line)
        if start:
            flag = start[1]
            blocks[flag] = line
        elif flag and line.startswith("    "):
            blocks[flag] += " " + line.strip()
        else:
            flag = None
    return blocks


@pytest.mark.parametrize(
    ("program", "command"),
    [("nnmap", name) for name in _commands(nnmap_cli.build_parser())]
    + [("epiphany-sim", name) for name in _commands(sim_cli._parser())],
)
def test_every_option_with_a_default_names_it(program: str, command: str) -> None:
    """``--rate`` among them: its help says ``(default: 0.1)``."""
    parser = _commands(nnmap_cli.build_parser() if program == "nnmap" else sim_cli._parser())[command]
    blocks = _option_help(parser.format_help())
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            flag = action.option_strings[0]
            assert "default" in blocks[flag], (command, flag, blocks[flag])
    if command == "traffic":
        assert "(default: 0.1)" in blocks["--rate"]
