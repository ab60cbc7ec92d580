"""The shell examples of README.md and docs/cli.md, run so that they stay true.

Every line of their fenced ``bash`` blocks runs, in document order, from a copy of the
repository's files (with the model and input files the examples name as the reader's own
created there first), with ``nnmap``, ``epiphany-sim`` and ``python`` running this checkout.
Each must exit 0 and write nothing outside ``out/``. A few run in a shorter form, and a few
not at all; ``REDUCED`` and ``SKIPPED`` say which and why.

Each document's examples run in one test, in order, in a copy of their own (so a parallel
run gives each document to one worker whole): ``docs/cli.md``'s reader has made ``out/`` as
README.md says.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "docs/cli.md")
TIMEOUT_S = 300
IGNORED = {"out", "__pycache__", ".pytest_cache", ".hypothesis"}  # where examples may write, and caches

# Lines not run: what they need is not the examples' to give.
SKIPPED = {
    "python -m pytest": "the test suite itself",
    "--scheduler tcp://host:8786": "needs a Dask scheduler at that address",
}
# Examples that take minutes, run with fewer epochs or samples, or their benchmark's --short.
REDUCED = {
    "--dataset digits --layers 16 --epochs 5 --plot out/loss.png": (
        "--dataset digits --layers 16 --epochs 1 --samples 100 --plot out/loss.png",
        "5 epochs of all 1797 digits take 1.5 to 6 minutes",
    ),
    "--sg-lr 0.08 --epochs 4 --plot out/dni.png": (
        "--sg-lr 0.08 --epochs 1 --samples 20 --plot out/dni.png",
        "4 epochs of the three trainers take about 4 minutes",
    ),
    "--sg-lr 0.08 --target-accuracy 0.85 --epochs 8 --plot out/dni-target.png": (
        "--sg-lr 0.08 --epochs 1 --samples 20 --plot out/dni-target.png",
        "up to 8 epochs of the three trainers: minutes (and one epoch misses the target, exit status 1)",
    ),
    "--strategy pipeline --batch 256 --feed host": (
        "--strategy pipeline --batch 8 --feed host",
        "256 samples through the pipeline: 20 to 45 s (tests/nnmap/test_pipeline.py streams more than the SRAM holds)",
    ),
    "--spec benchmarks/sweep_small.toml --out out/sweep/": (
        "--spec grid.toml --out out/sweep/",
        "84 runs: 30 to 80 s (tests/nnmap/test_sweep.py checks the file); the reader's two-run grid instead",
    ),
    "--sweep 0.02:0.5:0.02": ("--sweep 0.1:0.5:0.2", "25 rates on the 8x8 mesh: 10 to 30 s"),
    "--sweep 0.01:0.6:0.05": ("--sweep 0.01:0.6:0.25", "12 rates on the 8x8 mesh: 5 to 15 s"),
    "--target-loss 0.001 --json out/or.json": (
        "--target-loss 0.05 --json out/or.json",
        "a loss of 0.001 takes thousands of epochs: 20 to 45 s; 0.01 takes 552, 0.05 fewer",
    ),
    "--steps 32 --order serial": ("--steps 4 --order serial", "32 steps of 4 layers on the 8x8 mesh: 1 to 2 minutes"),
    "--batch 16 --rank-by per-sample": (
        "--batch 2 --rank-by per-sample",
        "every strategy at batch 16 on the 8x8 mesh: about a minute",
    ),
    "--objective compute --top 4": ("--objective compute --top 1", "4 candidates of 64,256,256,10: 30 to 50 s"),
    "--out out/grid/ --workers 4": ("--out out/grid/ --workers 1", "4 Dask worker processes start: 30 to 60 s"),
    "python benchmarks/bench_layerwise.py ": ("python benchmarks/bench_layerwise.py --short ", "half an hour"),
    "python benchmarks/bench_sparse.py --plot": ("python benchmarks/bench_sparse.py --short --plot", "a minute"),
}


def _commands(document: str) -> list[str]:
    """The command lines of ``document``'s bash blocks, continuation lines joined."""
    text = (ROOT / document).read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return lines


def _as_run(command: str) -> str | None:
    """``command`` as the test runs it: without a leading ``pip install ... &&``, reduced, or None if skipped."""
    command = re.sub(r"^pip install [^&]*&& *", "", command)
    if command.startswith("pip install") or any(key in command for key in SKIPPED):
        return None
    for documented, (reduced, _) in REDUCED.items():
        command = command.replace(documented, reduced)
    return command


