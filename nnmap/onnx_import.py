"""Feed-forward networks from ONNX files: the operators a stack of dense layers is made of.

The network is what computes the model's output from its one input: the first output that
is a float tensor (a classifier converted by skl2onnx with ``zipmap=False`` has its labels
first and its probabilities second), followed back node by node to the input. Each node on
that path must be one of

- ``Gemm`` (``transA = 0``; ``alpha``, ``beta`` and ``transB`` are folded into the
  weights), or ``MatMul`` by a constant, optionally followed by ``Add`` of a constant: one
  dense layer;
- ``Relu``, ``Sigmoid``, ``Tanh``, or ``Softmax`` over the last axis (last layer only):
  that layer's activation (none is ``identity``);
- ``Identity``, and ``Cast`` to float32 (skl2onnx casts the input): no-ops here.

Weights come from the graph's initializers, each checked before it is converted: a real
number type, and as many values as its declared shape holds (so a doctored shape is refused
before anything of its size is allocated). Any other operator on the path is refused with its
name, as is a path that goes round in a cycle or does not lead back to the input; nodes off the
path (a classifier's label branch) are ignored. skl2onnx's default export of a classifier ends
in a ``ZipMap`` of the probabilities (and reshapes them), which is not a dense layer: its
refusal says how to export without it. Only the ``onnx`` package is needed, and only when an
ONNX file is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from epiphany_sim import checks
from nnmap.errors import ModelError
from nnmap.model import Layer, Network

ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax"}
LINEAR_OPS = ("Gemm", "MatMul", "Add")
NO_OPS = ("Identity", "Cast")
SUPPORTED = (*LINEAR_OPS, *ACTIVATION_OPS, *NO_OPS)
FLOAT = 1  # onnx.TensorProto.FLOAT
REAL_TYPES = {1: "float", 11: "double", 10: "float16", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 2: "uint8"}
REAL_TYPES |= {4: "uint16", 12: "uint32", 13: "uint64"}
"""The initializer types (``onnx.TensorProto`` data types) read as weights: real numbers."""
SKL2ONNX_HINT = (
    "; a scikit-learn model converted by skl2onnx is read when exported with "
    'options={"zipmap": False}, or use nnmap.model.from_sklearn'
)
"""Appended to the refusal of the operators skl2onnx's default classifier export adds."""
SKL2ONNX_OPS = ("ZipMap", "Reshape", "ArgMax", "ArrayFeatureExtractor", "Flatten")


