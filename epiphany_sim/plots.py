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
from matplotlib import ticker  # noqa: E402

from epiphany_sim.traffic import TrafficResult  # noqa: E402


def load_latency_figure(results: Sequence[TrafficResult]) -> bytes:
    """PNG of latency against offered load and accepted against offered load.

    ``results`` are runs of one pattern on one chip at several rates (``traffic.sweep``).
    Saturated runs have no latency: the latency panel shades the offered loads at which the
    network saturated, and the accepted panel draws them with hollow red markers.
    """
    runs = sorted(results, key=lambda r: r.offered_rate)
    first = runs[0]
    offered = [r.offered_rate for r in runs]
    top = max(offered)
    fig, (lat_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    measured = [r for r in runs if not r.saturated]
    saturated = [r for r in runs if r.saturated]
    if measured:
        lat_ax.plot(
            [r.offered_rate for r in measured],
            [r.avg_latency_cycles for r in measured],
            "o-",
            color="#1f77b4",
            label="mean",
        )
        lat_ax.plot(
            [r.offered_rate for r in measured],
            [r.p99_latency_cycles for r in measured],
            "s--",
            color="#ff7f0e",
            label="99th percentile",
        )
        lat_ax.axhline(measured[0].zero_load_latency_cycles, color="grey", linestyle=":", label="zero load")
        lat_ax.set_yscale("log")
        for axis in (lat_ax.yaxis.set_major_formatter, lat_ax.yaxis.set_minor_formatter):
            axis(ticker.FormatStrFormatter("%g"))
    if saturated:
        lat_ax.axvspan(
            saturated[0].offered_rate,
            top * 1.03,
            color="#d9534f",
            alpha=0.15,
            label="saturated (latency grows with the run)",
        )
    lat_ax.set_xlabel("offered load (transactions per core per cycle)")
    lat_ax.set_ylabel("latency from offer to arrival (cycles, log scale)")
    lat_ax.set_title("latency against offered load")
    acc_ax.plot(offered, [r.accepted_rate for r in runs], "o-", color="#2e8b57", label="accepted")
    acc_ax.plot([0, top], [0, top], ":", color="grey", label="accepted = offered")
    if saturated:
        acc_ax.plot(
            [r.offered_rate for r in saturated],
            [r.accepted_rate for r in saturated],
            "o",
            markerfacecolor="white",
            markeredgecolor="#d9534f",
            markersize=9,
            label="saturated",
        )
    acc_ax.set_xlabel("offered load (transactions per core per cycle)")
    acc_ax.set_ylabel("accepted load (transactions per core per cycle)")
    acc_ax.set_title("accepted against offered load")
    for ax, corner in ((lat_ax, "center left"), (acc_ax, "upper left")):
        ax.set_xlim(0, top * 1.03)
        ax.grid(alpha=0.3)
        ax.legend(loc=corner)
    fig.suptitle(
        f"{first.pattern} traffic on {first.chip} ({first.rows}x{first.cols} mesh), "
        f"{first.cycles}-cycle window per point, seed {first.seed}"
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def dma_bandwidth_figure(points: Sequence[dict], chip: str) -> bytes:
    """PNG of a DMA transfer's bandwidth against its size (``microbench.dma_sweep``)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    ax.plot([p["bytes"] for p in points], [p["mb_per_s"] for p in points], "o-", color="#1f77b4")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("transfer size (bytes)")
    ax.set_ylabel("MB/s (MiB/s, as the Parallella\nbenchmarks print it)")
    ax.set_title(f"DMA from a core to its neighbour on {chip}:\nthe setup spread over more bytes")
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # no label cut off whatever the chip's name
    plt.close(fig)
    return buffer.getvalue()
