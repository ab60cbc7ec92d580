"""Run a sweep's grid in parallel on a Dask cluster and record one row per run as it finishes.

``run_sweep`` sends every run of a ``SweepSpec`` (see ``nnmap.sweep_spec``) to Dask workers:
a ``LocalCluster`` of worker processes by default, or an existing cluster at a scheduler
address (its workers must have this package installed). Each worker builds the network and
inputs exactly as ``nnmap run --layers ... --seed ... --batch ...`` does and calls
``nnmap.run.run``, so a row holds the figures ``nnmap run`` prints for the same parameters.

Results land in ``DIR/results.json`` (``{"runs": [row, ...]}``, rewritten atomically after
each run) and ``DIR/results.csv`` (one line appended and flushed after each run), in the
order runs finish. The JSON is the record ``--resume`` trusts: on resume the CSV is
rewritten from it, so a line cut short by a kill cannot survive, and the runs whose
``run_id`` it holds are not run again. A run that raises (a network that does not fit a
chip's SRAM, say) is a row with its ``error`` and no figures; it counts as recorded.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epiphany_sim import progress as progress_lines
from epiphany_sim.config import chip_from_name
from epiphany_sim.errors import SimError
from epiphany_sim.files import TEMPORARY_SUFFIX, json_safe, write_atomic
from nnmap.capacity import check_capacity, fit_hint
from nnmap.errors import MappingError, SweepError
from nnmap.model import random_inputs, random_network
from nnmap.run import run
from nnmap.sweep_spec import RunParams, SweepSpec

RESULTS_CSV = "results.csv"
RESULTS_JSON = "results.json"
DEFAULT_WORKERS = 2
CONNECT_TIMEOUT_S = 10.0
POLL_S = 0.05  # how often the sweep looks for finished runs and for Ctrl-C

PARAM_COLUMNS = (
    "run_id",
    "chip",
    "rows",
    "cols",
    "cores",
    "layers",
    "strategy",
    "broadcast",
    "batch",
    "seed",
    "kernels",
    "hidden_activation",
    "output_activation",
)
METRIC_COLUMNS = (
    "total_cycles",
    "setup_cycles",
    "compute_cycles",
    "readback_cycles",
    "parameters_cycles",
    "per_sample_cycles",
    "single_core_cycles",
    "speedup",
    "time_us",
    "setup_time_us",
    "compute_time_us",
    "readback_time_us",
    "per_sample_time_us",
    "validated",
    "max_abs_error",
    "bytes_on_chip",
    "bytes_off_chip",
    "compute_bytes_on_chip",
    "compute_bytes_off_chip",
    "messages",
    "link_max_utilisation",
)
COLUMNS = (*PARAM_COLUMNS, *METRIC_COLUMNS, "wall_seconds", "error")


def execute(params: RunParams) -> dict[str, Any]:
    """One run of a sweep, as a row of ``COLUMNS``; what it raises goes into ``error``.

    This is what a Dask worker runs: a pure function of ``params`` apart from ``wall_seconds``.
    """
    start = time.perf_counter()
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        run_id=params.run_id,
        chip=params.chip,
        layers=params.layers_text,
        strategy=params.strategy,
        broadcast=params.broadcast,
        batch=params.batch,
        seed=params.seed,
        kernels=params.kernels,
        hidden_activation=params.hidden_activation,
        output_activation=params.output_activation,
    )
    try:
        chip = chip_from_name(params.chip).replace(kernels=params.kernels)
        row.update(rows=chip.rows, cols=chip.cols, cores=chip.n_cores)
        sizes = list(params.layers)
        check_capacity(chip, sizes, params.batch, fit_hint(chip, params.batch), MappingError)
        net = random_network(sizes, params.hidden_activation, params.output_activation, params.seed)
        x = random_inputs(net, params.batch, params.seed)
        metrics = run(chip, net, params.strategy, x, params.broadcast).metrics
        row.update({key: json_safe(metrics[key]) for key in METRIC_COLUMNS})
    except Exception as exc:  # noqa: BLE001 - a failed run is a result of the sweep, not its end
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["wall_seconds"] = time.perf_counter() - start
    return row


def _csv_value(value: Any) -> Any:
    return "" if value is None else value


class ResultStore:
    """The rows of a sweep in ``directory``: ``results.json`` and ``results.csv``, kept in step.

    Args:
        directory: the sweep's ``--out`` directory (it may not exist yet).
        resume: keep the runs already recorded there; without it, existing results are an error.
    """

    def __init__(self, directory: str | Path, resume: bool) -> None:
        self.directory = Path(directory)
        self.json_path = self.directory / RESULTS_JSON
        self.csv_path = self.directory / RESULTS_CSV
        self.rows: list[dict[str, Any]] = []
        if self.directory.exists() and not self.directory.is_dir():
            raise SweepError(f"--out {self.directory} exists and is not a directory")
        if not self.directory.exists() and not self.directory.resolve().parent.is_dir():
            raise SweepError(f"--out {self.directory}: directory {self.directory.parent} does not exist")
        existing = [p for p in (self.json_path, self.csv_path) if p.exists()]
        if existing and not resume:
            raise SweepError(
                f"{existing[0]} already exists: pass --resume to finish that sweep, or choose another --out directory"
            )
        if resume and self.json_path.exists():
            self.rows = self._load()

    def _load(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.json_path.read_text(encoding="utf-8"))
            rows = data["runs"]
            if not all(isinstance(r, dict) and "run_id" in r for r in rows):
                raise TypeError("a run without run_id")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SweepError(f"cannot resume from {self.json_path}: {exc}; move it away to start afresh") from None
        return rows

    @property
    def done_ids(self) -> set[str]:
        """``run_id`` of every recorded run, failed ones included."""
        return {r["run_id"] for r in self.rows}

    def open(self) -> None:
        """Create the directory and both files (the CSV rewritten from the JSON's rows)."""
        try:
            self.directory.mkdir(exist_ok=True)
        except OSError as exc:
            raise SweepError(f"cannot create --out {self.directory}: {exc.strerror or exc}") from None
        for stale in self.directory.glob(f".{RESULTS_JSON}.*{TEMPORARY_SUFFIX}"):  # a kill mid-rewrite leaves these
            stale.unlink()
        self._write_json()
        with self.csv_path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, COLUMNS)
            writer.writeheader()
            writer.writerows({k: _csv_value(r.get(k)) for k in COLUMNS} for r in self.rows)

    def _write_json(self) -> None:
        write_atomic(self.json_path, json.dumps({"columns": list(COLUMNS), "runs": self.rows}, indent=1) + "\n")

    def record(self, row: dict[str, Any]) -> None:
        """Add one finished run: the JSON first (atomic), then one flushed CSV line."""
        self.rows.append(row)
        try:
            self._write_json()
            with self.csv_path.open("a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, COLUMNS).writerow({k: _csv_value(row.get(k)) for k in COLUMNS})
                f.flush()
        except (OSError, SimError) as exc:
            raise SweepError(f"cannot record run {row['run_id']} in {self.directory}: {exc}") from None


@dataclass
class SweepOutcome:
    """What a call of ``run_sweep`` did.

    Attributes:
        total: runs in the spec.
        skipped: runs already recorded (``--resume``), not run again.
        ran: runs finished and recorded by this call.
        failed: of those, runs recorded with an ``error``.
        not_validated: of those, runs whose outputs did not match numpy.
        lost: runs the cluster lost (a worker died): not recorded, ``--resume`` retries them.
        interrupted: the sweep was stopped (Ctrl-C) before every run finished.
        wall_seconds: wall time of this call, cluster start included.
        rows: every recorded row, from earlier calls too.
    """

    total: int
    skipped: int
    ran: int
    failed: int
    not_validated: int
    lost: int
    interrupted: bool
    wall_seconds: float
    rows: list[dict[str, Any]]


def connect(scheduler: str | None, workers: int, timeout_s: float = CONNECT_TIMEOUT_S) -> tuple[Any, Any]:
    """A Dask client: on a new ``LocalCluster`` of ``workers`` processes, or on ``scheduler``.

    Returns ``(client, cluster)``; ``cluster`` is ``None`` for an existing cluster.
    """
    from dask.distributed import Client, LocalCluster  # heavy import: only when a sweep runs

    if scheduler is None:
        # SIGINT ignored is inherited by the workers: Ctrl-C is the sweep's to handle, not theirs. The
        # scheduler's unused HTTP server moves to another port if another cluster holds its own: no need to say.
        with _sigint_ignored(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=f"{timeout_s}s"), None
    except (OSError, ValueError, TimeoutError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored meanwhile, in the main thread: processes started now inherit that.

    A terminal's Ctrl-C reaches every process of the foreground group; Dask's workers,
    started while it was ignored, let the sweep stop them instead of each printing its
    own traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _interrupt_flag() -> Iterator[list[bool]]:
    """While the runs go, Ctrl-C sets ``flag[0]`` instead of raising ``KeyboardInterrupt``.

    Raised inside Dask's client while it waits on its event loop, the interrupt leaves
    tracebacks from that loop on stderr; as a flag the sweep loop sees it within ``POLL_S``
    and stops cleanly. Only the main thread can own the handler; where it cannot, or where
    SIGINT is ignored, nothing changes.
    """
    flag = [False]
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield flag
        return

    def stop(signum: int, frame: Any) -> None:
        flag[0] = True

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    scheduler: str | None = None,
    resume: bool = False,
    workers: int = DEFAULT_WORKERS,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
    on_start: Callable[[int, int], None] | None = None,
) -> SweepOutcome:
    """Run every run of ``spec`` not yet recorded in ``out``, recording each as it finishes.

    Args:
        spec: the checked sweep file.
        out: the output directory; created (its parent must exist).
        scheduler: address of an existing Dask scheduler; a local cluster if ``None``.
        resume: skip the runs ``out`` already holds (without it, existing results are an error).
        workers: worker processes of the local cluster.
        connect_timeout_s: how long to try reaching ``scheduler``.
        on_record: called with each row right after it is written (a progress hook).
        progress: report the runs' progress (``epiphany_sim.progress``; silent outside a command).
        on_start: called with the runs to do and the runs recorded before, once the output
            directory, any results to resume and the cluster have all been checked.

    Nothing is written before the output directory, any results to resume and the cluster
    have all been checked. A ``KeyboardInterrupt`` (Ctrl-C, or raised by ``on_record``) stops
    the sweep and keeps what finished: the outcome says ``interrupted``.
    """
    if workers < 1:
        raise SweepError(f"--workers must be >= 1, got {workers}")
    started = time.perf_counter()
    store = ResultStore(out, resume)
    done = store.done_ids
    todo = [p for p in spec.runs if p.run_id not in done]
    skipped = len(spec.runs) - len(todo)
    ran = failed = not_validated = lost = 0
    if not todo:
        store.open()
        if on_start is not None:
            on_start(0, skipped)
        return SweepOutcome(len(spec.runs), skipped, 0, 0, 0, 0, False, time.perf_counter() - started, store.rows)
    from dask.distributed import as_completed

    client, cluster = connect(scheduler, workers, connect_timeout_s)
    if on_start is not None:
        on_start(len(todo), skipped)
    bar = progress_lines.Bar("runs", len(todo), "runs", enabled=progress)
    futures: list[Any] = []
    interrupted = False
    try:
        store.open()
        futures = [client.submit(execute, p, key=f"nnmap-sweep-{p.run_id}", pure=False) for p in todo]
        pending = as_completed(futures)
        with _interrupt_flag() as ctrl_c:
            while not pending.is_empty():
                if ctrl_c[0]:
                    raise KeyboardInterrupt
                batch = pending.next_batch(block=False)
                if not batch:
                    time.sleep(POLL_S)
                for future in batch:
                    if future.status != "finished":  # the run itself never raises: a worker died under it
                        lost += 1
                        bar.update()
                        continue
                    row = future.result()
                    future.release()  # the row is on disk: the cluster need not keep it
                    store.record(row)
                    ran += 1
                    failed += row["error"] is not None
                    not_validated += row["error"] is None and not row["validated"]
                    bar.update(note=f"{failed} failed" if failed else "")
                    if on_record is not None:
                        on_record(row)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        client.cancel([f for f in futures if not f.done()])
        client.close()
        if cluster is not None:
            cluster.close()
    return SweepOutcome(
        len(spec.runs),
        skipped,
        ran,
        failed,
        not_validated,
        lost,
        interrupted,
        time.perf_counter() - started,
        store.rows,
    )
