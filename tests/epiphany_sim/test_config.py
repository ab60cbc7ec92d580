"""Chip presets, validation and TOML overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from epiphany_sim import E16, E64, EPIPHANY_V, ConfigError, chip_from_name, load_chip


def test_presets_hold_the_datasheet_numbers() -> None:
    assert (E16.rows, E16.cols, E16.clock_hz) == (4, 4, 600e6)
    assert (E64.rows, E64.cols, E64.clock_hz) == (8, 8, 800e6)
    assert (EPIPHANY_V.rows, EPIPHANY_V.cols, EPIPHANY_V.sram_bytes) == (32, 32, 64 * 1024)
    for chip in (E16, E64):
        assert chip.sram_bytes == 32 * 1024
        assert chip.bank_bytes == 8 * 1024
        assert chip.dram_bytes == 32 * 1024 * 1024
        assert chip.dram_base_address == 0x8E000000
        assert chip.hop_latency_cycles == 1.5
        assert chip.cmesh_bytes_per_cycle / chip.elink_bytes_per_cycle == 8


def test_e64_shares_every_per_core_and_per_link_figure_of_the_calibrated_e16() -> None:
    own = {"name", "rows", "cols", "clock_hz"}
    for field in dataclasses.fields(E16):
        if field.name not in own:
            assert getattr(E64, field.name) == getattr(E16, field.name), field.name


def test_the_calibrated_fields_hold_their_fitted_values() -> None:
    # 8 KB to a neighbour in 2404 cycles: setup + 1024 transactions 2 cycles apart + 2.5 + a 5-cycle poll.
    assert E16.dma_setup_cycles + 2 * 1023 + 2.5 + 5 == 2404
    assert 8192 / 2404 * 600e6 / 2**20 == pytest.approx(1949.88, abs=0.01)
    # A byte of framing per 8-byte write in a burst on the eLink: 9 cycles per transaction.
    assert E16.elink_write_cycles_per_transaction == 9


def test_the_elink_packets_hold_the_protocol_s_sizes() -> None:
    # A write packet is bytes B00-B13 of the eLink protocol: control and address (6), data (8);
    # a read request carries its address and the return address instead of data: 14 too, and
    # the protocol bursts writes only, so a read request in a burst costs as much.
    assert E16.elink_write_packet_bytes == E16.elink_write_packet_cycles == 14
    assert E16.elink_read_request_bytes == E16.elink_read_burst_request_bytes == 14
    assert E16.elink_read_cycles_per_request == E16.elink_read_burst_cycles_per_request == 14
    # At 2 bytes a cycle every eLink time halves.
    fast = E16.replace(elink_bytes_per_cycle=2.0)
    assert (fast.elink_write_cycles_per_transaction, fast.elink_write_packet_cycles) == (4.5, 7)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"elink_write_packet_bytes": 8.5},
            r"elink_write_packet_bytes must be >= the 9 bytes of a write in a burst .* got 8.5",
        ),
        (
            {"elink_write_overhead_bytes": 7.0},
            r"elink_write_packet_bytes must be >= the 15 bytes of a write in a burst .* got 14.0",
        ),
        (
            {"elink_read_burst_request_bytes": 15.0},
            r"elink_read_burst_request_bytes must be <= elink_read_request_bytes \(14\), got 15.0",
        ),
        ({"elink_read_burst_request_bytes": 0.0}, "chip field elink_read_burst_request_bytes must be > 0, got 0.0"),
        (
            {"elink_write_packet_bytes": 14.25},
            "elink_write_packet_cycles is 14.25 cycles, not a multiple of the interconnect's 0.5-cycle time grain",
        ),
        (
            {"elink_read_burst_request_bytes": 7.75},
            "elink_read_burst_cycles_per_request is 7.75 cycles, not a multiple of the interconnect's 0.5-cycle",
        ),
        (
            {"elink_bytes_per_cycle": 4.0, "elink_write_overhead_bytes": 0.0, "elink_write_packet_bytes": 13.0},
            "elink_write_packet_cycles is 3.25 cycles, not a multiple",  # a burst's 2 cycles are whole
        ),
        ({"elink_write_packet_bytes": 1025.0}, r"elink_write_packet_cycles is 1025 cycles, more than the 1024"),
        ({"elink_read_burst_request_bytes": float("nan")}, "must be a finite number"),
    ],
)
def test_the_elink_packet_fields_are_checked(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        E16.replace(**changes)


def test_a_packet_may_cost_exactly_a_burst() -> None:
    same = E16.replace(elink_write_packet_bytes=9.0, elink_read_burst_request_bytes=14.0)
    assert same.elink_write_packet_cycles == same.elink_write_cycles_per_transaction == 9
    assert E16.replace(elink_read_burst_request_bytes=0.5).elink_read_burst_cycles_per_request == 0.5


@pytest.mark.parametrize(
    ("name", "rows", "cols", "clock_hz"),
    [
        ("e16", 4, 4, 600e6),
        ("E64", 8, 8, 800e6),
        ("epiphany-v", 32, 32, 1e9),
        ("2x3", 2, 3, 600e6),
        ("1x1", 1, 1, 600e6),
    ],
)
def test_chip_from_name(name: str, rows: int, cols: int, clock_hz: float) -> None:
    chip = chip_from_name(name)
    assert (chip.rows, chip.cols, chip.n_cores, chip.clock_hz) == (rows, cols, rows * cols, clock_hz)


@pytest.mark.parametrize("name", ["e99", "0x4", "4x0", "4x", "x4", "", "4 by 4"])
def test_unknown_or_empty_chip_names_are_config_errors(name: str) -> None:
    with pytest.raises(ConfigError):
        chip_from_name(name)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"rows": 0}, "rows"),
        ({"clock_hz": -1.0}, "clock_hz"),
        ({"hop_latency_cycles": -0.5}, "hop_latency_cycles"),
        ({"elink_bytes_per_cycle": 0.0}, "elink_bytes_per_cycle"),
        ({"sram_bytes": 32770}, "banks"),
        ({"code_bytes": 32 * 1024}, "code_bytes"),
        ({"elink_side": "up"}, "elink_side"),
        ({"rows": 40}, "address map"),
        ({"no_such_field": 1}, "no_such_field"),
        ({"transaction_bytes": 16}, "transaction_bytes must be 8"),
        ({"transaction_bytes": 2, "cmesh_bytes_per_cycle": 4.0, "xmesh_bytes_per_cycle": 4.0}, "transaction_bytes"),
    ],
)
def test_invalid_fields_are_config_errors_that_name_the_problem(changes: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        E16.replace(**changes)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chip.toml"
    path.write_text(text)
    return path


def test_toml_overrides_under_a_chip_table(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[chip]\nclock_hz = 1e9\nwrite_overhead_cycles = 2\nelink_side = "west"\n')
    chip = load_chip("e16", path)
    assert chip.clock_hz == 1e9
    assert chip.write_overhead_cycles == 2.0
    assert isinstance(chip.write_overhead_cycles, float)
    assert chip.elink_side == "west"
    assert (chip.rows, chip.sram_bytes) == (4, 32 * 1024)  # untouched fields keep the preset's


def test_toml_top_level_fields_and_preset(tmp_path: Path) -> None:
    chip = load_chip("e16", _toml(tmp_path, 'preset = "e64"\nsram_bytes = 65536\n'))
    assert (chip.name, chip.rows, chip.cols, chip.sram_bytes) == ("e64", 8, 8, 65536)


def test_no_toml_gives_the_preset() -> None:
    assert load_chip("e64") == E64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[chip]\nclock_mhz = 600\n", "unknown chip field 'clock_mhz'"),
        ('rows = "four"\n', "rows must be int"),
        ("rows = 2.5\n", "rows must be int"),
        ("rows = true\n", "rows must be int"),
        ("elink_side = 3\n", "elink_side must be str"),
        ("clock_hz = = 3\n", "not valid TOML"),
        ("rows = 0\n", "rows must be > 0"),
        ("chip = 3\n", "must be a table"),
        ('preset = "e99"\n', "unknown chip 'e99'"),
    ],
)
def test_bad_toml_files_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_chip("e16", _toml(tmp_path, text))


def test_unreadable_toml_paths_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_chip("e16", tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_chip("e16", tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00rows")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_chip("e16", binary)


@pytest.mark.parametrize(
    "field", ["clock_hz", "hop_latency_cycles", "fpu_latency_cycles", "cycles_per_activation", "cmesh_bytes_per_cycle"]
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(tmp_path: Path, field: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^chip field {field} must be a finite number, got {value}$"):
        load_chip("e16", _toml(tmp_path, f"{field} = {value}\n"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", r"dram_base_address must be an address in \[0x0, 0xffffffff\], got -1"),
        ("0x100000000", r"dram_base_address must be an address in \[0x0, 0xffffffff\], got 4294967296"),
        ("0x8e000004", "dram_base_address 0x8e000004 is not aligned to 8 bytes"),
        ("0xff000000", "the DRAM window .* runs past the end of the 32-bit address map"),
    ],
)
def test_the_dram_window_lies_inside_the_address_map(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_chip("e16", _toml(tmp_path, f"dram_base_address = {value}\n"))
    assert load_chip("e16", _toml(tmp_path, "dram_base_address = 0xfe000000\n")).dram_base_address == 0xFE000000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rows": 4.0}, "chip field rows must be an integer, got 4.0"),
        ({"sram_banks": True}, "chip field sram_banks must be an integer, got True"),
        ({"clock_hz": "fast"}, "chip field clock_hz must be a finite number, got 'fast'"),
        ({"elink_side": 3}, "chip field elink_side must be text, got 3"),
    ],
)
def test_fields_hold_their_declared_kind_from_python_too(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        E16.replace(**changes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hop_latency_cycles = 1e30", "hop_latency_cycles is 1e\\+30 cycles, more than the 1024"),
        ("elink_bytes_per_cycle = 1e-6", "elink_write_cycles_per_transaction is 9e\\+06 cycles, more than the 1024"),
        ("dram_latency_cycles = 1e9", "dram_latency_cycles is 1e\\+09 cycles, more than the 1024"),
        ("fpu_latency_cycles = 1e30", "chip field fpu_latency_cycles must be <= 1000000, got 1e\\+30"),
        ("dma_channels = 1000000000", "chip field dma_channels must be <= 16"),
        ("clock_hz = 1e-300", "chip field clock_hz must be >= 1000"),
        ("sram_bytes = 4294967296", "chip field sram_bytes must be <= 1073741824, got 4294967296"),
    ],
)
def test_finite_but_absurd_values_are_refused(tmp_path: Path, text: str, message: str) -> None:
    """Values no Epiphany comes near that would overflow the clock or allocate terabytes."""
    with pytest.raises(ConfigError, match=message):
        load_chip("e16", _toml(tmp_path, text + "\n"))
