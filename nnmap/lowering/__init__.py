"""The middle layer: from a plan (who holds which products) to per-core programs.

- ``flows``: how the partial sums of one output reach the core that finishes it (a
  chain or a gather), as small classes with hooks.
- ``broadcast``: how a finished hidden value reaches every core before the next layer.
- ``forward``: the code generator: each core's buffers and initial values, its forward
  program per sample and its readback, built from the plan with one flow per layer and
  one broadcast.

Buffer names come from ``nnmap.buffers``; the programs run on a chip through
``nnmap.session``.
"""
