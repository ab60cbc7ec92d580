"""The training framework: hyperparameters, the trainer interface and the epoch loop.

A trainer is a way to run stochastic gradient descent on a simulated chip. To add one,
define a subclass in its own module of ``nnmap.training`` (importing the package imports
every module, and ``@TRAINERS.add`` registers the subclass under its ``name``)::

    @TRAINERS.add
    class Downpour(Trainer):
        name = "downpour"
        options = ("n_push", "n_fetch")          # the optional hyperparameters it reads

        def __init__(self, config, net, data, hp):  # build and check everything: SRAM fit, shards
            ...
        def shards(self) -> int:                 # data shards the samples are split into
            ...
        def start(self, load=None) -> Meter:     # build the session, load it; totals so far
            ...
        def run_epoch(self, epoch: int) -> Meter:   # simulate epoch (0-based); totals so far
            ...
        def network(self) -> Network:           # the parameters the chip holds now
            ...

``Trainer.__init__(config, net, data, hp)`` keeps its arguments as ``self.config``,
``self.net`` (the initial weights), ``self.data`` and ``self.hp``, and checks that the
network fits the data and can be trained. A subclass's ``__init__`` checks everything else that could stop it (that its
buffers fit the SRAM, ``check_fits``; that every data shard gets a sample,
``check_shards``), so constructing every trainer first refuses a bad setup before any of
them trains. Trainers reach the chip through ``nnmap.session.Session``, whose ``meter``
gives the totals; ``nnmap.training.backprop.BackpropProgram`` builds SGD programs for a
chain of cores (a chain of one core is one client's plain SGD, as ``single`` runs it); its
``feed`` (``nnmap.training.feed``) says how each sample reaches the cores.

``train(trainer)`` runs the loop: ``start``, then ``run_epoch`` until ``hp.epochs`` or the
targets; after setup and after each epoch it evaluates ``network()`` on the whole dataset
with the numpy forward pass. That evaluation is the observer's, outside the simulation:
it costs no simulated time. The result is an ``EpochRecord`` per epoch (epoch 0 is the
untrained network, once loaded) and a ``TrainResult`` whose ``to_dict`` is JSON-ready, its
totals with the phases ``nnmap run`` reports (``TrainResult.phase_figures``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from epiphany_sim.config import ChipConfig
from epiphany_sim.mesh import Coord
from epiphany_sim.registry import Registry
from nnmap import capacity
from nnmap.analysis import per_sample_cycles
from nnmap.errors import TrainingError
from nnmap.loss import LOSSES, accuracy, check_trainable, loss_value
from nnmap.model import Network, random_network
from nnmap.session import Meter
from nnmap.training.datasets import Dataset

TRAINERS: Registry[type[Trainer]] = Registry("trainer")
"""Every trainer by name, in the order their modules were imported; ``@TRAINERS.add`` on a subclass adds it."""


OPTION = "option"
"""The key of an optional field's ``Option`` in its dataclass field's metadata."""


@dataclass(frozen=True)
class Option:
    """What an optional hyperparameter is: its flag's value name and help, and its check.

    Attributes:
        metavar: the name of its value in ``--help``.
        help: what it does.
        valid: whether a value is allowed.
        rule: the allowed values in words, for the error ``<name> must be <rule>, got <value>``.
        default: its default, which ``--help`` gives.
    """

    metavar: str
    help: str
    valid: Callable[[Any], bool]
    rule: str
    default: Any


def option(default: Any, metavar: str, help: str, valid: Callable[[Any], bool], rule: str) -> Any:  # noqa: A002
    """A dataclass field for an optional hyperparameter (``Option``)."""
    return dataclasses.field(default=default, metadata={OPTION: Option(metavar, help, valid, rule, default)})


@dataclass(frozen=True)
class Hyperparameters:
    """How to train; checked on construction.

    Attributes:
        lr: learning rate, finite and > 0.
        momentum: momentum of the weight updates, in [0, 1); 0 is plain SGD.
        loss: ``mse`` or ``cross-entropy`` (see ``nnmap.loss``).
        epochs: cap on the epochs run, >= 1.
        seed: seed of everything random a trainer draws (shuffles, initial weights), >= 0.
        target_loss: stop once the loss is at most this (None: no such target).
        target_accuracy: stop once the accuracy is at least this (None: no such target).

    The fields after these are options (``option``): only the trainers that list them in
    ``Trainer.options`` read them; the others ignore them. Each carries its own help, its
    command-line value name and its check, so a new option is one field here (and its name
    in the ``options`` of the trainers that read it): ``nnmap train`` builds its flag from it.
    """

    lr: float = 0.3
    momentum: float = 0.0
    loss: str = "mse"
    epochs: int = 100
    seed: int = 0
    target_loss: float | None = None
    target_accuracy: float | None = None
    n_push: int = option(1, "N", "push updates every N steps", lambda v: v >= 1, ">= 1 (push every n_push steps)")
    n_fetch: int = option(
        1, "N", "fetch parameters every N steps", lambda v: v >= 1, ">= 1 (fetch every n_fetch steps)"
    )
    n_shuffle: int = option(
        0, "N", "reshuffle shards every N epochs, 0 for never", lambda v: v >= 0, ">= 0 (0: never reshuffle)"
    )
    div: float = option(
        1.0,
        "DIV",
        "scale updates by 1/DIV",
        lambda v: math.isfinite(v) and v > 0,
        "a finite number > 0 (updates are scaled by 1/div)",
    )
    shards: int = option(0, "N", "shards (clients), 0 for one per core", lambda v: v >= 0, ">= 0 (0: one per core)")
    sg_lr: float = option(
        0.1,
        "LR",
        "learning rate of the synthetic-gradient models",
        lambda v: math.isfinite(v) and v > 0,
        "a finite number > 0 (the synthetic-gradient models' learning rate)",
    )

    def __post_init__(self) -> None:
        checks = [
            (math.isfinite(self.lr) and self.lr > 0, f"learning rate must be a finite number > 0, got {self.lr}"),
            (
                math.isfinite(self.momentum) and 0 <= self.momentum < 1,
                f"momentum must be in [0, 1), got {self.momentum}",
            ),
            (self.loss in LOSSES, f"unknown loss {self.loss!r}: use one of {', '.join(LOSSES)}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.target_loss is None or self.target_loss > 0, f"target loss must be > 0, got {self.target_loss}"),
            (
                self.target_accuracy is None or 0 < self.target_accuracy <= 1,
                f"target accuracy must be in (0, 1], got {self.target_accuracy}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainingError(message)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if OPTION in f.metadata and not f.metadata[OPTION].valid(value):
                raise TrainingError(f"{f.name} must be {f.metadata[OPTION].rule}, got {value}")

    def reached(self, loss: float, acc: float) -> bool:
        """Whether every target given is met (False when no target is given)."""
        if self.target_loss is None and self.target_accuracy is None:
            return False
        return (self.target_loss is None or loss <= self.target_loss) and (
            self.target_accuracy is None or acc >= self.target_accuracy
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def options() -> dict[str, Option]:
        """The optional fields, in order, and how each is described and checked (``option``)."""
        return {f.name: f.metadata[OPTION] for f in dataclasses.fields(Hyperparameters) if OPTION in f.metadata}


@dataclass(frozen=True)
class EpochRecord:
    """The state after ``epoch`` epochs; cycles, time and bytes are totals since the start.

    ``epoch_cycles`` are this epoch's own (epoch 0's: the setup, the host loading the
    parameters), and ``per_sample_cycles`` this epoch's time per sample with the weights
    resident (``nnmap.analysis.per_sample_cycles``; None for epoch 0).
    """

    epoch: int
    loss: float
    accuracy: float
    cycles: float
    time_us: float
    bytes_on_chip: int
    bytes_off_chip: int
    epoch_cycles: float = 0.0
    per_sample_cycles: float | None = None


def check_shards(n_shards: int, n_samples: int) -> None:
    """Raise ``TrainingError`` unless every one of ``n_shards`` shards gets a sample."""
    if n_shards > n_samples:
        raise TrainingError(
            f"{n_shards} shards but only {n_samples} samples: every shard needs at least one "
            "sample; use fewer shards (--shards) or a larger dataset"
        )


def check_fits(config: ChipConfig, net: Network, layout: dict[Coord, dict[str, int]], hint: str) -> None:
    """Raise ``TrainingError`` naming the fullest core unless every core's buffers fit its SRAM.

    ``layout`` maps each core to its buffers' float32 element counts; ``hint`` ends the
    message with what to change.
    """
    capacity.check_fits(config, net.sizes, layout, hint, TrainingError)


def bigger_chip_hint(config: ChipConfig) -> str:
    """The advice for a network that does not fit ``config``, naming the larger presets."""
    return f"use a chip with more cores or SRAM ({capacity.larger_presets(config)}) or a smaller network (--layers)"


def network_for(data: Dataset, hidden: Sequence[int], seed: int = 0, activation: str = "sigmoid") -> Network:
    """A seeded random network from ``data``'s inputs through ``hidden`` to its outputs."""
    if any(n < 1 for n in hidden):
        raise TrainingError(f"hidden layer sizes must be >= 1, got {list(hidden)}")
    return random_network([data.n_in, *hidden, data.n_out], activation, "sigmoid", seed)