class _Graph:
    """An ONNX graph's nodes by output, its constants, and the path from its input to its output."""

    def __init__(self, path: Path, model: Any) -> None:
        self.path = path
        graph = model.graph
        self.constants = {t.name: t for t in graph.initializer}
        inputs = [i.name for i in graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise self.error(f"a network has one input, the model has {len(inputs)}")
        self.input = inputs[0]
        outputs = [o for o in graph.output if o.type.tensor_type.elem_type == FLOAT] or list(graph.output)
        if not outputs:
            raise self.error("the model has no output")
        self.output = outputs[0].name
        self.producer = {name: node for node in graph.node for name in node.output}

    def error(self, message: str) -> ModelError:
        return ModelError(f"ONNX model {self.path}: {message}")

    def path_nodes(self) -> list[Any]:
        """The nodes from the input to the output, in order.

        Refuses an unsupported operator by name, a path that comes back to a node it has
        passed (a cycle), and one that does not lead back to the input.
        """
        nodes: list[Any] = []
        seen: set[int] = set()
        name = self.output
        while name != self.input:
            node = self.producer.get(name)
            if node is None:
                raise self.error(
                    f"the output is not reachable from the input {self.input!r}: "
                    f"{name!r} is neither computed by a node nor the input"
                )
            if id(node) in seen:
                raise self.error(f"the graph has a cycle through node {node.name or name!r}; a network feeds forward")
            seen.add(id(node))
            self._check_operator(node, name)
            data = [i for i in node.input if i and i not in self.constants]
            if len(data) != 1:
                where = node.name or name
                detail = "it is not reachable from the input" if not data else "a dense layer has one"
                raise self.error(f"{node.op_type} node {where!r} has {len(data)} non-constant inputs: {detail}")
            nodes.append(node)
            name = data[0]
        return nodes[::-1]

    def _check_operator(self, node: Any, name: str) -> None:
        if node.op_type in SUPPORTED:
            return
        hint = SKL2ONNX_HINT if node.op_type in SKL2ONNX_OPS else ""
        raise self.error(
            f"operator {node.op_type} (node {node.name or name!r}) is not supported; a network is built from "
            f"Gemm, MatMul and Add, {', '.join(ACTIVATION_OPS)}, Identity and Cast to float{hint}"
        )

    def constant(self, name: str, node: Any) -> np.ndarray:
        """The initializer ``name`` as a real array, once its type and size agree with its declared shape."""
        from onnx import TensorProto, numpy_helper

        tensor = self.constants[name]
        if tensor.data_location == TensorProto.EXTERNAL:
            raise self.error(f"{name!r} is stored in an external file; save the model with its weights inside")
        where = f"ONNX model {self.path}: {node.op_type} constant {name!r}"
        self._check_tensor(tensor, where)
        try:
            array = numpy_helper.to_array(tensor)
        except (ValueError, TypeError, KeyError) as exc:  # what the onnx library raises for a tensor it cannot read
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"{where} cannot be read: {detail}") from None
        return checks.real_array(where, array, ModelError)

    def attribute(self, node: Any, name: str, default: float) -> float:
        """The number ``node``'s attribute ``name`` holds (an integer if ``default`` is one), or ``default``."""
        from onnx import helper

        for attribute in node.attribute:
            if attribute.name != name:
                continue
            try:
                value = helper.get_attribute_value(attribute)
            except ValueError as exc:  # a reference to a function's attribute, or a type the onnx library does not know
                detail = str(exc).splitlines()[0]
                raise self.error(f"{node.op_type} node {node.name!r}: attribute {name!r}: {detail}") from None
            kinds = (int,) if isinstance(default, int) else (int, float)
            if not isinstance(value, kinds):
                wanted = "an integer" if isinstance(default, int) else "a number"
                raise self.error(f"{node.op_type} node {node.name!r}: attribute {name!r} is not {wanted}")
            return value
        return default

    @staticmethod
    def _check_tensor(tensor: Any, where: str) -> None:
        """Refuse a tensor whose type is not a real number or whose data does not fill its declared shape."""
        from onnx import helper

        kind = REAL_TYPES.get(tensor.data_type)
        if kind is None:
            raise ModelError(f"{where} has data type {tensor.data_type}, not a real number type (float, double, ...)")
        dims = list(tensor.dims)
        if any(d < 0 for d in dims):
            raise ModelError(f"{where} declares a negative dimension in shape {tuple(dims)}")
        count = math.prod(dims)
        if tensor.HasField("raw_data"):
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
            held, unit = len(tensor.raw_data), f"bytes ({count} {kind} values of {itemsize} bytes)"
            expected = count * itemsize
        else:
            held, unit = len(getattr(tensor, helper.tensor_dtype_to_field(tensor.data_type))), f"{kind} values"
            expected = count
        if held != expected:
            raise ModelError(f"{where} declares shape {tuple(dims)}, {expected} {unit}, but holds {held}")


