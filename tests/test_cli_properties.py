"""Property: whatever the arguments and files, each command ends cleanly and leaves nothing half-done.

Hypothesis drives ``nnmap`` (plan, run, compare, train, sweep) and ``epiphany-sim`` (info,
traffic, microbench) with generated arguments, good and bad, and generated files, well-formed and
malformed (models, inputs, chip TOML, sweep specs). For every command line:

- nothing escapes ``main`` (no traceback);
- the exit status is 0 or 2, or 1 only for a run whose outputs failed validation (or a
  training target that was missed);
- a failure prints at most two lines on stderr, the first the program's error line;
- a failed command leaves no output file, and every file that was there before is unchanged;
- no temporary file is left, whatever happened.

Sweeps are pointed at an unreachable scheduler, so that each either fails its checks or
fails to connect: no cluster starts. The first two tests run the same 40 cases a program
every time; the other two draw new ones each run, as many as Hypothesis' profile says
(100 by default, 1,000 with ``--hypothesis-profile thorough``, see tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from epiphany_sim.cli import main as sim_main
from nnmap.cli import main as nnmap_main
from nnmap.lowering.delivery import DELIVERIES
from nnmap.model import ACTIVATIONS, random_network
from nnmap.strategies import STRATEGIES
from nnmap.training import TRAINERS

Main = Callable[[list[str]], int]

# Files -------------------------------------------------------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return buffer.getvalue()


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    return _zip({name: _npy(array) for name, array in arrays.items()})


def _model_arrays(**changes: np.ndarray) -> dict[str, np.ndarray]:
    net = random_network([6, 5, 3], "relu", "softmax", seed=1)
    arrays = {"activations": np.array(["relu", "softmax"])}
    for k, layer in enumerate(net.layers):
        arrays[f"W{k}"], arrays[f"b{k}"] = layer.weights, layer.bias
    return {**arrays, **changes}


def _onnx(op: str) -> bytes:
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["z"]), helper.make_node(op, ["z"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        [
            numpy_helper.from_array(np.ones((6, 3), np.float32) / 6, "w"),
            numpy_helper.from_array(np.zeros(3, np.float32), "b"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9).SerializeToString()


def _huge_header() -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    return header.getvalue() + bytes(24)


GOOD_MODEL = _npz(_model_arrays())
MODELS: dict[str, tuple[str, bytes | None]] = {
    "good": (".npz", GOOD_MODEL),
    "onnx": (".onnx", _onnx("Sigmoid")),
    "onnx-unsupported": (".onnx", _onnx("LeakyRelu")),
    "onnx-garbage": (".onnx", b"\x08\xff\xff\xff garbage"),
    "empty": (".npz", b""),
    "text": (".npz", b"W0 = [[1, 2]]\n"),
    "truncated": (".npz", GOOD_MODEL[: len(GOOD_MODEL) // 2]),
    "object-activations": (".npz", _npz(_model_arrays(activations=np.array(["relu", "softmax"], dtype=object)))),
    "complex": (".npz", _npz(_model_arrays(W0=np.ones((6, 5), complex)))),
    "zero-outputs": (".npz", _npz(_model_arrays(W1=np.ones((5, 0)), b1=np.ones(0)))),
    "nan": (".npz", _npz(_model_arrays(b0=np.full(5, np.nan)))),
    "huge-header": (".npz", _zip({**{k: _npy(v) for k, v in _model_arrays().items()}, "W0": _huge_header()})),
    "npy": (".npz", _npy(np.ones((6, 5)))),
    "missing": (".npz", None),
}
INPUTS: dict[str, bytes | None] = {
    "good": _npy(np.random.default_rng(0).random((3, 6))),
    "one-row": _npy(np.arange(6.0)),
    "wide": _npy(np.ones((2, 7))),
    "no-rows": _npy(np.zeros((0, 6))),
    "strings": _npy(np.array([["a"] * 6])),
    "complex": _npy(np.ones((2, 6), complex)),
    "objects": _npy(np.array([[1] * 6, None], dtype=object)),
    "nan": _npy(np.full((2, 6), np.nan)),
    "npz": _npz({"x": np.ones((2, 6))}),
    "truncated": _npy(np.ones((4, 6)))[:-9],
    "huge-header": _huge_header(),
    "random": bytes(range(256)),
    "missing": None,
}
CHIP_FIELDS = ["clock_hz", "hop_latency_cycles", "fpu_latency_cycles", "rows", "sram_bytes", "dram_base_address", "x"]
CHIP_VALUES = ["nan", "inf", "-1", "0", "2", "2.5", "1e30", "0x8e000000", '"x"', "true", "[1]"]
SPECS = {
    "good": 'chips = ["2x2"]\nlayers = ["6,5,3"]\nstrategies = ["partitioned"]\n',
    "all": 'chips = ["e16", "2x2"]\nlayers = ["6,5,3", [4, 2]]\nstrategies = "all"\nbatches = [1, 2]\n',
    "bad-layers": 'chips = ["2x2"]\nlayers = ["6,x"]\nstrategies = ["partitioned"]\n',
    "bad-chip": 'chips = ["e99"]\nlayers = ["6,5"]\nstrategies = ["partitioned"]\n',
    "zero-batch": 'chips = ["2x2"]\nlayers = ["6,5"]\nstrategies = ["partitioned"]\nbatches = [0]\n',
    "huge": 'chips = ["2x2"]\nlayers = ["6,5"]\nstrategies = ["partitioned"]\nseeds = ['
    + ",".join(map(str, range(300)))
    + "]\n",
    "not-toml": "chips = [\n",
    "binary": "\udcff",
}


@dataclass
class Scene:
    """The example's directory and what was in it before the command ran."""

    root: Path

    def snapshot(self) -> dict[str, bytes | None]:
        return {
            str(p.relative_to(self.root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(self.root.rglob("*"))
        }

    def file(self, name: str, content: bytes | None) -> str:
        path = self.root / name
        if content is not None:
            path.write_bytes(content)
        return str(path)

    def output(self, kind: str, name: str) -> str:
        """An output path: new, or one that cannot be written, or an existing file or directory."""
        paths = {
            "new": self.root / name,
            "existing-file": self.root / "old.txt",
            "existing-dir": self.root / "taken",
            "missing-parent": self.root / "no" / name,
        }
        return str(paths[kind])


def _prepare(root: Path) -> Scene:
    (root / "old.txt").write_text("kept as it was")
    (root / "taken").mkdir()
    return Scene(root)


# Arguments ---------------------------------------------------------------------------------------
#
# Each option has good values and bad ones. An example takes a few options, most with a good
# value, so that it gets past the first check often enough to reach the next one.


def _either(good: list[object], bad: list[object]) -> st.SearchStrategy[object]:
    """Mostly a good value, sometimes a bad one."""
    return st.integers(0, 3).flatmap(lambda i: st.sampled_from(bad if i == 0 and bad else good))


def _files(role: str, good: list[str], bad: list[str]) -> st.SearchStrategy[object]:
    return _either([(role, kind) for kind in good], [(role, kind) for kind in bad])


def _output(extension: str) -> st.SearchStrategy[object]:
    return _files(extension, ["new"], ["existing-file", "existing-dir", "missing-parent"])


def _directory() -> st.SearchStrategy[object]:
    return _files("dir", ["new", "existing-dir"], ["existing-file", "missing-parent"])


@st.composite
def _options(draw: st.DrawFn, table: dict[str, st.SearchStrategy[object]]) -> list[tuple[str, object]]:
    flags = draw(st.lists(st.sampled_from(sorted(table)), max_size=5, unique=True))
    return [(flag, draw(table[flag])) for flag in flags]


def _resolve(scene: Scene, options: list[tuple[str, object]]) -> list[str]:
    argv: list[str] = []
    for flag, value in options:
        if isinstance(value, tuple):
            role, kind = value
            if role == "model":
                suffix, content = MODELS[kind]
                value = scene.file(f"model{suffix}", content)
            elif role == "inputs":
                value = scene.file("x.npy", INPUTS[kind])
            elif role == "toml":
                value = scene.file("chip.toml", kind.encode("utf-8", "surrogateescape") if kind else None)
            elif role == "spec":
                value = scene.file("grid.toml", SPECS[kind].encode("utf-8", "surrogateescape"))
            else:
                value = scene.output(kind, f"out{flag.replace('-', '_')}.{role}")
        argv += [flag] if value is None else [flag, str(value)]
    return argv


BAD_NAMES = ["", "bogus"]
CHIPS = _either(["e16", "e64", "2x2", "1x1", "3x1"], ["64x64", "0x4", *BAD_NAMES])
TOML = st.tuples(
    st.just("toml"),
    _either(
        ["clock_hz = 1e9\n", "[chip]\ncycles_per_activation = 30.0\n", "hop_latency_cycles = 2\n"],
        ["", "rows = = 2\n", "\udcff", *(f"{f} = {v}\n" for f in CHIP_FIELDS for v in CHIP_VALUES)],
    ),
)
COMMON: dict[str, st.SearchStrategy[object]] = {
    "--chip": CHIPS,
    "--chip-config": TOML,
    "--seed": _either(["0", "3", "99999999999999999999"], ["-1", "x", "1.5"]),
}
NETWORK = {
    **COMMON,
    "--layers": _either(["6,5,3", "6,4", "3,2"], ["", "6", "6,0,3", "x,2", "100000000,2", "30000,30000", "6,5,"]),
    "--model": _files("model", ["good", "onnx"], [k for k in MODELS if k not in ("good", "onnx")]),
    "--inputs": _files("inputs", ["good", "one-row"], [k for k in INPUTS if k not in ("good", "one-row")]),
    "--batch": _either(["1", "2"], ["0", "-3", "x", "100000000"]),
    "--hidden-activation": _either(list(ACTIVATIONS[:-1]), ["softmax", *BAD_NAMES]),
    "--feed": _either(["preload", "host"], BAD_NAMES),
    "--output-activation": _either(list(ACTIVATIONS), BAD_NAMES),
}
FORWARD = {
    **NETWORK,
    "--strategy": _either(list(STRATEGIES), BAD_NAMES),
    "--broadcast": _either(list(DELIVERIES), BAD_NAMES),
}
COMMANDS: dict[str, dict[str, st.SearchStrategy[object]]] = {
    "plan": FORWARD,
    "run": {
        **FORWARD,
        "--json": _output("json"),
        "--outputs": _output("npy"),
        "--trace": _output("json"),
        "--report": _output("html"),
        "--plots": _directory(),
    },
    "compare": {
        **NETWORK,
        "--strategies": _either(
            ["partitioned,round-robin", "node-per-core:dram", "allgather"], ["partitioned:fax", *BAD_NAMES]
        ),
        "--json": _output("json"),
    },
    "train": {
        **COMMON,
        "--strategy": _either(list(TRAINERS), BAD_NAMES),
        "--strategies": _either(["single,partitioned", "partitioned,per-neuron"], ["sync,bogus", *BAD_NAMES]),
        "--dataset": _either(["or", "xor"], BAD_NAMES),
        "--samples": _either(["1", "3"], ["0", "-1", "x"]),
        "--layers": _either(["2", "none", "3,2"], ["", "0", "x", "100000000"]),
        "--epochs": _either(["1", "2"], ["0", "-2", "x"]),
        "--lr": _either(["0.3", "1"], ["0", "-1", "nan", "inf", "x"]),
        "--momentum": _either(["0", "0.5"], ["1", "nan", "-0.1"]),
        "--target-loss": _either(["0.001", "10"], ["0", "nan"]),
        "--target-accuracy": _either(["1", "0.1"], ["2", "nan"]),
        "--n-push": _either(["2"], ["0", "x"]),
        "--div": _either(["2"], ["0", "inf"]),
        "--shards": _either(["2"], ["-1", "100"]),
        "--json": _output("json"),
        "--plot": _output("png"),
    },
    "rnn": {
        **COMMON,
        "--layers": _either(["1", "2"], ["0", "-1", "x", "17"]),
        "--hidden": _either(["4", "8"], ["0", "x", "100000"]),
        "--inputs-size": _either(["3"], ["0", "x"]),
        "--steps": _either(["1", "3"], ["0", "-2", "x"]),
        "--order": _either(["serial", "wavefront"], BAD_NAMES),
        "--json": _output("json"),
        "--outputs": _output("npy"),
        "--trace": _output("json"),
        "--plots": _directory(),
    },
    "sweep": {
        "--spec": _files("spec", ["good", "all"], [k for k in SPECS if k not in ("good", "all")]),
        "--out": _directory(),
        "--resume": st.none(),
        "--workers": _either(["1"], ["0", "x"]),
        "--max-runs": _either(["100"], ["1", "0", "x"]),
        "--connect-timeout": _either(["0.1"], ["0", "nan", "-1"]),
    },
}
MICROBENCH: dict[str, st.SearchStrategy[object]] = {
    "--chip": CHIPS,
    "--chip-config": TOML,
    "--size": _either(["64", "4096"], ["0", "-1", "3", "100000000", "x"]),
    "--hops": _either(["1,2"], ["0", "99", "x"]),
    "--streams": _either(["1"], ["0", "99", "x"]),
    "--n": _either(["8", "16"], ["3", "100000", "x"]),
    "--json": _output("json"),
    "--plot": _output("png"),
}
SIM_COMMANDS: dict[str, dict[str, st.SearchStrategy[object]]] = {
    "info": {"--chip": CHIPS, "--chip-config": TOML},
    **{
        f"microbench {kind}": MICROBENCH
        for kind in ("dma", "dma-read", "dram-write", "dram-read", "roundtrip", "contention", "matmul")
    },
    "traffic": {
        "--chip": CHIPS,
        "--chip-config": TOML,
        "--pattern": _either(["uniform", "transpose", "hotspot", "neighbor", "bit-complement"], BAD_NAMES),
        "--rate": _either(["0.1", "1"], ["0", "1.5", "nan", "inf", "x"]),
        "--warmup": _either(["0", "10"], ["-1", "x"]),
        "--drain": _either(["0", "50"], ["-1"]),
        "--seed": _either(["0", "7"], ["-1", "x"]),
        "--hotspot": _either(["0,0"], ["9,9", "x"]),
        "--hotspot-fraction": _either(["0.5"], ["2", "nan"]),
        "--sweep": _either(["0.1:0.2:0.1"], ["0.2:0.1:0.1", "0:1:0.5", "0.001:1:0.00001", "x"]),
        "--trace-window": _either(["10:60"], ["60:10", "x"]),
        "--trace-bin": _either(["20"], ["0", "x"]),
        "--json": _output("json"),
        "--trace": _output("json"),
        "--plot": _output("png"),
    },
}


# The property ------------------------------------------------------------------------------------


def _check(main: Main, program: str, command: str, options: list[tuple[str, object]]) -> int:
    """Run one generated command line, check how it ended, and return its exit status."""
    with tempfile.TemporaryDirectory() as directory:
        scene = _prepare(Path(directory))
        quick = {"sweep": ["--connect-timeout", "0.2"], "traffic": ["--cycles", "120"], "rnn": ["--steps", "2"]}.get(
            command, []
        )
        argv = [*command.split(), *quick, *_resolve(scene, options)]  # a generated option comes later: it wins
        if command == "sweep":
            argv += ["--scheduler", "tcp://127.0.0.1:9"]
        before = scene.snapshot()
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        stdout, stderr = out.getvalue(), err.getvalue()
        after = scene.snapshot()
    event(f"{command}: exit {code}")  # the spread of outcomes, in pytest --hypothesis-show-statistics
    assert not [name for name in after if name.endswith(".tmp")], argv
    if code == 0:
        return code
    if code == 1:
        missed = "NO" in stdout if command in ("run", "compare") else "--target" in " ".join(argv)
        assert missed, (argv, stdout)
        return code
    assert code == 2, (argv, code, stderr)
    lines = stderr.splitlines()
    assert 1 <= len(lines) <= 2, (argv, stderr)
    assert lines[0].startswith(f"{program}: error: "), (argv, stderr)
    assert "Traceback" not in stderr
    assert after == before, argv  # nothing written, nothing changed
    return code


def _nnmap_case() -> st.SearchStrategy[tuple[str, list[tuple[str, object]]]]:
    return st.sampled_from(sorted(COMMANDS)).flatmap(lambda c: st.tuples(st.just(c), _options(COMMANDS[c])))


def _sim_case() -> st.SearchStrategy[tuple[str, list[tuple[str, object]]]]:
    return st.sampled_from(sorted(SIM_COMMANDS)).flatmap(lambda c: st.tuples(st.just(c), _options(SIM_COMMANDS[c])))


QUICK = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # max_examples: the profile's


@pytest.mark.slow
@QUICK
@given(case=_nnmap_case())
def test_nnmap_ends_cleanly_whatever_it_is_given(case: tuple[str, list[tuple[str, object]]]) -> None:
    assert _check(nnmap_main, "nnmap", *case) in (0, 1, 2)


@pytest.mark.slow
@QUICK
@given(case=_sim_case())
def test_epiphany_sim_ends_cleanly_whatever_it_is_given(case: tuple[str, list[tuple[str, object]]]) -> None:
    assert _check(sim_main, "epiphany-sim", *case) in (0, 1, 2)


@pytest.mark.slow
@LONG
@given(case=_nnmap_case())
def test_nnmap_ends_cleanly_over_many_more_cases(case: tuple[str, list[tuple[str, object]]]) -> None:
    assert _check(nnmap_main, "nnmap", *case) in (0, 1, 2)


@pytest.mark.slow
@LONG
@given(case=_sim_case())
def test_epiphany_sim_ends_cleanly_over_many_more_cases(case: tuple[str, list[tuple[str, object]]]) -> None:
    assert _check(sim_main, "epiphany-sim", *case) in (0, 1, 2)
