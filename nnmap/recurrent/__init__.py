"""Stacked recurrent (Elman) networks on the chip, each layer on its own group of cores.

- ``model``: the layers, their model files and the numpy reference;
- ``plan``: the core groups, each layer's deal over its group and the two orders the cells
  run in (``serial``, ``wavefront``); the programs come from ``nnmap.lowering.recurrent``,
  and the whole, as data, is a ``nnmap.plan.RecurrentPlan``;
- ``run``: a sequence through both orders on the simulated chip, validated, and the figures
  that compare them.
"""
