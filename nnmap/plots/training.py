"""The figure of ``nnmap train``: loss against simulated time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt

from nnmap.analysis import training_curves
from nnmap.plots._draw import png


def training_figure(runs: Sequence[dict[str, Any]]) -> bytes:
    """Loss against simulated time for one or more training runs on the same axes."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, times, losses in training_curves(runs):
        ax.plot(times, losses, marker="." if len(times) < 60 else None, lw=1.4, label=label)
    targets = {r["hyperparameters"]["target_loss"] for r in runs} - {None}
    for target in targets:
        ax.axhline(target, color="grey", ls="--", lw=0.8, label=f"target loss {target:g}")
    if runs and all(loss > 0 for _, _, losses in training_curves(runs) for loss in losses):
        ax.set_yscale("log")
    first = runs[0] if runs else {}
    loss_name = first.get("hyperparameters", {}).get("loss", "loss")
    ax.set_xlabel("simulated time (us), from power-on, weights loading included")
    ax.set_ylabel(f"{loss_name} over the dataset")
    ax.set_title(f"Training on {first.get('dataset', '?')}: loss against simulated time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.set_layout_engine("constrained")
    return png(fig)