class Trainer:
    """Trains a network on a simulated chip; see the module docstring for the contract.

    Args:
        config: the chip to train on.
        net: the initial weights.
        data: the training set, in training order.
        hp: the hyperparameters.

    Attributes:
        name: the name the command line and the registry know it by.
        options: the optional ``Hyperparameters`` fields it reads (see ``Hyperparameters``).
    """

    name: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ChipConfig, net: Network, data: Dataset, hp: Hyperparameters) -> None:
        if net.sizes[0] != data.n_in or net.sizes[-1] != data.n_out:
            raise TrainingError(
                f"network {net.sizes} does not fit dataset {data.name} ({data.n_in} inputs, {data.n_out} outputs)"
            )
        check_trainable(hp.loss, [layer.activation for layer in net.layers])
        self.config = config
        self.net = net
        self.data = data
        self.hp = hp

    def shards(self) -> int:
        """Data shards the samples are split into (1: the whole set in one stream)."""
        return 1

    def start(self, load: str | None = None) -> Meter:
        """Build the simulated chip and load it along ``load`` (``nnmap.session.LOADS``; default the
        chip's faster one); return the totals after loading."""
        raise NotImplementedError

    def run_epoch(self, epoch: int) -> Meter:
        """Simulate epoch ``epoch`` (0-based); return the totals since the start."""
        raise NotImplementedError

    def network(self) -> Network:
        """The parameters as the simulated memories hold them now."""
        raise NotImplementedError