class _Layers:
    """Folds the path's nodes into dense layers, one node at a time."""

    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.layers: list[Layer] = []
        self.weights: np.ndarray | None = None  # the layer being built, until its activation
        self.bias: np.ndarray | None = None
        self.after_matmul = False

    def take(self, node: Any) -> None:
        op = node.op_type
        to = self.graph.attribute(node, "to", FLOAT) if op == "Cast" else FLOAT
        if to != FLOAT:
            raise self.graph.error(f"Cast node {node.name!r} casts to type {to}, not float")
        if op in NO_OPS:
            return
        if op == "Add":
            if not self.after_matmul:
                raise self.graph.error(f"Add node {node.name!r} does not follow a MatMul")
            self.bias = self._vector(node, self._constant_input(node))
            self.after_matmul = False
            return
        self.after_matmul = False
        if op in ACTIVATION_OPS:
            if self.weights is None:
                raise self.graph.error(f"{op} node {node.name!r} does not follow a Gemm or MatMul")
            if op == "Softmax" and self.graph.attribute(node, "axis", -1) not in (-1, 1):
                axis = self.graph.attribute(node, "axis", -1)
                raise self.graph.error(f"Softmax node {node.name!r} is over axis {axis}, not the last")
            self.finish(ACTIVATION_OPS[op])
            return
        self.finish("identity")
        if op == "MatMul":
            if node.input[1] not in self.graph.constants:
                raise self.graph.error(f"MatMul node {node.name!r} multiplies by its input, not by constant weights")
            self.weights = self.graph.constant(node.input[1], node)
            self.bias = None
            self.after_matmul = True
        else:
            self._gemm(node)

    def _gemm(self, node: Any) -> None:
        if self.graph.attribute(node, "transA", 0):
            raise self.graph.error(f"Gemm node {node.name!r} transposes its input (transA = 1)")
        if len(node.input) < 2 or node.input[1] not in self.graph.constants:
            raise self.graph.error(f"Gemm node {node.name!r} multiplies by its input, not by constant weights")
        weights = self.graph.constant(node.input[1], node)
        if self.graph.attribute(node, "transB", 0):
            weights = weights.T
        alpha, beta = (np.float32(self.graph.attribute(node, key, 1.0)) for key in ("alpha", "beta"))
        self.weights = weights  # the bias is read against its outputs
        has_bias = len(node.input) > 2 and node.input[2]
        bias = self._vector(node, node.input[2]) if has_bias else None
        with np.errstate(over="ignore"):  # a product beyond float32 is inf, which the layer refuses in one line
            self.weights = alpha * weights
            self.bias = beta * bias if bias is not None else None

    def _constant_input(self, node: Any) -> str:
        return next(i for i in node.input if i in self.graph.constants)

    def _vector(self, node: Any, name: str) -> np.ndarray:
        """A bias constant, as one value per output of the layer being built."""
        assert self.weights is not None
        n_out = self.weights.shape[-1]
        values = self.graph.constant(name, node)
        if values.size not in (1, n_out) or max(values.shape, default=1) != values.size:
            raise self.graph.error(f"{node.op_type} node {node.name!r}: bias of shape {values.shape}, {n_out} outputs")
        return np.broadcast_to(values.reshape(-1), (n_out,)).astype(np.float32)

    def finish(self, activation: str) -> None:
        """End the layer being built (if any) with ``activation``."""
        if self.weights is None:
            return
        weights = self.weights
        bias = self.bias if self.bias is not None else np.zeros(weights.shape[-1], np.float32)
        try:
            self.layers.append(Layer(weights.astype(np.float32), bias, activation))
        except ModelError as exc:
            raise self.graph.error(f"layer {len(self.layers)}: {exc}") from None
        self.weights = self.bias = None


def load_onnx(path: str | Path, check_sizes: Callable[[list[int]], None] | None = None) -> Network:
    """The network an ONNX file computes (see the module docstring for the subset read).

    ``check_sizes`` is called with the layer sizes before the network is built.
    """
    path = Path(path)
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError:
        raise ModelError("reading ONNX models needs the onnx package: pip install 'epiphany-nnmap[onnx]'") from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"model file {path} is not a valid ONNX model: {detail}") from None
    graph = _Graph(path, model)
    fold = _Layers(graph)
    for node in graph.path_nodes():
        fold.take(node)
    fold.finish("identity")
    if not fold.layers:
        raise graph.error("no Gemm or MatMul between the input and the output: no layer to map")
    sizes = [fold.layers[0].n_in] + [layer.n_out for layer in fold.layers]
    if check_sizes is not None:
        check_sizes(sizes)
    try:
        return Network(tuple(fold.layers))
    except ModelError as exc:
        raise graph.error(str(exc)) from None
