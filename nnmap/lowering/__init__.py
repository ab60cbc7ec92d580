"""The middle layer: from a strategy's deal (``nnmap.plan.Deal``: who holds which products) to a
plan with per-core programs, frozen once built.

- ``flows``: how the partial sums of one output reach the core that finishes it (a
  chain or a gather), as small classes with hooks.
- ``delivery``: how a finished hidden value reaches the cores of the next layer that read
  it (the command line's ``--broadcast``; ``targeted`` and ``stream`` do not broadcast).
- ``feed``: how a batch's inputs reach the cores of the first layer.
- ``forward``: the code generator, ``lower``: each core's buffers and initial values, its
  forward program per sample and its readback, built from the deal with one flow per
  layer, one delivery and one feed.
- ``recurrent``: the code generator of a recurrent stack, ``lower_stack``.

Buffer names come from ``nnmap.buffers``; the programs run on a chip through
``nnmap.session``.
"""
