"""``nnmap sweep``: a grid of runs on a local Dask cluster, recorded as they finish, resumable.

The failing runs of ``GRID`` follow from the hardware, not from the code under test: a
200x200 layer has 40,000 float32 weights, 160,000 bytes, more than the 4 x 32 KB of SRAM
a 2x2 mesh has in all; on 16 cores it is 10,000 bytes a core, which fits.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from epiphany_sim import progress
from nnmap.analysis import pareto_front
from nnmap.cli import main
from nnmap.sweep import execute
from nnmap.sweep_spec import load_spec, parse_spec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHIPS = ["2x2", "e16"]
LAYERS = ["6,8,4", "8,6", "200,200"]
STRATEGIES = ["partitioned", "node-per-core", "allgather"]
BATCHES = [1, 2]
SEED = 3
GRID = f"""
chips = {json.dumps(CHIPS)}
layers = {json.dumps(LAYERS)}
strategies = {json.dumps(STRATEGIES)}
batches = {json.dumps(BATCHES)}
seeds = [{SEED}]
"""
N_RUNS = len(CHIPS) * len(LAYERS) * len(STRATEGIES) * len(BATCHES)  # 36, of which 6 cannot fit


def _sweep(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sweep", *args])
    return code, out.getvalue(), err.getvalue()


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _json_rows(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["runs"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The GRID sweep, run once through the CLI on a local cluster of 2 workers."""
    base = tmp_path_factory.mktemp("sweep")
    spec = base / "grid.toml"
    spec.write_text(GRID)
    out = base / "out"
    start = time.perf_counter()
    code, stdout, stderr = _sweep("--spec", str(spec), "--out", str(out), "--workers", "2")
    wall = time.perf_counter() - start
    print(f"{N_RUNS}-run sweep on 2 local workers: {wall:.1f} s")
    return {"code": code, "stdout": stdout, "stderr": stderr, "out": out, "spec": spec, "wall": wall}


@pytest.mark.slow
def test_every_run_of_the_grid_is_recorded_once(swept: dict[str, Any]) -> None:
    assert swept["code"] == 0, swept["stderr"]
    rows = _csv_rows(swept["out"] / "results.csv")
    assert len(rows) == N_RUNS
    assert len({r["run_id"] for r in rows}) == N_RUNS
    expected = set(itertools.product(CHIPS, LAYERS, STRATEGIES, map(str, BATCHES)))
    assert {(r["chip"], r["layers"], r["strategy"], r["batch"]) for r in rows} == expected
    assert all(r["seed"] == str(SEED) for r in rows)
    assert [r["run_id"] for r in _json_rows(swept["out"] / "results.json")] == [r["run_id"] for r in rows]
    assert f"{N_RUNS} of {N_RUNS} runs recorded" in swept["stdout"]


@pytest.mark.slow
def test_a_run_that_does_not_fit_is_recorded_with_its_error(swept: dict[str, Any]) -> None:
    rows = _csv_rows(swept["out"] / "results.csv")
    failed = [r for r in rows if r["error"]]
    assert {(r["chip"], r["layers"]) for r in failed} == {("2x2", "200,200")}
    assert len(failed) == len(STRATEGIES) * len(BATCHES)
    for r in failed:
        assert r["error"].startswith("MappingError: ")
        assert "does not fit" in r["error"]
        assert r["total_cycles"] == r["speedup"] == r["validated"] == ""
    ok = [r for r in rows if not r["error"]]
    assert len(ok) == N_RUNS - len(failed) >= 24
    assert all(r["validated"] == "True" and float(r["total_cycles"]) > 0 for r in ok)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chip", "layers", "strategy", "batch"),
    [
        ("e16", "6,8,4", "partitioned", 2),
        ("2x2", "8,6", "allgather", 1),
        ("e16", "200,200", "node-per-core", 1),
    ],
)
def test_a_row_equals_nnmap_run(
    swept: dict[str, Any], tmp_path: Path, chip: str, layers: str, strategy: str, batch: int
) -> None:
    row = next(
        r
        for r in _csv_rows(swept["out"] / "results.csv")
        if (r["chip"], r["layers"], r["strategy"], r["batch"]) == (chip, layers, strategy, str(batch))
    )
    path = tmp_path / "run.json"
    with contextlib.redirect_stdout(io.StringIO()):
        assert (
            main(
                [
                    "run",
                    "--chip",
                    chip,
                    "--layers",
                    layers,
                    "--strategy",
                    strategy,
                    "--batch",
                    str(batch),
                    "--seed",
                    str(SEED),
                    "--json",
                    str(path),
                ]
            )
            == 0
        )
    direct = json.loads(path.read_text())
    assert row["broadcast"] == direct["broadcast"]
    assert row["validated"] == str(direct["validated"])
    for key in (
        "total_cycles",
        "setup_cycles",
        "compute_cycles",
        "readback_cycles",
        "single_core_cycles",
        "speedup",
        "time_us",
        "bytes_on_chip",
        "bytes_off_chip",
        "compute_bytes_on_chip",
        "compute_bytes_off_chip",
        "messages",
        "link_max_utilisation",
        "max_abs_error",
    ):
        assert float(row[key]) == direct[key], key


