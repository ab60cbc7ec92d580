"""``--kernels asm|c`` on nnmap's commands: it reaches the chip config and every JSON output names it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from epiphany_sim import E16, costs
from nnmap.cli import main

RUN = ["run", "--strategy", "partitioned", "--layers", "6,16,4", "--seed", "1"]


def _run_json(tmp_path: Path, *extra: str) -> dict:
    path = tmp_path / f"run{len(list(tmp_path.iterdir()))}.json"
    assert main([*RUN, *extra, "--json", str(path)]) == 0
    return json.loads(path.read_text())


def test_run_kernels_c_prices_the_same_run_as_compiled_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same messages, more compute: a core's 6-input dot product alone costs
    10 + 6 x 8 + 4 = 62 cycles compiled against 10 + 6 + 3 + 8 = 27 hand-scheduled."""
    asm, c = _run_json(tmp_path), _run_json(tmp_path, "--kernels", "c")
    assert (asm["kernels"], c["kernels"]) == ("asm", "c")
    assert c["messages"] == asm["messages"]
    assert c["bytes_on_chip"] == asm["bytes_on_chip"]
    assert c["compute_cycles"] - asm["compute_cycles"] >= costs.dot_cycles(E16.replace(kernels="c"), 6) - 27
    assert c["single_core_cycles"] > asm["single_core_cycles"]
    assert "kernels c" in capsys.readouterr().out
    assert c["validated"] is True


def test_a_chip_file_sets_the_profile_and_the_flag_wins(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[chip]\nkernels = "c"\n')
    from_file = _run_json(tmp_path, "--chip-config", str(toml))
    flag = _run_json(tmp_path, "--chip-config", str(toml), "--kernels", "asm")
    assert (from_file["kernels"], flag["kernels"]) == ("c", "asm")
    assert from_file["compute_cycles"] > flag["compute_cycles"]


def test_compare_json_names_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "cmp.json"
    assert main(["compare", "--strategies", "partitioned", "--kernels", "c", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["kernels"] == "c"


def test_train_json_names_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    args = ["train", "--strategy", "single", "--dataset", "or", "--epochs", "1", "--kernels", "c"]
    assert main([*args, "--json", str(path)]) == 0
    assert json.loads(path.read_text())["runs"][0]["kernels"] == "c"


def test_rnn_json_names_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "rnn.json"
    args = ["rnn", "--chip", "2x3", "--layers", "2", "--hidden", "4", "--steps", "3", "--kernels", "c"]
    assert main([*args, "--json", str(path)]) == 0
    assert json.loads(path.read_text())["kernels"] == "c"
