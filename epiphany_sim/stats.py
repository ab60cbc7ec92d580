"""Summaries of what a run recorded: per-core time split, per-link load, conserved totals."""

from __future__ import annotations

from typing import Any

from epiphany_sim.chip import Chip
from epiphany_sim.core import KINDS, Agent
from epiphany_sim.fabric import Fabric
from epiphany_sim.mesh import INJECT_KINDS


def time_split(agent: Agent, start: float, end: float) -> dict[str, float]:
    """Cycles ``agent`` spent in each activity within ``[start, end)``, and the idle rest."""
    split = dict.fromkeys(KINDS, 0.0)
    for act in agent.activities:
        overlap = min(act.end, end) - max(act.start, start)
        if overlap > 0:
            split[act.kind] += overlap
    split["idle"] = max(0.0, (end - start) - sum(split.values()))
    return split


def link_table(fabric: Fabric, elapsed_cycles: float, only_used: bool = True) -> list[dict[str, Any]]:
    """One row per directed link: bytes, busy cycles, utilisation and queueing waits."""
    rows = []
    for link in fabric.links:
        if only_used and not link.transfers:
            continue
        rows.append(
            {
                "link": link.name,
                "kind": link.kind,
                "bytes": link.bytes,
                "transactions": link.transactions,
                "transfers": link.transfers,
                "busy_cycles": link.busy_cycles,
                "utilisation": link.busy_cycles / elapsed_cycles if elapsed_cycles > 0 else 0.0,
                "wait_cycles": link.wait_cycles,
                "max_wait_cycles": link.max_wait_cycles,
            }
        )
    return rows


def on_chip_bytes(fabric: Fabric) -> int:
    """Bytes the cores injected into the meshes (read requests carry none)."""
    return sum(link.bytes for link in fabric.links if link.kind in INJECT_KINDS)


def off_chip_bytes(fabric: Fabric) -> int:
    """Bytes that crossed the eLink, both directions."""
    return sum(link.bytes for link in fabric.links if link.kind.startswith("elink"))


def summary(chip: Chip, start: float = 0.0, end: float | None = None) -> dict[str, Any]:
    """Everything a run recorded, as plain data ready for JSON."""
    end = chip.env.now if end is None else end
    fabric = chip.fabric
    return {
        "chip": chip.config.name,
        "cycles": end - start,
        "time_us": chip.config.cycles_to_us(end - start),
        "cores": [
            {
                "core": core.index,
                "coord": list(core.coord),
                **time_split(core, start, end),
                "sram_used_bytes": core.sram.used_bytes,
            }
            for core in chip.cores
        ],
        "links": link_table(fabric, end - start),
        "totals": {
            "messages_sent": fabric.messages_sent,
            "messages_delivered": fabric.messages_delivered,
            "bytes_injected": fabric.bytes_injected,
            "bytes_delivered": fabric.bytes_delivered,
            "bytes_off_chip": off_chip_bytes(fabric),
        },
    }
