"""The name of every buffer a program uses, in SRAM or in the host's DRAM.

A buffer's name is the protocol between the core that writes it and the core that reads
or waits on it, so every name is built here and nowhere else; nobody parses a name to
learn what a buffer holds (a plan lists its parameter buffers, ``Plan.parameters``).

Buffers that receive messages while the previous sample may still be read are kept in
two copies by sample parity (``.0`` and ``.1``), or in one copy per sample where the cores
do not keep in step; see ``nnmap.lowering.delivery``.
"""

from __future__ import annotations

from epiphany_sim.mesh import Coord

# The forward pass -------------------------------------------------------------------------

X = "x"
"""A core's inputs: every sample's input vector, row by row (two rows, by sample parity, where they stream in)."""
Y = "y"
"""The final-layer outputs a core owns, sample by sample."""
OUT = "out"
"""DRAM: every sample's outputs, where the host reads them back."""
X_DONE = "xdone"
"""On the first reader of a streamed batch: one flag per reader, the samples whose inputs it is done with."""
X_FREE = "xfree"
"""DRAM: the samples whose inputs the first reader of a streamed batch has passed on (the host may write the next)."""


def weights(layer: int) -> str:
    """A core's slice of ``layer``'s weights, its pieces one after the other."""
    return f"w{layer}"


def weight_inputs(layer: int) -> str:
    """A sparse layer's companion of ``weights(layer)``: the input index of each weight stored there."""
    return f"weight_inputs{layer}"


def bias(layer: int) -> str:
    """The biases of the outputs of ``layer`` a core owns, ascending."""
    return f"b{layer}"


def acc(layer: int) -> str:
    """A core's sums of ``layer``'s products, one per piece."""
    return f"acc{layer}"


def chained_partial(layer: int, slot: int) -> str:
    """Receives the partial sum handed on by the previous core of a chain (``nnmap.lowering.flows.Chain``)."""
    return f"partial_in{layer}.{slot}"


def gathered_partials(layer: int, slot: int, j: int) -> str:
    """Receives every contributor's partial sum of output ``j`` at its owner (``nnmap.lowering.flows.Gather``)."""
    return f"partials{layer}.{slot}.{j}"


def hidden(layer: int, sample: int, copies: int = 2) -> str:
    """Holds hidden layer ``layer``'s whole vector for ``sample``: copy ``sample % copies`` of ``copies``."""
    return f"h{layer}.{sample % copies}"


def credits(layer: int) -> str:
    """One flag per core that reads hidden layer ``layer``: the samples it is done with (``stream``)."""
    return f"credits{layer}"


def dram_hidden(layer: int) -> str:
    """DRAM: hidden layer ``layer`` of every sample, for the broadcast through DRAM."""
    return f"dram_h{layer}"


def dram_flag(layer: int) -> str:
    """DRAM: one flag per core, the samples whose values of hidden layer ``layer`` it has written."""
    return f"dram_flag{layer}"


# Recurrent stacks (``nnmap.lowering.recurrent``) -----------------------------------------


def state(layer: int, step: int) -> str:
    """``h[layer, step]``, the state of ``layer`` after ``step``, on its group (which reads it at
    ``step + 1``) and the group above (which reads it at ``step``): copy ``step % 2`` of two, so
    the zero state of step -1 is copy 1."""
    return f"state{layer}.{step % 2}"


def states(layer: int) -> str:
    """The states of ``layer`` a core computes, step by step, until the host reads them back."""
    return f"states{layer}"


def freed(layer: int) -> str:
    """On ``layer``'s group: how many steps of its states the group above is done with."""
    return f"freed{layer}"


GO = "go"
"""The serial order's token on the first layer's cores: how many steps the last layer has finished."""

# Back-propagation -------------------------------------------------------------------------


def velocity(parameter: str) -> str:
    """The momentum of the parameter buffer ``parameter``, element by element."""
    return f"velocity_{parameter}"


def output_error(n_layers: int, parity: int) -> str:
    """The output layer's errors, written by the owners of the outputs."""
    return f"delta{n_layers - 1}.{parity}"


def hidden_error(layer: int) -> str:
    """Hidden layer ``layer``'s deltas, computed on each core."""
    return f"delta{layer}"


def partial_error(layer: int, parity: int) -> str:
    """Receives the downstream cores' partial error vector of hidden layer ``layer``."""
    return f"error_part{layer}.{parity}"


def total_error(layer: int, parity: int) -> str:
    """Receives the whole error vector of hidden layer ``layer``, relayed along the chain."""
    return f"error{layer}.{parity}"


ERROR_SUM = "error_sum"
"""A core's running sum of a hidden layer's error terms."""

# Decoupled layers -------------------------------------------------------------------------


def layer_delta(parity: int) -> str:
    """``dni``: the deltas of a group's layer, at the cores holding products of each output."""
    return f"layer_delta.{parity}"


def synthetic_gradient(parity: int) -> str:
    """``dni``: receives the synthetic gradient of each output a core holds products of."""
    return f"synthetic_gradient.{parity}"


def synthetic_error(parity: int) -> str:
    """``dni``: receives the synthetic-gradient model's error of each of its outputs a core holds products of."""
    return f"synthetic_error.{parity}"


KEPT = "kept_hidden"
"""``dni``: a group's hidden vector of the step before, the input of its model's update."""

# Feeding samples --------------------------------------------------------------------------

T = "t"
"""A core's targets, two rows by step parity."""
DONE = "done"
"""On the first core of a chain: how many readers have finished a sample."""
X_DRAM = "train_x"
"""DRAM: the dataset's inputs, row by row."""
T_DRAM = "train_t"
"""DRAM: the dataset's targets, row by row."""


def fed(first: Coord) -> str:
    """DRAM: the samples the chain starting at core ``first`` has finished (a flag per chain)."""
    row, col = first
    return f"fed{row},{col}"


# Data-parallel training ---------------------------------------------------------------

BASE = "base"
"""A client's parameters as of its last fetch or exchange."""
SUM = "sum"
"""``sync``: receives the updates summed so far up the chain."""
NEW = "new"
"""``sync``: receives the averaged new parameters coming down the chain."""
ACCRUED = "acc"
"""``downpour``: a client's updates since its last push."""
FETCHED = "fetched"
"""``downpour``: receives the server's parameters."""
GRANT = "grant"
"""``downpour``: the server's go-ahead for a client's push."""
SERVER_PARAMS = "params"
"""``downpour``: the parameter server's parameters."""
INBOX = "inbox"
"""``downpour``: receives a client's pushed updates at the server."""
REQUESTS = "requests"
"""``downpour``: one flag per client at the server."""
SHARED = "shared"
"""``hogwild``: a core's slice of the shared parameters."""

# Per-neuron workers -----------------------------------------------------------------------

ACTIVATIONS = "activations"
"""DRAM: every activation of one sample, layer after layer."""


def job(layer: int, j: int) -> str:
    """Receives neuron ``j`` of ``layer``'s jobs: inputs, weights, bias."""
    return f"job{layer}.{j}"
