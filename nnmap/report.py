"""One self-contained HTML page of a run: summary table, validation result, figures inlined.

Each figure is shown under its caption from ``nnmap.plots.RUN_FIGURES``.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import numpy as np

_ROWS = [
    ("chip", "chip", "{}"),
    ("mesh (rows x cols)", "mesh", "{0[0]} x {0[1]}"),
    ("clock", "clock_mhz", "{:.0f} MHz"),
    ("network (layer sizes)", "layers", "{}"),
    ("activations", "activations", "{}"),
    ("strategy", "strategy", "{}"),
    ("broadcast", "broadcast", "{}"),
    ("batch", "batch", "{}"),
    ("setup (host loads over eLink)", "setup_cycles", "{:.1f} cycles"),
    ("compute", "compute_cycles", "{:.1f} cycles"),
    ("readback", "readback_cycles", "{:.1f} cycles"),
    ("total", "total_cycles", "{:.1f} cycles"),
    ("total time", "time_us", "{:.3f} µs"),
    ("compute time", "compute_time_us", "{:.3f} µs"),
    ("single-core compute", "single_core_cycles", "{:.1f} cycles"),
    ("speedup over one core", "speedup", "{:.2f}x"),
    ("busiest mesh link (compute phase)", "link_max_utilisation", "{:.0%}"),
    ("messages", "messages", "{}"),
    ("bytes on chip", "bytes_on_chip", "{} B"),
    ("bytes off chip", "bytes_off_chip", "{} B"),
    ("connections cut", "edges_cut", "{}"),
    ("bytes x hops (compute phase)", "hop_bytes", "{}"),
    ("busiest core's multiply-adds over the mean", "imbalance", "{:.2f}"),
    ("max abs error vs numpy", "max_abs_error", "{:.3g}"),
]

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; }
.ok { color: #1e7b45; font-weight: bold; } .bad { color: #c0392b; font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; margin-bottom: 1.5em; }
"""


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "n/a"
    return fmt.format(value)


def report_html(metrics: dict[str, Any], figures: dict[str, bytes]) -> str:
    """The page of one run.

    Args:
        metrics: ``RunResult.metrics``: the metrics and the cut metrics.
        figures: ``{file name: PNG bytes}`` as made by ``nnmap.plots.run_figures``.
    """
    from nnmap.plots import RUN_FIGURES  # matplotlib only when the report is written

    captions = {figure.file: figure.caption for figure in RUN_FIGURES}
    m = metrics
    util = m["core_utilisation"]
    values = {**m, "clock_mhz": m["clock_hz"] / 1e6}
    rows = [(label, _cell(values.get(key), fmt)) for label, key, fmt in _ROWS]
    rows.append(
        ("core utilisation (compute phase)", f"mean {np.mean(util):.0%}, min {min(util):.0%}, max {max(util):.0%}")
    )
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    ok = m["validated"]
    verdict = (
        f'<p class="{"ok" if ok else "bad"}">Validated against a numpy forward pass: '
        f"{'yes' if ok else 'NO'} (max abs error {_cell(m['max_abs_error'], '{:.3g}')})</p>"
    )
    if "reference" in m:
        r = m["reference"]
        verdict += (
            f'\n<p class="{"ok" if r["validated"] else "bad"}">Validated against {html.escape(r["file"])}: '
            f"{'yes' if r['validated'] else 'NO'} (max abs error {_cell(r['max_abs_error'], '{:.3g}')}, "
            f"tolerance {r['tolerance']:g})</p>"
        )
    images = "\n".join(
        f'<h3>{html.escape(captions.get(name, name))}</h3>\n<img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
        for name, png in figures.items()
    )
    title = f"nnmap run: {m['strategy']} of {m['layers']} on {m['chip']}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{verdict}\n<h2>Summary</h2>\n<table>\n{table}\n</table>\n"
        f"<h2>Figures</h2>\n{images}\n</body></html>\n"
    )