@pytest.mark.slow
def test_figures_are_written_at_the_end(swept: dict[str, Any]) -> None:
    for name in ("sweep_speedup.png", "sweep_pareto.png"):
        data = (swept["out"] / name).read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 20_000


@pytest.mark.slow
def test_resume_of_a_finished_sweep_runs_nothing(swept: dict[str, Any]) -> None:
    before = (swept["out"] / "results.json").read_text()
    code, stdout, _ = _sweep("--spec", str(swept["spec"]), "--out", str(swept["out"]), "--resume")
    assert code == 0
    assert f"({N_RUNS} from before, 0 now" in stdout
    assert (swept["out"] / "results.json").read_text() == before
    assert len(_csv_rows(swept["out"] / "results.csv")) == N_RUNS


@pytest.mark.slow
def test_existing_results_without_resume_are_an_error(swept: dict[str, Any]) -> None:
    before = (swept["out"] / "results.csv").read_bytes()
    code, stdout, stderr = _sweep("--spec", str(swept["spec"]), "--out", str(swept["out"]))
    assert code == 2
    assert stdout == ""
    assert stderr.startswith("nnmap: error: ")
    assert "--resume" in stderr
    assert stderr.count("\n") == 1
    assert (swept["out"] / "results.csv").read_bytes() == before


# Killed halfway, then resumed -------------------------------------------------------------

SLOW_GRID = """
chips = ["e64"]
layers = ["16,32,8", "32,64,10"]
strategies = ["partitioned", "node-per-core", "round-robin", "allgather"]
batches = [1, 2]
"""
KILL_AFTER_ROWS = 4


