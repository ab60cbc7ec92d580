"""A network mapped in one call: a strategy deals it (``nnmap.strategies``, or ``nnmap.recurrent.plan``
for a recurrent stack), the lowering makes the plan of the deal (``nnmap.lowering``). What a script
calls to get a plan."""

from __future__ import annotations

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from nnmap.lowering import forward
from nnmap.lowering.recurrent import lower_stack
from nnmap.model import Network
from nnmap.plan import Plan, RecurrentPlan
from nnmap.recurrent.model import RecurrentStack
from nnmap.recurrent.plan import deal_stack
from nnmap.strategies import Strategy, get_strategy


def plan_for(
    strategy: Strategy | str,
    config: ChipConfig,
    net: Network,
    batch: int = 1,
    broadcast: str | None = None,
    chain: list[Coord] | None = None,
    feed: str = "preload",
) -> Plan:
    """The plan of ``net`` on ``config`` with ``strategy`` (a strategy or its name); ``MappingError`` if it cannot run.

    ``broadcast`` names how hidden values reach the cores that read them (``nnmap.lowering.delivery``;
    default the strategy's own); ``chain`` replaces the snake over the mesh's usable cores; ``feed`` names
    how the inputs reach the cores (``nnmap.lowering.feed``).
    """
    chosen = get_strategy(strategy) if isinstance(strategy, str) else strategy
    return forward.lower(chosen.deal_network(config, net, broadcast, chain), config, net, batch, feed)


def largest_batch(
    strategy: Strategy | str,
    config: ChipConfig,
    net: Network,
    rows: int,
    broadcast: str | None = None,
    feed: str = "preload",
    chain: list[Coord] | None = None,
) -> int:
    """The most samples, at most ``rows``, whose plan fits every core's SRAM; 0 if not even one does."""
    chosen = get_strategy(strategy) if isinstance(strategy, str) else strategy
    return forward.largest_batch(chosen.deal_network(config, net, broadcast, chain), config, net, rows, feed)


def plan_stack(config: ChipConfig, stack: RecurrentStack, steps: int, order: str) -> RecurrentPlan:
    """The plan of ``stack`` over ``steps`` steps in ``order`` (``nnmap.recurrent.plan.ORDERS``).

    Raises ``MappingError`` for an unknown order, more layers than cores, or a group whose
    cores cannot hold their share.
    """
    return lower_stack(deal_stack(config, stack, steps, order))