def _examples() -> list[tuple[str, str]]:
    """``(where, command)`` of every example, in document order; one shown again (the same words, maybe
    spaced or commented otherwise) is the same example and runs once (a sweep would refuse its own results)."""
    seen: set[str] = set()
    examples = []
    for document in DOCUMENTS:
        for k, command in enumerate(_commands(document)):
            words = " ".join(command.split("#")[0].split())
            if words not in seen:
                seen.add(words)
                examples.append((f"{document}:{k}", command))
    return examples


EXAMPLES = _examples()
RUN = [(where, command) for where, command in EXAMPLES if _as_run(command) is not None]
"""The examples the test runs: every one but those ``SKIPPED`` names and the bare ``pip install``."""


def _own_files(directory: Path) -> None:
    """The model, input and sweep files the examples name as the reader's own, made as the docs say:
    a scikit-learn MLP on the digits saved by ``from_sklearn`` and by skl2onnx without its ZipMap."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from nnmap.model import from_sklearn, random_network
    from nnmap.recurrent.model import random_stack
    from nnmap.sparsity import sparsify

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few iterations make a model good enough to run
        clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0).fit(x, y)
    np.save(directory / "x.npy", x[:4])  # a few samples: each runs on every strategy compare tries
    from_sklearn(clf).save(directory / "digits.npz")
    from_sklearn(clf).save(directory / "mlp.npz")
    np.save(directory / "proba.npy", clf.predict_proba(x[:4]))
    onnx_model = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}})
    (directory / "mlp.onnx").write_bytes(onnx_model.SerializeToString())
    sparsify(random_network([64, 128, 10], "sigmoid", "sigmoid", 0), 0.9, "random", 0).save(directory / "sparse.npz")
    random_stack(3, 32, 32, 0).save(directory / "stack.npz")
    (directory / "grid.toml").write_text(
        'chips = ["e16"]\nlayers = ["16,32,8"]\nstrategies = ["partitioned", "node-per-core"]\n'
    )


def _workdir(base: Path, document: str) -> tuple[Path, dict[str, str]]:
    copy = base / "repo"
    # without the packages: ``python -m`` puts the working directory first on the path, and the checkout's
    # own copy of the fabric has its compiled code cached beside it
    packages = ("epiphany_sim", "nnmap", "tests", "notebooks")
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*IGNORED, *packages, ".*", "site", "*.egg-info"))
    _own_files(copy)
    if document != DOCUMENTS[0]:
        (copy / "out").mkdir()  # as the first document's ``mkdir -p out`` made it
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name, module in (("nnmap", "-m nnmap.cli"), ("epiphany-sim", "-m epiphany_sim.cli"), ("python", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {module} "$@"\n')
        shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    return copy, env


def _files(directory: Path) -> set[str]:
    """Every file under ``directory`` outside ``out/`` and the caches."""
    return {
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and not IGNORED & set(p.relative_to(directory).parts)
    }


@pytest.mark.slow
@pytest.mark.parametrize("document", DOCUMENTS)
def test_examples_run_in_document_order(document: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every example of ``document``, one after the other in one copy, as a reader would type them: each
    exits 0 and writes nothing outside ``out/``. Every failing line is reported, not only the first."""
    copy, env = _workdir(tmp_path_factory.mktemp("examples"), document)
    failures = []
    for where, command in RUN:
        if where.split(":")[0] != document:
            continue
        run = _as_run(command)
        assert run is not None
        before = _files(copy)
        start = time.perf_counter()
        done = subprocess.run(["bash", "-c", run], cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        print(f"{where}: {time.perf_counter() - start:.1f} s: {run}")
        if done.returncode != 0:
            failures.append(f"{where}: exit {done.returncode}: {run}\n{done.stderr[-2000:]}")
        elif _files(copy) != before:
            failures.append(f"{where}: wrote outside out/: {run}")
    assert not failures, "\n\n".join(failures)


def test_every_reduction_and_skip_matches_a_documented_line() -> None:
    """A documented line that changes without its reduction here would run in full, or stop being skipped."""
    commands = [command for _, command in EXAMPLES]
    assert {where.split(":")[0] for where, _ in EXAMPLES} == set(DOCUMENTS)
    for documented in [*REDUCED, *SKIPPED]:
        assert any(documented in command for command in commands), documented


@pytest.mark.slow
def test_the_library_examples_run(tmp_path: Path) -> None:
    """Each ``python`` block of docs/cli.md's "As a library" section, run as a script in a directory of
    its own: it exits 0 and prints that its outputs validated (``True``)."""
    text = (ROOT / "docs/cli.md").read_text()
    section = text.split("## As a library", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "True" in done.stdout, done.stdout
