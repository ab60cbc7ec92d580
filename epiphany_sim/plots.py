"""Figures of synthetic traffic: the load-latency and throughput curves of a mesh.

The one module of ``epiphany_sim`` that imports matplotlib (with the non-interactive Agg
backend, so it draws without a screen). Drawn as network-on-chip papers draw them:
latency against offered load rises slowly, then steeply at saturation; accepted load
follows offered load up to saturation, then flattens.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from epiphany_sim.traffic import TrafficResult  # noqa: E402


def load_latency_figure(results: Sequence[TrafficResult]) -> bytes:
    """PNG of latency against offered load and accepted against offered load.

    ``results`` are runs of one pattern on one chip at several rates (``traffic.sweep``).
    Saturated runs are drawn with hollow markers.
    """
    runs = sorted(results, key=lambda r: r.offered_rate)
    first = runs[0]
    offered = [r.offered_rate for r in runs]
    fig, (lat_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    lat_ax.plot(offered, [r.avg_latency_cycles for r in runs], "o-", color="#1f77b4", label="mean")
    lat_ax.plot(offered, [r.p99_latency_cycles for r in runs], "s--", color="#ff7f0e", label="99th percentile")
    lat_ax.set_yscale("log")
    lat_ax.set_xlabel("offered load (transactions per core per cycle)")
    lat_ax.set_ylabel("latency from offer to arrival (cycles, log scale)")
    lat_ax.set_title("latency against offered load")
    acc_ax.plot(offered, [r.accepted_rate for r in runs], "o-", color="#2e8b57", label="accepted")
    top = max(offered)
    acc_ax.plot([0, top], [0, top], ":", color="grey", label="accepted = offered")
    acc_ax.set_xlabel("offered load (transactions per core per cycle)")
    acc_ax.set_ylabel("accepted load (transactions per core per cycle)")
    acc_ax.set_title("accepted against offered load")
    for ax, key in ((lat_ax, "avg_latency_cycles"), (acc_ax, "accepted_rate")):
        saturated = [r for r in runs if r.saturated]
        if saturated:
            ax.plot([r.offered_rate for r in saturated], [getattr(r, key) for r in saturated], "o",
                    markerfacecolor="white", markeredgecolor="#d9534f", markersize=9, label="saturated")
        ax.set_xlim(0, top * 1.03)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    fig.suptitle(f"{first.pattern} traffic on {first.chip} ({first.rows}x{first.cols} mesh), "
                 f"{first.cycles} cycles per point, seed {first.seed}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
