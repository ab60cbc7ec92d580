"""The benchmark scripts run in their short mode and print their figures, so they cannot rot.

They are not timed here: a shared CI machine says nothing about speed. What is checked is
that each script runs to the end and prints every figure it promises, as a number.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a subprocess per benchmark: seconds

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"

# script -> patterns its short output must contain, each with the figure as a number
EXPECTED = {
    "bench_network.py": [
        r"^machine: .+, \d+ cpus, CPython \d+\.\d+",
        rf"^wall seconds: {NUMBER} \(runs ",
        rf"^delivered transactions per wall-second: {NUMBER} .*target 1,000,000: (met|NOT met)",
        r"^one-time compilation: not timed with --short$",
        rf"^bare simpy timeout loop, events per wall-second: {NUMBER}",
        rf"^delivered transactions \(last run\): {NUMBER}; accepted rate 0\.1\d+",
    ],
    "bench_forward.py": [
        r"^machine: .+, \d+ cpus, CPython",
        rf"^wall seconds \(plan \+ simulate\): {NUMBER} \(runs .*plan alone {NUMBER}",
        rf"^simulated cycles: {NUMBER}; messages: {NUMBER}",
        rf"^simulated cycles per wall-second: {NUMBER}",
    ],
    "bench_sparse.py": [
        r"^machine: .+, \d+ cpus, CPython",
        rf"^e16 +random +0\.50 +graph-cut/targeted +{NUMBER} +{NUMBER}x( +{NUMBER}){{4}} +yes",
        rf"^e16 +block-shuffled +0\.90 +partitioned/bidir +{NUMBER} +{NUMBER}x( +{NUMBER}){{4}} +yes",
        r"^runs: 12, validated against numpy: 12$",
        rf"^e16 +block-shuffled +{NUMBER}x \({NUMBER} \.\. {NUMBER}\) +{NUMBER}x \({NUMBER} \.\. {NUMBER}\)",
        rf"^graph-cut of 256,256,10 at 90% random sparsity on e64: wall seconds {NUMBER} \(median of 3, .*"
        rf"target < 10 s: (met|NOT met)\); compute {NUMBER} cycles, speedup {NUMBER}x",
    ],
    "bench_rnn.py": [
        r"^machine: .+, \d+ cpus, CPython",
        rf"^e16 +3 +16 +16 +8 +6,5,5 +{NUMBER} +{NUMBER} +{NUMBER}x +2\.40x +{NUMBER} +yes",
        rf"^e64 +3 +16 +16 +8 +22,21,21 +{NUMBER} +{NUMBER} +{NUMBER}x +2\.40x +{NUMBER} +yes",
        r"^runs: 2, validated against numpy: 2$",
        rf"^simulated cycles per wall-second: {NUMBER}",
        rf"^bare simpy timeout loop, events per wall-second: {NUMBER}",
    ],
    "bench_whole_run.py": [
        r"^machine: .+, \d+ cpus, CPython",
        r"^6,16,4 on e16, asm kernels$",
        r"^6,16,4 on e16, c kernels$",
        rf"^  partitioned/bidir( +{NUMBER}){{5}}  yes$",
        r"^  fastest by total: [a-z-]+/[a-z]+; by compute: [a-z-]+/[a-z]+ \((the same|different)\)$",
        r"^runs: 16, validated against numpy: 16$",
    ],
    "bench_layerwise.py": [
        r"^machine: .+, \d+ cpus, CPython",
        rf"^e16 +64,64,10 +8 +pipeline/stream( +{NUMBER}){{5}} +\d+\+\d+ +yes",
        rf"^e16 +64,64,10 +8 +partitioned/bidir +{NUMBER} +{NUMBER} +- +- +- +all +yes",
        rf"^e16 64,64,10 batch 8: partitioned {NUMBER} cycles per sample, pipeline {NUMBER} \({NUMBER}x\), "
        rf"its steady state {NUMBER} \({NUMBER}x\)",
        rf"^partitioned +e16 +not in 1 +> {NUMBER} +{NUMBER} +{NUMBER}% +1\.00x",
        rf"^dni +e16 +not in 1 +> {NUMBER} +{NUMBER} +{NUMBER}% +{NUMBER}x",
        rf"^e16 +3 +16 +16 +8 +6,5,5 +{NUMBER} +{NUMBER} +{NUMBER}x +2\.40x +{NUMBER} +yes",
        rf"^e64 +3 +16 +16 +8 +22,21,21 +{NUMBER} +{NUMBER} +{NUMBER}x +2\.40x +{NUMBER} +yes",
        r"^runs: 2, validated against numpy: 2$",
    ],
    "bench_tune.py": [
        r"^machine: .+, \d+ cpus, CPython",
        rf"^e16 +6,16,4 +4 +\S+ +{NUMBER} +pipeline:stream/\d+/\w+/\w+/\w+ +{NUMBER} +{NUMBER}x "
        rf"+{NUMBER}% +{NUMBER}% +{NUMBER}",
        r"^tune's winner slower than compare's best: 0 of 1 cases",
        rf"^estimate error of the total over 8 simulated candidates: median {NUMBER}%, 90th percentile {NUMBER}%, "
        rf"worst {NUMBER}%; within 20%: \d+",
        rf"^nnmap tune --chip e16 --layers 6,16,4 \(top 8, 2 workers\): wall seconds {NUMBER} "
        r"\(target < 60 s: (met|NOT met)\)",
        rf"^bare simpy timeout loop, events per wall-second: {NUMBER}",
    ],
    "bench_scale.py": [
        r"^machine: .+, \d+ cpus, CPython",
        rf"^  e16: layers \d+,\d+,10: {NUMBER} weights = {NUMBER}% of SRAM",
        rf"^  e64: layers \d+,\d+,10: {NUMBER} weights",
        rf"^    wall seconds: {NUMBER} .*peak memory: {NUMBER} MiB",
        rf"^  least squares: wall = -?{NUMBER} s \+ -?{NUMBER} us x messages; R\^2 = -?{NUMBER}",
        rf"^ +{NUMBER} +{NUMBER} +{NUMBER} +[+-]{NUMBER} +[+-]{NUMBER}$",
    ],
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_short_mode_prints_its_figures(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--short"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCHMARKS.parent.parent,
    )
    assert done.returncode == 0, done.stderr
    missing = [p for p in EXPECTED[script] if not re.search(p, done.stdout, re.MULTILINE)]
    assert not missing, f"{script} --short printed:\n{done.stdout}\nwithout lines matching {missing}"


def test_the_patterns_reject_output_without_figures() -> None:
    broken = "machine: Linux, x86_64, 2 cpus, CPython 3.11.7\nwall seconds: nan (runs \n"
    assert re.search(EXPECTED["bench_network.py"][0], broken, re.MULTILINE)
    assert not re.search(EXPECTED["bench_network.py"][1], broken, re.MULTILINE)