def _data_lines(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)  # less the header
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_redoing_a_run(tmp_path: Path) -> None:
    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW_GRID)
    total = len(load_spec(spec).runs)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnmap.cli", "sweep", "--spec", str(spec), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _data_lines(out / "results.csv") < KILL_AFTER_ROWS and proc.poll() is None:
            assert time.monotonic() < deadline, "the sweep recorded too few runs in 120 s"
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its scheduler and its worker processes
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    kept = {r["run_id"]: r for r in _json_rows(out / "results.json")}
    assert KILL_AFTER_ROWS <= len(kept) < total

    code, stdout, stderr = _sweep("--spec", str(spec), "--out", str(out), "--resume")
    assert code == 0, stderr
    assert f"({len(kept)} from before, {total - len(kept)} now" in stdout
    rows = _json_rows(out / "results.json")
    csv_rows = _csv_rows(out / "results.csv")
    ids = [r["run_id"] for r in csv_rows]
    assert sorted(ids) == sorted(p.run_id for p in load_spec(spec).runs)  # each run exactly once
    assert ids == [r["run_id"] for r in rows]
    again = {r["run_id"]: r for r in rows if r["run_id"] in kept}
    assert again == kept  # the rows recorded before the kill, wall_seconds and all, were not redone
    assert all(r["error"] is None and r["validated"] for r in rows)
    assert not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_a_sweep_stopped_from_inside_keeps_what_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same without a subprocess: a KeyboardInterrupt raised after the third row."""
    from nnmap.sweep import run_sweep

    spec = parse_spec(GRID.replace('"200,200"', '"5,3"'))
    seen: list[str] = []

    def interrupt(row: dict[str, Any]) -> None:
        seen.append(row["run_id"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.0)  # every state a line
    with progress.command("nnmap sweep"):
        first = run_sweep(spec, tmp_path / "out", workers=2, on_record=interrupt, progress=False)
    assert first.interrupted
    assert first.ran == 3
    assert [r["run_id"] for r in _csv_rows(tmp_path / "out" / "results.csv")] == seen
    assert "nnmap sweep:" not in capsys.readouterr().err  # no progress when asked for none
    with progress.command("nnmap sweep"):
        second = run_sweep(spec, tmp_path / "out", resume=True, workers=2, progress=True)
    assert not second.interrupted
    assert (second.skipped, second.ran) == (3, N_RUNS - 3)
    assert f"nnmap sweep: runs {N_RUNS - 3}/{N_RUNS - 3} runs" in capsys.readouterr().err  # the runs left to do
    ids = [r["run_id"] for r in _csv_rows(tmp_path / "out" / "results.csv")]
    assert ids[:3] == seen
    assert sorted(ids) == sorted(p.run_id for p in spec.runs)


# Errors: one line, exit 2, nothing written --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('chips = ["e16"\n', "not valid TOML"),
        (GRID + 'colour = "red"\n', "unknown key 'colour'"),
        (GRID.replace('"2x2"', '"e99"'), "unknown chip 'e99'"),
        (GRID.replace('"allgather"', '"telepathy"'), "unknown strategy 'telepathy'"),
        (GRID + 'broadcasts = ["pigeon"]\n', "unknown broadcast 'pigeon'"),
        (GRID.replace('"8,6"', '"8,x"'), "layers entry must be comma-separated integers like 6,16,4, got '8,x'"),
        (GRID.replace('"8,6"', '"8"'), "layers entry needs 2 or more sizes, all >= 1, got '8'"),
        (GRID.replace("batches = [1, 2]", "batches = [0]"), "each of batches must be an integer >= 1, got 0"),
        (GRID.replace("batches = [1, 2]", "batches = 2"), "batches must be a list"),
        (GRID.replace("seeds = [3]", "seeds = []"), "seeds is empty"),
        ('layers = ["6,8,4"]\nstrategies = "all"\n', "missing key 'chips'"),
        (GRID + 'output_activation = "cube"\n', "output_activation must be one of"),
        (GRID.replace('"partitioned"', '"partitioned:fax"'), "unknown broadcast 'fax'"),
        (GRID + 'kernels = ["fortran"]\n', "kernels must hold profile names (asm, c), got 'fortran'"),
        (GRID + 'kernels = "c"\n', "kernels must be a list"),
    ],
)
def test_a_bad_spec_is_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    code, stdout, stderr = _sweep("--spec", str(spec), "--out", str(tmp_path / "out"))
    assert (code, stdout) == (2, "")
    assert stderr.startswith(f"nnmap: error: sweep file {spec}: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert message in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_spec_is_an_error(tmp_path: Path) -> None:
    code, _, stderr = _sweep("--spec", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "does not exist" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "grid.toml"
    spec.write_text(GRID)
    start = time.perf_counter()
    code, stdout, stderr = _sweep(
        "--spec",
        str(spec),
        "--out",
        str(tmp_path / "out"),
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--connect-timeout",
        "1",
    )
    assert time.perf_counter() - start < 20
    assert (code, stdout) == (2, "")
    assert stderr.startswith("nnmap: error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")
    assert stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Port .* is already in use")  # another test's cluster holds the dashboard's port
def test_a_sweep_runs_on_an_existing_cluster_and_leaves_it_running(tmp_path: Path) -> None:
    from dask.distributed import Client, LocalCluster

    spec = tmp_path / "grid.toml"
    spec.write_text(
        'chips = ["2x2"]\nlayers = ["6,8,4"]\nstrategies = ["partitioned", "allgather"]\nbatches = [1, 2]\n'
    )
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        code, stdout, stderr = _sweep(
            "--spec", str(spec), "--out", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address
        )
        assert code == 0, stderr
        assert "4 of 4 runs recorded" in stdout
        with Client(cluster.scheduler_address, timeout="5s") as client:  # still up: the sweep only left it
            assert client.submit(sum, [1, 2], pure=False).result(timeout=10) == 3
    rows = _csv_rows(tmp_path / "out" / "results.csv")
    assert sorted((r["strategy"], r["batch"]) for r in rows) == [
        ("allgather", "1"),
        ("allgather", "2"),
        ("partitioned", "1"),
        ("partitioned", "2"),
    ]
    assert all(r["validated"] == "True" for r in rows)


def test_workers_with_a_scheduler_is_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "grid.toml"
    spec.write_text(GRID)
    code, _, stderr = _sweep(
        "--spec", str(spec), "--out", str(tmp_path / "o"), "--scheduler", "tcp://x:1", "--workers", "3"
    )
    assert code == 2
    assert "--workers" in stderr


# The spec's grid and the figures' data ------------------------------------------------------


def test_explicit_and_default_broadcasts_collapse_to_one_run() -> None:
    spec = parse_spec(
        'chips = ["e16"]\nlayers = ["6,8,4"]\nstrategies = ["partitioned", "allgather:bidir"]\n'
        'broadcasts = ["default", "bidir", "dram"]\n'
    )
    assert [(p.strategy, p.broadcast) for p in spec.runs] == [
        ("partitioned", "bidir"),
        ("partitioned", "dram"),
        ("allgather", "bidir"),
    ]
    assert len({p.run_id for p in spec.runs}) == 3


def test_run_ids_are_stable_and_depend_on_every_parameter() -> None:
    a = parse_spec(GRID).runs
    assert [p.run_id for p in a] == [p.run_id for p in parse_spec(GRID).runs]
    for changed in (
        GRID.replace("seeds = [3]", "seeds = [4]"),
        GRID + 'hidden_activation = "tanh"\n',
        GRID + 'broadcasts = ["oneway"]\n',
        GRID + 'kernels = ["c"]\n',
    ):
        assert not {p.run_id for p in a} & {p.run_id for p in parse_spec(changed).runs}


def test_a_kernels_axis_runs_every_run_with_each_profile() -> None:
    runs = parse_spec(GRID + 'kernels = ["asm", "c"]\n').runs
    assert len(runs) == 2 * N_RUNS
    assert [p.kernels for p in runs[:2]] == ["asm", "c"]
    assert {p.kernels for p in parse_spec(GRID).runs} == {"asm"}


def test_a_sweep_row_is_priced_by_its_kernel_profile() -> None:
    """The same run with compiled kernels: more compute cycles, the same bytes moved."""
    spec = parse_spec('chips = ["e16"]\nlayers = ["6,16,4"]\nstrategies = ["partitioned"]\nkernels = ["asm", "c"]\n')
    asm, c = (execute(p) for p in spec.runs)
    assert (asm["kernels"], c["kernels"]) == ("asm", "c")
    assert c["error"] is None
    assert c["compute_cycles"] > asm["compute_cycles"]
    assert c["bytes_on_chip"] == asm["bytes_on_chip"]


def test_the_example_spec_in_benchmarks_is_valid() -> None:
    spec = load_spec(Path(__file__).parents[2] / "benchmarks" / "sweep_small.toml")
    assert len(spec.runs) >= 24


def test_figure_data_groups_by_workload_and_averages_seeds() -> None:
    from nnmap.analysis import speedup_by_cores, sweep_workloads

    def row(layers: str, batch: int, cores: int, speedup: float | None, error: str | None = None) -> dict[str, Any]:
        return {
            "layers": layers,
            "batch": batch,
            "cores": cores,
            "speedup": speedup,
            "error": error,
            "strategy": "partitioned",
            "broadcast": "bidir",
            "hidden_activation": "sigmoid",
            "output_activation": "sigmoid",
        }

    rows = [
        row("10,4", 2, 16, 3.0),
        row("6,8,4", 1, 16, 2.0),
        row("6,8,4", 1, 16, 4.0),
        row("6,8,4", 1, 4, 1.5),
        row("6,8,4", 1, 64, None, "MappingError: does not fit"),
        row("10,4", 1, 4, 1.0),
    ]
    groups = sweep_workloads(rows)
    assert list(groups) == [
        "network 6,8,4 (sigmoid/sigmoid), batch 1",
        "network 10,4 (sigmoid/sigmoid), batch 1",
        "network 10,4 (sigmoid/sigmoid), batch 2",
    ]
    assert speedup_by_cores(groups["network 6,8,4 (sigmoid/sigmoid), batch 1"]) == {
        "partitioned/bidir": [(4, 1.5), (16, 3.0)]
    }  # the failed 64-core run left out, two seeds averaged


def _dominated(p: tuple[float, float], points: list[tuple[float, float]]) -> bool:
    return any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_is_the_undominated_points(seed: int) -> None:
    import random

    rng = random.Random(seed)
    points = [(float(rng.randint(0, 12)), float(rng.randint(0, 12))) for _ in range(40)]
    front = pareto_front(points)
    assert {points[i] for i in front} == {p for p in points if not _dominated(p, points)}
    assert len(front) == len({points[i] for i in front})  # each point of the front once


# The grid's size: counted from its axes, printed, capped -----------------------------------------------

MILLIONS = """
chips = [{chips}]
layers = [{layers}]
strategies = ["partitioned", "allgather"]
seeds = [{seeds}]
"""


def test_a_grid_beyond_max_runs_is_refused_before_it_is_expanded(tmp_path: Path, monkeypatch) -> None:
    """100 chips x 100 layers x 2 strategies x 1 batch x 100 seeds x 1 kernel profile = 2,000,000 runs."""
    spec = tmp_path / "huge.toml"
    spec.write_text(
        MILLIONS.format(
            chips=", ".join(f'"{r}x{c}"' for r in range(1, 11) for c in range(1, 11)),
            layers=", ".join(f'"6,{n},4"' for n in range(1, 101)),
            seeds=", ".join(map(str, range(100))),
        )
    )

    def never(*_: object) -> None:
        raise AssertionError("the grid was expanded")

    monkeypatch.setattr("nnmap.sweep_spec.itertools.product", never)
    code, stdout, stderr = _sweep("--spec", str(spec), "--out", str(tmp_path / "out"))
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"nnmap: error: sweep file {spec}: 100 chips x 100 layers x 2 strategies x 1 batches x 100 seeds "
        "x 1 kernels make 2000000 runs, more than --max-runs 10000: shrink the grid or raise it\n"
    )
    code, _, stderr = _sweep("--spec", str(spec), "--out", str(tmp_path / "out"), "--max-runs", "1999999")
    assert "2000000 runs, more than --max-runs 1999999" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_run_count_is_printed_first(tmp_path: Path) -> None:
    """Every run already recorded: the count line, then the summary; no cluster is started."""
    spec_path = tmp_path / "grid.toml"
    spec_path.write_text('chips = ["2x2"]\nlayers = ["6,8,4", "8,6"]\nstrategies = ["partitioned"]\n')
    spec = load_spec(spec_path)
    out = tmp_path / "out"
    out.mkdir()
    rows = [execute(p) for p in spec.runs]
    (out / "results.json").write_text(json.dumps({"runs": rows}))
    code, stdout, stderr = _sweep("--spec", str(spec_path), "--out", str(out), "--resume")
    written = [out / name for name in ("results.csv", "results.json", "sweep_speedup.png", "sweep_pareto.png")]
    assert (code, stderr) == (0, f"wrote: {', '.join(map(str, written))}\n")
    assert all(path.is_file() for path in written)
    assert stdout.splitlines()[0] == f"sweep: 2 runs in {spec_path}, 2 recorded before; 0 to run"
    assert stdout.splitlines()[1].startswith(f"sweep: 2 of 2 runs recorded in {out} (2 from before, 0 now")
