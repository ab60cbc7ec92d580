"""``nnmap tune``: search the mappings of a network on a chip for the fastest.

One module per concept: ``space`` (the candidates), ``estimate`` (their cycles per phase from
the cost model, without simulating), ``search`` (which candidates to estimate and which to
simulate), ``runner`` (simulating the best and validating them), ``report`` (the table and
the files). The subcommand itself is ``nnmap.cli.tune``.
"""
