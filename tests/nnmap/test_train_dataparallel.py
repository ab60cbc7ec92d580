"""Data-parallel trainers (sync, downpour, hogwild) against numpy and two Downpour findings.

The reference SGD is the tests' own (``conftest.py``, float64 back-propagation from the
formulas), so agreement does not trust the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from epiphany_sim.config import E16, chip_from_name
from epiphany_sim.errors import SramOverflowError
from nnmap.errors import TrainingError
from nnmap.model import Network, random_network
from nnmap.training import Hyperparameters, get_trainer, load_dataset, network_for, train
from nnmap.training.datasets import Dataset


def _params(net: Network) -> list[np.ndarray]:
    return [a.astype(np.float64) for layer in net.layers for a in (layer.weights, layer.bias)]


def _data(n_in: int, n_out: int, n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset("random", rng.random((n, n_in), dtype=np.float32), (rng.random((n, n_out)) > 0.5).astype(np.float32))


@pytest.mark.slow
@pytest.mark.parametrize(("chip", "sizes", "samples"), [("e16", [5, 7, 3], 40), ("2x3", [4, 40, 2], 13)])
def test_sync_weights_equal_averaged_gradient_sgd(chip: str, sizes: list[int], samples: int, numpy_sgd) -> None:
    net = random_network(sizes, seed=3)
    data = _data(sizes[0], sizes[-1], samples, seed=4)
    config = chip_from_name(chip)
    trainer = get_trainer("sync")(config, net, data, Hyperparameters(lr=0.5, epochs=2))
    result = train(trainer)
    expected = numpy_sgd(net, data.x, data.y, 0.5, 2, batch=config.n_cores)
    # every batch moves the whole parameter vector up the chain and back down, hop by hop;
    # each core also tells the host, 4 bytes, when it is done with a sample
    n_params = sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))
    batches = -(-samples // config.n_cores)
    per_epoch = batches * 2 * (config.n_cores - 1) * n_params * 4 + samples * 4
    assert result.records[-1].bytes_on_chip - result.records[0].bytes_on_chip == 2 * per_epoch
    got = _params(trainer.network())
    assert max(float(np.max(np.abs(g - e))) for g, e in zip(got, expected, strict=True)) < 1e-5
    moved = max(float(np.max(np.abs(g - p))) for g, p in zip(got, _params(net), strict=True))
    assert moved > 1e-2  # the weights did change: the comparison is not of two untouched copies


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trainer", "chip"), [("downpour", "e16"), ("hogwild", "e16"), ("hogwild", "1x1"), ("sync", "1x1")]
)
def test_one_client_that_pushes_and_fetches_every_step_is_plain_sgd(trainer: str, chip: str, numpy_sgd) -> None:
    """With one client, every update travels to the server (or the shared copy) and back: plain SGD's weights."""
    net = random_network([3, 5, 2], seed=5)
    data = _data(3, 2, 12, seed=6)
    hp = Hyperparameters(lr=0.4, epochs=3, shards=1, n_push=1, n_fetch=1, div=1.0)
    run = get_trainer(trainer)(chip_from_name(chip), net, data, hp)
    train(run)
    got = _params(run.network())  # read from the server core's SRAM
    assert _max_diff(got, numpy_sgd(net, data.x, data.y, 0.4, 3)) < 1e-5
    assert _max_diff(got, _params(net)) > 1e-2


@pytest.mark.slow
def test_hogwild_clients_overwrite_each_other_and_one_client_does_not() -> None:
    """With a host that writes as fast as the eLink carries (9 cycles a transaction), so that the
    host's writes do not spread the clients' starts far apart, the clients' read-add-writes of a
    slice overlap."""
    net = random_network([4, 6, 3], seed=7)
    data = _data(4, 3, 45, seed=8)
    chip = E16.replace(host_sram_write_cycles_per_transaction=9.0)
    many = get_trainer("hogwild")(chip, net, data, Hyperparameters(lr=0.3, epochs=1))
    alone = get_trainer("hogwild")(chip, net, data, Hyperparameters(lr=0.3, epochs=1, shards=1))
    train(many)
    train(alone)
    assert many.overlaps > 0  # read-add-writes in flight at once: some updates are overwritten
    assert alone.overlaps == 0


DOWNPOUR = {"div": 5.0, "n_shuffle": 15, "lr": 0.3}  # DIV about the number of clients, shuffle every 15 epochs


def _downpour_on_iris(n_fetch: int, n_push: int, numpy_forward) -> tuple[float, float, int]:
    """Downpour on iris on a 2x3 mesh (server and 5 clients); initial loss, final loss, epochs run."""
    data = load_dataset("iris")
    net = network_for(data, [8])
    hp = Hyperparameters(epochs=25, target_loss=0.15, n_fetch=n_fetch, n_push=n_push, **DOWNPOUR)
    trainer = get_trainer("downpour")(chip_from_name("2x3"), net, data, hp)
    result = train(trainer)

    def loss(n: Network) -> float:
        return float(np.mean((numpy_forward(n, data.x) - data.y) ** 2))

    return loss(net), loss(trainer.network()), result.records[-1].epoch


@pytest.mark.slow
def test_downpour_converges_with_fetch_as_often_as_push(numpy_forward) -> None:
    """Fetching as often as pushing trains."""
    first, last, epochs = _downpour_on_iris(300, 300, numpy_forward)
    assert last <= 0.15 < first
    assert epochs < 25


