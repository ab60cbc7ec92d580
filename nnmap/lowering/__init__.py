"""The middle layer: from a plan (who holds which products) to per-core programs.

- ``flows``: how the partial sums of one output reach the core that finishes it (a
  chain or a gather), as small classes with hooks.
- ``broadcast``: how a finished hidden value reaches the cores of the next layer.
- ``feed``: how a batch's inputs reach the cores of the first layer.
- ``forward``: the code generator: each core's buffers and initial values, its forward
  program per sample and its readback, built from the plan with one flow per layer, one
  broadcast and one feed.

Buffer names come from ``nnmap.buffers``; the programs run on a chip through
``nnmap.session``.
"""
