"""``nnmap train``, the datasets and the training loop: targets, records, files and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from epiphany_sim.config import E16
from nnmap.cli import main
from nnmap.errors import TrainingError
from nnmap.training import Hyperparameters, get_trainer, load_dataset, network_for, train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["single", "partitioned"])
def test_or_gate_trains_to_seed_000s_error(trainer: str, numpy_forward) -> None:
    data = load_dataset("or")
    net = network_for(data, [], seed=0)
    run = get_trainer(trainer)(E16, net, data, Hyperparameters(lr=1.0, momentum=0.9, epochs=2000, target_loss=0.001))
    result = train(run)
    trained = run.network()
    mse = float(np.mean((numpy_forward(trained, data.x) - data.y) ** 2))  # the tests' own forward pass
    assert mse <= 0.001
    assert float(np.mean((numpy_forward(net, data.x) - data.y) ** 2)) > 0.1
    assert result.reached_target
    # it stopped at the first epoch that met the target
    assert result.records[-2].loss > 0.001 >= result.records[-1].loss
    assert result.records[-1].epoch < 2000


def test_or_and_xor_targets_are_the_gates() -> None:
    for name, gate in (("or", np.logical_or), ("xor", np.logical_xor)):
        data = load_dataset(name, seed=3)
        assert data.x.shape == (4, 2)
        assert sorted(map(tuple, data.x.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        np.testing.assert_array_equal(data.y[:, 0], gate(data.x[:, 0] > 0.5, data.x[:, 1] > 0.5))


@pytest.mark.parametrize(("name", "shape"), [("digits", (1797, 64, 10)), ("iris", (150, 4, 3)), ("wine", (178, 13, 3))])
def test_tables_are_scaled_one_hot_and_in_a_seeded_order(name: str, shape: tuple[int, int, int]) -> None:
    data = load_dataset(name, seed=1)
    assert (data.n_samples, data.n_in, data.n_out) == shape
    assert data.x.dtype == np.float32
    assert data.x.min() == 0.0
    assert data.x.max() == 1.0
    np.testing.assert_array_equal(data.y.sum(axis=1), 1.0)
    again, other = load_dataset(name, seed=1), load_dataset(name, seed=2)
    np.testing.assert_array_equal(again.x, data.x)
    assert not np.array_equal(other.x, data.x)
    # the same samples, only reordered
    np.testing.assert_array_equal(np.sort(other.x, axis=0), np.sort(data.x, axis=0))


@pytest.mark.slow
def test_train_writes_records_and_a_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "or.json", tmp_path / "or.png"
    code = main(
        [
            "train",
            "--chip",
            "e16",
            "--strategies",
            "single,partitioned",
            "--dataset",
            "or",
            "--epochs",
            "3",
            "--lr",
            "0.3",
            "--json",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    assert "partitioned" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert [r["trainer"] for r in doc["runs"]] == ["single", "partitioned"]
    for run in doc["runs"]:
        epochs = run["epochs"]
        assert [e["epoch"] for e in epochs] == [0, 1, 2, 3]
        cycles = [e["cycles"] for e in epochs]
        assert all(a < b for a, b in zip(cycles, cycles[1:], strict=False))
        for e in epochs:
            assert e["time_us"] == pytest.approx(e["cycles"] / run["clock_hz"] * 1e6)
        assert run["totals"]["cycles"] == cycles[-1]
        assert run["totals"]["epochs"] == 3
        assert epochs[-1]["loss"] < epochs[0]["loss"]
    assert doc["runs"][0]["chip"] == "e16-1core"
    assert doc["runs"][1]["chip"] == "e16"
    # partial sums, errors and relays move on the mesh; one core only talks to the host
    assert doc["runs"][1]["totals"]["bytes_on_chip"] > 10 * doc["runs"][0]["totals"]["bytes_on_chip"]
    assert png.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "-0.1"], "learning rate must be a finite number > 0, got -0.1"),
        (["--lr", "inf"], "learning rate must be a finite number > 0, got inf"),
        (["--lr", "nan"], "learning rate must be a finite number > 0, got nan"),
        (["--momentum", "nan"], "momentum must be in [0, 1), got nan"),
        (["--strategy", "sync", "--div", "inf"], "div must be a finite number > 0 (updates are scaled by 1/div)"),
        (["--strategy", "downpour", "--n-push", "0"], "n_push must be >= 1"),
        (["--n-push", "3", "--div", "2"], "--n-push is for downpour only, not partitioned"),
        (["--strategy", "sync", "--div", "2"], "--div is for downpour only, not sync"),
        (
            ["--strategies", "single,per-neuron", "--shards", "2"],
            "--shards is for downpour, hogwild, sync only, not single, per-neuron",
        ),
        (["--strategy", "downpour", "--shards", "5"], "5 shards but only 4 samples"),
        (["--strategies", "single,sync"], "16 shards but only 4 samples"),  # sync: a shard per core
        (["--strategy", "downpour", "--chip", "1x1"], "downpour needs at least 2 cores: one parameter server and one"),
        (["--dataset", "digits", "--layers", "2000"], "use a chip with more cores or SRAM"),
        (["--momentum", "1"], "momentum must be in [0, 1)"),
        (["--epochs", "0"], "epochs must be >= 1"),
        (["--layers", "0"], "--layers (hidden sizes, or 'none') needs 1 or more sizes, all >= 1, got '0'"),
        (["--layers", ""], "--layers (hidden sizes, or 'none') is empty"),
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
        (["--strategy", "single", "--strategies", "single,partitioned"], "either --strategy or --strategies, not both"),
        (["--dataset", "digits", "--layers", "100000000"], "its 7500000010 weights and biases take 30000000040 bytes"),
        (["--strategy", "nope"], "unknown training strategy 'nope'"),
        (["--loss", "hinge"], "invalid choice: 'hinge'"),
    ],
)
def test_bad_hyperparameters_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out, png = tmp_path / "t.json", tmp_path / "t.png"
    code = main(["train", "--dataset", "or", "--epochs", "2", "--json", str(out), "--plot", str(png), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("nnmap: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_network_too_big_for_one_client_is_refused_before_any_strategy_trains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a strategy started training")

    monkeypatch.setattr("nnmap.cli.train.train", no_training)
    out = tmp_path / "t.json"
    code = main(["train", "--strategies", "single,sync", "--dataset", "digits", "--layers", "200", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    # 64 x 200 + 200 + 200 x 10 + 10 parameters; a larger mesh cannot help
    assert "every sync client core holds the whole network (15010 parameters)" in err
    assert "more cores do not help: use a smaller network (--layers)" in err
    assert "batch" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("strategy", ["single", "partitioned", "per-neuron"])
def test_shards_apply_only_to_the_data_parallel_strategies(strategy: str) -> None:
    """Strategies that do not split the data train with any --shards, even more than there are samples."""
    data = load_dataset("or")
    result = train(get_trainer(strategy)(E16, network_for(data, []), data, Hyperparameters(epochs=1, shards=5)))
    assert result.records[-1].epoch == 1


def test_every_optional_hyperparameter_is_a_flag_with_its_help_and_default(capsys) -> None:
    """The flags of ``nnmap train`` come from the dataclass fields alone: each option's flag, help and default."""
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    options = Hyperparameters.options()
    assert list(options) == ["n_push", "n_fetch", "n_shuffle", "div", "shards", "sg_lr"]
    for name, option in options.items():
        flag = "--" + name.replace("_", "-")
        assert f"{flag} {option.metavar}" in text
        assert f"{option.help} (default {option.default:g})" in text
        assert getattr(Hyperparameters(), name) == option.default


@pytest.mark.parametrize(("name", "bad"), [("n_push", 0), ("n_shuffle", -1), ("sg_lr", float("nan")), ("div", 0.0)])
def test_an_option_s_own_check_refuses_a_bad_value(name: str, bad: float) -> None:
    with pytest.raises(TrainingError, match=f"^{name} must be "):
        Hyperparameters(**{name: bad})
