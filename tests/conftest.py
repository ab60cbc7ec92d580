"""The whole suite's set-up: parallel runs (pytest-xdist) and Hypothesis' example counts.

The whole run uses every core (``python -m pytest -n auto``; ``pyproject.toml`` adds
``--dist loadgroup``). Two things follow from that, both arranged here:

- The fabric's loop is compiled once, by the controlling process, before the workers start:
  numba's disk cache beside ``epiphany_sim/fabric_kernel.py`` is safe to fill from two processes
  at once (each writes a temporary file and renames it), but both would spend the tens of
  seconds the compilation takes.
- The tests of a module that share one of its module-scoped fixtures (a sweep, a trained model,
  a traced run) go to one worker together, so that fixture is built once and not once per worker.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

# ``--hypothesis-profile thorough``: ten times Hypothesis' default cases where a test leaves their number to it.
settings.register_profile("thorough", max_examples=1000)


def pytest_configure(config: pytest.Config) -> None:
    """In the controlling process of a parallel run: compile the fabric's loop, and the loop that runs
    the cores' programs with it, if their cache is cold (else every worker would compile them)."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    from epiphany_sim.fabric_kernel import needs_compiling
    from nnmap.programs import engine_loop

    if needs_compiling() or needs_compiling(engine_loop.run):
        from epiphany_sim import E16
        from nnmap.model import random_inputs, random_network
        from nnmap.run import run

        net = random_network([4, 6, 3])
        run(E16, net, "partitioned", random_inputs(net, 1))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a module-scoped fixture joins its module's xdist group (``--dist loadgroup``)."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group"):
            continue
        if any(d.scope == "module" for defs in info.name2fixturedefs.values() for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))
