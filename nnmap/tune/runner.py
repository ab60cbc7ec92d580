"""Simulating tune's best candidates: one run each, validated against numpy, serially or on Dask.

On Dask the runs go to the local cluster ``nnmap sweep`` starts (``nnmap.sweep.connect``),
one task per candidate. A run that raises (a deadlock, a plan the simulator refuses) is a
row with its ``error``: tune reports it and picks among the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from epiphany_sim import progress
from epiphany_sim.config import ChipConfig
from epiphany_sim.errors import SimError
from nnmap.model import Network
from nnmap.run import run
from nnmap.tune.space import Candidate


@dataclass(frozen=True)
class Job:
    """One candidate to simulate on a network and its inputs."""

    config: ChipConfig
    net: Network
    x: np.ndarray
    candidate: Candidate


def simulate(job: Job) -> dict[str, Any]:
    """The figures of ``job``'s run (``nnmap.run.run``, no single-core baseline), or ``{"error": ...}``."""
    c = job.candidate
    try:
        result = run(
            job.config,
            job.net,
            c.strategy,
            job.x,
            c.broadcast,
            baseline=False,
            feed=c.feed,
            load=c.load,
            chain=c.chain(job.config),
        )
    except SimError as exc:  # every error the simulator and the mapper raise on purpose
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    return result.metrics


def simulate_all(jobs: Sequence[Job], workers: int) -> list[dict[str, Any]]:
    """Every job's figures, in order: in this process if ``workers`` is 0, else on a local Dask cluster of
    ``workers`` processes."""
    if workers == 0 or len(jobs) <= 1:
        names = [job.candidate.name for job in jobs]
        return [simulate(job) for job in progress.each(list(jobs), "simulate", "runs", names)]
    from nnmap.sweep import connect  # Dask only when it runs

    client, cluster = connect(None, min(workers, len(jobs)))
    try:
        with progress.Bar("simulate", len(jobs), "runs") as bar:
            futures = client.map(simulate, list(jobs), pure=False)
            rows = []
            for future in futures:
                rows.append(future.result())
                bar.update()
        return rows
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
