"""One self-contained HTML page of a run: where the time went, validation result, summary table, figures inlined.

The page opens with the phase split: setup, compute, readback, their total and the time per
sample with the weights resident, each with its share of the total drawn as a bar, and what
the cores and links did in each phase. Each figure is shown under its caption from
``nnmap.plots.RUN_FIGURES``.
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
.bar { display: inline-block; height: 0.8em; background: #3a75c4; }
"""

_SPLIT = [
    ("setup (host loads the parameters, then the inputs)", "setup_cycles", "setup_time_us"),
    ("compute", "compute_cycles", "compute_time_us"),
    ("readback", "readback_cycles", "readback_time_us"),
    ("total", "total_cycles", "time_us"),
    ("per sample, weights resident", "per_sample_cycles", "per_sample_time_us"),
]
"""The rows of the phase split: label, cycles key, time key."""


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "n/a"
    return fmt.format(value)


def phase_split_html(m: dict[str, Any]) -> str:
    """The page's first section: each phase's cycles, time and share of the total (a bar), then per phase
    the cores' mean utilisation and the links' (``nnmap.run.phase_figures``)."""
    total = m["total_cycles"]
    rows = []
    for label, cycles, time in _SPLIT:
        share = m[cycles] / total if total > 0 else 0.0
        rows.append(
            f"<tr><th>{html.escape(label)}</th><td>{m[cycles]:.1f}</td><td>{m[time]:.3f}</td>"
            f'<td>{share:.1%}</td><td><span class="bar" style="width: {200 * min(share, 1.0):.0f}px"></span></td></tr>'
        )
    head = "<tr><th>phase</th><th>cycles</th><th>µs</th><th>share of total</th><th></th></tr>"
    links = [
        f"<tr><th>{phase}</th><td>{np.mean(f['core_utilisation']):.0%}</td><td>{f['link_max_utilisation']:.0%}</td>"
        f"<td>{f['edge_max_utilisation']:.0%}</td><td>{f['elink_utilisation'].get('elink-in', 0.0):.0%}</td>"
        f"<td>{f['elink_utilisation'].get('elink-out', 0.0):.0%}</td><td>{f['bytes_on_chip']}</td>"
        f"<td>{f['bytes_off_chip']}</td></tr>"
        for phase, f in m["phases"].items()
    ]
    link_head = (
        "<tr><th>phase</th><th>core utilisation (mean)</th><th>busiest mesh link</th><th>busiest eLink edge link</th>"
        "<th>eLink in (host to chip)</th><th>eLink out (chip to host)</th><th>bytes on chip</th>"
        "<th>bytes off chip</th></tr>"
    )
    steady = " (the steady state of the stream)" if m.get("steady_cycles_per_sample") is not None else ""
    return (
        '<h2 id="phase-split">Where the time goes</h2>\n'
        f"<table>\n{head}\n" + "\n".join(rows) + "\n</table>\n"
        f"<p>Per sample{steady}: what another sample costs with the weights left on the chip; the parameters took "
        f"{m['parameters_cycles']:.1f} cycles of the setup to load.</p>\n"
        f"<table>\n{link_head}\n" + "\n".join(links) + "\n</table>\n"
    )


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
        f"<h1>{html.escape(title)}</h1>\n{phase_split_html(m)}{verdict}\n<h2>Summary</h2>\n<table>\n{table}\n</table>\n"
        f"<h2>Figures</h2>\n{images}\n</body></html>\n"
    )