@pytest.mark.slow
def test_downpour_fails_with_fetch_far_more_often_than_push(numpy_forward) -> None:
    """Fetching far more often than pushing "couldn't converge and would run for the maximum number
    of epochs". The clients keep restarting from rarely updated parameters while their accrued updates
    pile up, and each push then throws the server's weights far off: the loss ends above where it began."""
    first, last, epochs = _downpour_on_iris(10, 300, numpy_forward)
    assert epochs == 25
    assert last > first


@pytest.mark.parametrize(
    ("trainer", "chip", "changes", "message"),
    [
        ("downpour", "2x3", {"shards": 16}, "2x3 has 5 cores for clients"),
        ("sync", "2x3", {"momentum": 0.5}, "no momentum"),
        ("downpour", "1x1", {}, "downpour needs at least 2 cores: one parameter server and one client"),
        ("downpour", "e16", {"shards": 9}, "9 shards but only 4 samples"),
        ("downpour", "e16", {}, "15 shards but only 4 samples"),  # one per core but the server's
        ("sync", "e16", {}, "16 shards but only 4 samples"),
        ("hogwild", "e16", {"shards": 5}, "5 shards but only 4 samples"),
    ],
)
def test_impossible_setups_are_clear_errors(trainer: str, chip: str, changes: dict, message: str) -> None:
    data = load_dataset("or")
    with pytest.raises(TrainingError, match=message):
        get_trainer(trainer)(chip_from_name(chip), network_for(data, []), data, Hyperparameters(**changes))


@pytest.mark.parametrize("trainer", ["sync", "downpour", "hogwild"])
def test_as_many_shards_as_samples_is_accepted(trainer: str) -> None:
    data = load_dataset("or")
    run = get_trainer(trainer)(E16, network_for(data, []), data, Hyperparameters(shards=4))
    assert run.shards() == 4


def _fits(trainer: str, data: Dataset, hidden: int, hp: Hyperparameters) -> bool:
    """Whether ``trainer`` accepts the network ``[n_in, hidden, n_out]`` on e16 (any other refusal is raised)."""
    try:
        get_trainer(trainer)(E16, network_for(data, [hidden]), data, hp)
    except TrainingError as exc:
        if "does not fit e16" not in str(exc):
            raise
        return False
    return True


def _largest_hidden_layer(trainer: str, data: Dataset, hp: Hyperparameters) -> int:
    """The largest ``h`` for which ``trainer`` accepts the network ``[n_in, h, n_out]`` on e16."""
    accepted, refused = 1, 2
    assert _fits(trainer, data, accepted, hp)
    while _fits(trainer, data, refused, hp):
        accepted, refused = refused, 2 * refused
    while refused - accepted > 1:
        h = (accepted + refused) // 2
        accepted, refused = (h, refused) if _fits(trainer, data, h, hp) else (accepted, h)
    return accepted


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["sync", "downpour", "hogwild", "partitioned", "per-neuron"])
def test_the_sram_check_refuses_exactly_what_the_simulated_sram_cannot_hold(
    trainer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked on construction, before any training: the largest accepted network loads, one neuron more
    overflows the simulator's own allocator once the check is switched off."""
    data = _data(16, 4, 20, seed=9)
    hp = Hyperparameters(shards=2)
    h = _largest_hidden_layer(trainer, data, hp)
    get_trainer(trainer)(E16, network_for(data, [h]), data, hp).start()
    module = {"partitioned": "partitioned", "per-neuron": "per_neuron"}.get(trainer, "dataparallel")
    monkeypatch.setattr(f"nnmap.training.{module}.check_fits", lambda *args: None)
    with pytest.raises(SramOverflowError):
        get_trainer(trainer)(E16, network_for(data, [h + 1]), data, hp).start()


@pytest.mark.parametrize(
    ("trainer", "vectors"), [("sync", "base, sum, new"), ("downpour", "base, acc, fetched"), ("hogwild", "base")]
)
def test_a_network_too_big_for_one_client_says_more_cores_do_not_help(trainer: str, vectors: str) -> None:
    data = _data(64, 10, 20, seed=10)
    net = network_for(data, [80])
    n_params = 64 * 80 + 80 + 80 * 10 + 10  # 24 KB: with one more copy, over a core's 28 KB
    with pytest.raises(TrainingError) as info:
        get_trainer(trainer)(E16, net, data, Hyperparameters(shards=2))
    message = str(info.value)
    assert (
        f"every {trainer} client core holds the whole network ({n_params} parameters) and vectors of that "
        f"size ({vectors}), so more cores do not help: use a smaller network (--layers)" in message
    )
    assert "batch" not in message
    get_trainer("partitioned")(E16, net, data, Hyperparameters())  # spread over 16 cores it fits


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n-push", "0"], "n_push must be >= 1"),
        (["--n-fetch", "0"], "n_fetch must be >= 1"),
        (["--shards", "5"], "5 shards but only 4 samples"),
        (["--div", "0"], "div must be a finite number > 0"),
    ],
)
def test_bad_data_parallel_hyperparameters_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from nnmap.cli import main

    code = main(["train", "--strategy", "downpour", "--dataset", "or", "--epochs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
