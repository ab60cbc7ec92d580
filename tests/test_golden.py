"""No simulated number changes: runs compared exactly with results kept in ``tests/golden/``.

The golden files were captured before the simulator was optimised; an optimisation that
moves one cycle, one byte on one link or one bit of one output fails here. The files are
regenerated only for a deliberate model change (see ``tests/golden/capture.py``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

_CAPTURE_PATH = Path(__file__).parent / "golden" / "capture.py"
_spec = importlib.util.spec_from_file_location("golden_capture", _CAPTURE_PATH)
assert _spec is not None
assert _spec.loader is not None
capture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(capture)


def differences(expected: Any, actual: Any, path: str = "$", limit: int = 12) -> list[str]:
    """Paths at which two JSON-like values differ, at most ``limit`` of them.

    Floats compare with ``==`` after a JSON round trip, so ``0.1 + 0.2`` and ``0.3`` differ;
    NaN equals NaN only where both sides hold one.
    """
    out: list[str] = []

    def walk(e: Any, a: Any, p: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(e, dict) and isinstance(a, dict):
            for key in sorted(set(e) | set(a)):
                if key not in a:
                    out.append(f"{p}.{key}: missing from the run")
                elif key not in e:
                    out.append(f"{p}.{key}: not in the golden file")
                else:
                    walk(e[key], a[key], f"{p}.{key}")
        elif isinstance(e, list) and isinstance(a, list):
            if len(e) != len(a):
                out.append(f"{p}: {len(e)} items golden, {len(a)} now")
            for i, (x, y) in enumerate(zip(e, a, strict=False)):
                walk(x, y, f"{p}[{i}]")
        elif type(e) is not type(a) or (e != a and not (e != e and a != a)):
            out.append(f"{p}: golden {e!r}, now {a!r}")

    walk(expected, actual, path)
    return out


def test_differences_finds_a_changed_float_and_a_missing_key() -> None:
    golden = {"cycles": 12.5, "cores": [{"wait": 3.0}, {"wait": float("nan")}], "gone": 1}
    same = json.loads(json.dumps(golden))
    assert differences(golden, same) == []
    changed = {"cycles": 12.500000000000002, "cores": [{"wait": 3.0}, {"wait": 0.0}]}
    assert differences(golden, changed) == [
        "$.cores[1].wait: golden nan, now 0.0",
        "$.cycles: golden 12.5, now 12.500000000000002",
        "$.gone: missing from the run",
    ]
    assert differences([1, 2], [1.0, 2]) == ["$[0]: golden 1, now 1.0"]


def test_every_case_has_a_golden_file_and_no_file_is_orphaned() -> None:
    files = {path.stem for path in capture.GOLDEN_DIR.glob("*.json")}
    assert files == set(capture.CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(capture.CASES))
def test_simulated_numbers_match_the_golden_file(case: str) -> None:
    golden = json.loads(capture.path_of(case).read_text())
    now = capture.normalise(capture.CASES[case]())
    diff = differences(golden, now)
    assert not diff, f"{case}: simulated numbers changed:\n" + "\n".join(diff)
