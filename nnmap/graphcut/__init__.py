"""A sparse network cut along its graph and laid out on the mesh (the ``graph-cut`` strategy).

- ``graph``: the network as a weighted graph: neurons as nodes (weighed by their
  multiply-adds), connections between computed neurons as edges (weighed by the bytes a
  value costs to send), and the traffic a partition of it implies.
- ``partition``: the graph cut into as many parts as cores, balanced on multiply-adds
  layer by layer, with as few edges cut as the refinement finds.
- ``placement``: the parts placed on the mesh's cores to keep hop-weighted traffic low.
"""
