"""Figures, one module per family; the only part of ``nnmap`` that imports matplotlib.

- ``run``: the figures of one run (``RUN_FIGURES``: core timeline, utilisation, congestion,
  placement);
- ``compare``: strategies side by side;
- ``sweep``: speedup against cores, and the Pareto front of cycles against bytes;
- ``sparse``: speedup and bytes against sparsity, per chip and pattern (the sparsity benchmark);
- ``training``: loss against simulated time;
- ``recurrent``: a recurrent stack's core timeline coloured by band, and the cells of both orders.

Each drawing function only draws; the numbers it draws come from ``nnmap.analysis``.
Figures are PNG bytes; ``save_figures`` writes them once all are drawn.
"""

from nnmap.plots._draw import save_figures
from nnmap.plots.compare import compare_figure, compare_figures
from nnmap.plots.recurrent import recurrent_figures
from nnmap.plots.run import RUN_FIGURES, RunFigure, run_figures
from nnmap.plots.sparse import sparsity_figure
from nnmap.plots.sweep import sweep_figures
from nnmap.plots.training import training_figure

__all__ = [
    "RUN_FIGURES",
    "RunFigure",
    "compare_figure",
    "compare_figures",
    "recurrent_figures",
    "run_figures",
    "save_figures",
    "sparsity_figure",
    "sweep_figures",
    "training_figure",
]