@dataclass
class TrainResult:
    """A finished training run: ``samples`` per epoch, a record per epoch (epoch 0: once loaded)."""

    trainer: str
    config: ChipConfig
    dataset: str
    layers: list[int]
    hp: Hyperparameters
    samples: int
    records: list[EpochRecord] = field(default_factory=list)

    def phase_figures(self) -> dict[str, Any]:
        """The run's phases as ``nnmap run`` reports them: setup (the host loading the parameters, before
        epoch 1), compute (every epoch), readback (none: the parameters are read by the observer, not
        over the eLink), total, and the time per sample with the weights resident
        (``nnmap.analysis.per_sample_cycles`` over every sample of every epoch; None before any epoch)."""
        setup, last = self.records[0].cycles, self.records[-1]
        trained = last.epoch * self.samples
        per_sample = per_sample_cycles(last.cycles, setup, trained) if trained else None
        us = self.config.cycles_to_us
        return {
            "setup_cycles": setup,
            "compute_cycles": last.cycles - setup,
            "readback_cycles": 0.0,
            "total_cycles": last.cycles,
            "per_sample_cycles": per_sample,
            "setup_time_us": us(setup),
            "compute_time_us": us(last.cycles - setup),
            "readback_time_us": 0.0,
            "per_sample_time_us": None if per_sample is None else us(per_sample),
        }

    @property
    def reached_target(self) -> bool:
        last = self.records[-1]
        return self.hp.reached(last.loss, last.accuracy)

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain data for JSON: per-epoch records and the totals."""
        last = self.records[-1]
        reached = self.reached_target
        return {
            "trainer": self.trainer,
            "chip": self.config.name,
            "mesh": [self.config.rows, self.config.cols],
            "clock_hz": self.config.clock_hz,
            "kernels": self.config.kernels,
            "dataset": self.dataset,
            "layers": self.layers,
            "hyperparameters": self.hp.to_dict(),
            "epochs": [dataclasses.asdict(r) for r in self.records],
            "reached_target": reached,
            "epochs_to_target": last.epoch if reached else None,
            "time_to_target_us": last.time_us if reached else None,
            "totals": {
                "epochs": last.epoch,
                "cycles": last.cycles,
                "time_us": last.time_us,
                "bytes_on_chip": last.bytes_on_chip,
                "bytes_off_chip": last.bytes_off_chip,
                "final_loss": last.loss,
                "final_accuracy": last.accuracy,
                **self.phase_figures(),
            },
        }


def get_trainer(name: str) -> type[Trainer]:
    """The registered trainer class called ``name``."""
    try:
        return TRAINERS[name]
    except KeyError:
        raise TrainingError(f"unknown training strategy {name!r}: use one of {', '.join(sorted(TRAINERS))}") from None


def takers(option: str) -> list[str]:
    """The trainers that read the optional hyperparameter ``option``, by name."""
    return sorted(name for name, cls in TRAINERS.items() if option in cls.options)


def train(
    trainer: Trainer, progress: Callable[[EpochRecord], None] | None = None, load: str | None = None
) -> TrainResult:
    """Run ``trainer`` epoch by epoch until ``hp.epochs`` or its targets; ``progress`` sees each record."""
    samples = trainer.data.n_samples
    result = TrainResult(trainer.name, trainer.config, trainer.data.name, trainer.net.sizes, trainer.hp, samples)

    def record(epoch: int, meter: Meter) -> EpochRecord:
        y = trainer.network().forward(trainer.data.x)
        before = result.records[-1].cycles if result.records else 0.0
        rec = EpochRecord(
            epoch,
            loss_value(trainer.hp.loss, y, trainer.data.y),
            accuracy(y, trainer.data.y),
            meter.cycles,
            trainer.config.cycles_to_us(meter.cycles),
            meter.bytes_on_chip,
            meter.bytes_off_chip,
            meter.cycles - before,
            per_sample_cycles(meter.cycles, before, samples) if epoch else None,
        )
        result.records.append(rec)
        if progress is not None:
            progress(rec)
        return rec

    rec = record(0, trainer.start(load))
    for epoch in range(trainer.hp.epochs):
        if trainer.hp.reached(rec.loss, rec.accuracy):
            break
        rec = record(epoch + 1, trainer.run_epoch(epoch))
    return result
