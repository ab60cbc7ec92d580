"""What every figure shares: matplotlib on the non-interactive Agg backend, PNG rendering, sizes.

Figures are rendered to PNG bytes; ``save_figures`` writes them once all are drawn.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

from epiphany_sim.files import OutputFiles

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DPI = 110
MAX_INCHES = 30.0  # no figure side grows past this, whatever the mesh size


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def save_figures(figures: dict[str, bytes], directory: str | Path) -> list[Path]:
    """Write rendered figures into ``directory`` (made if missing, its parent must exist), all or none."""
    with OutputFiles() as out:
        out.directory(directory)
        for name, data in figures.items():
            out.write(Path(directory) / name, data)
    return [Path(directory) / name for name in figures]
