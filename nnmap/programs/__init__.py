"""The one programming model of the mapped runs: every core's work is a program of ops from here.

- ``ops``: the instruction set (frozen dataclasses), ``Kernel`` (an op that runs itself) and
  ``EXECUTE``, the table from op type to what runs it;
- ``interpreter``: the handlers of the core ops and ``run_ops``, the simpy process that runs a
  program on a core;
- ``kernels``: the forward pass's further kernels; ``backprop``: back-propagation's;
  ``exchange``: the steps by which trainers' cores combine their work (data-parallel
  reductions, parameter servers, shared parameters, per-neuron jobs).
"""

from nnmap.programs import backprop, exchange
from nnmap.programs.interpreter import MAX_POLLS, run_ops
from nnmap.programs.kernels import Fill, SparseMac, SplitMac, WaitFlags
from nnmap.programs.ops import (
    EXECUTE,
    Activate,
    Begin,
    Dma,
    Kernel,
    Mac,
    Op,
    PollDram,
    ReadDram,
    Relay,
    Send,
    Signal,
    Step,
    Sum,
    Wait,
    executes,
)

__all__ = [
    "EXECUTE",
    "MAX_POLLS",
    "Activate",
    "Dma",
    "Fill",
    "Kernel",
    "Mac",
    "Op",
    "Begin",
    "PollDram",
    "ReadDram",
    "Relay",
    "Send",
    "Signal",
    "SparseMac",
    "Step",
    "SplitMac",
    "Sum",
    "Wait",
    "WaitFlags",
    "backprop",
    "exchange",
    "executes",
    "run_ops",
]
