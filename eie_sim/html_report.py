"""One self-contained HTML page from a run's JSON or a sweep folder (``eie-sim report``).

The page holds everything inline (styles, figures as inline SVG with editable text, no scripts,
no external files): the machines, the layer table, energy by unit and memory traffic, the
sweep's figures (every plot kind the sweep can make), the validation status (outputs against the
reference model; infeasible sweep points) and the provenance (eie_sim version, git commit of the
package when it is a checkout, the source path, every config).
"""

from __future__ import annotations

import html
import io
import json
import subprocess
from pathlib import Path
from typing import Any

from eie_sim.errors import EieSimError

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:2em}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.ok{color:#117733;font-weight:600}.bad{color:#CC3311;font-weight:600}.muted{color:#666}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}pre{background:#f6f6f6;
padding:.5em;overflow:auto;font-size:.8em}.scroll{overflow-x:auto}
"""


def provenance() -> dict[str, str]:
    """eie_sim's version and, when the package is a git checkout, its commit."""
    from eie_sim import __version__

    out = {"eie_sim": __version__}
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5)
        if commit.returncode == 0:
            out["commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                    "--untracked-files=no"], capture_output=True, text=True,
                                   timeout=5)
            if dirty.returncode == 0 and dirty.stdout.strip():
                out["commit"] += " (with uncommitted changes)"
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any) -> str:
    if isinstance(value, _Status):
        return _status(value.flag)
    if isinstance(value, bool):
        return _status(value)
    if value is None:
        return '<span class="muted">–</span>'  # not applicable to this machine
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return _e(value)


class _Status:
    """A check's outcome in a table cell (None: not checked)."""

    def __init__(self, flag: bool | None) -> None:
        self.flag = flag


def _status(flag: bool | None) -> str:
    if flag is None:
        return '<span class="muted">not checked</span>'
    return '<span class="ok">yes</span>' if flag else '<span class="bad">NO</span>'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_num(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _svg(fig) -> str:
    """A figure as inline SVG (text kept as text)."""
    import matplotlib

    from eie_sim.plots import style

    buf = io.StringIO()
    with matplotlib.rc_context(style("page")):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _page(title: str, sections: list[str], source: str, configs: dict[str, Any]) -> str:
    prov = provenance()
    prov_rows = [[k, v] for k, v in prov.items()] + [["source", source]]
    conf = json.dumps(configs, indent=1, sort_keys=True)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1>" + "".join(sections)
            + "<h2 id=\"provenance\">Provenance</h2>" + _table(["", ""], prov_rows)
            + f"<details><summary>configs</summary><pre>{_e(conf)}</pre></details>"
            + "</body></html>\n")


def run_page(data: dict, source: str) -> str:
    """The page of one run (the JSON of ``eie-sim run --json``)."""
    layers = data.get("layers") or []
    if not layers:
        raise EieSimError(f"{source} has no layers; allowed: the JSON of eie-sim run --json")
    unit = layers[0].get("unit_kind", "unit")
    sections = [f"<h2>Machine</h2><p>{_e(data.get('machine', data.get('arch')))}, engine "
                f"{_e(data.get('engine'))}; workload <b>{_e(data.get('workload'))}</b></p>"]
    rows = []
    for lr in layers:
        rows.append([lr["name"], f"{lr['inputs']}×{lr['outputs_count']}",
                     f"{lr['weight_density']:.1%}", f"{lr['activation_density']:.1%}",
                     lr["cycles"], lr["time_us"], f"{lr['load_balance_efficiency']:.1%}",
                     f"{lr['unit_utilization']:.1%}", f"{lr['mac_slot_utilization']:.1%}",
                     (lr.get("energy_pj") or {}).get("total", 0) / 1e6,
                     _Status(lr.get("outputs_match_reference"))])
    sections.append("<h2>Layers</h2>" + _table(
        ["layer", "size", "weights", "activations", "cycles", "time (µs)", "load balance",
         f"{unit} utilization", "MAC-slot utilization", "energy (µJ)", "matches reference"],
        rows))
    if layers[0].get("energy_pj"):
        units: dict[str, float] = {}
        for lr in layers:
            for u, pj in lr["energy_pj"]["by_unit"].items():
                units[u] = units.get(u, 0.0) + pj
        total = sum(units.values()) or 1.0
        sections.append(
            f"<h2>Energy by unit</h2><p>{_e(layers[0]['energy_pj']['table'])} energy table; "
            f"total {total / 1e6:,.4g} µJ</p>" + _energy_bars(units)
            + _table(["unit", "energy (µJ)", "share"],
                     [[u, pj / 1e6, f"{pj / total:.1%}"]
                      for u, pj in sorted(units.items(), key=lambda kv: -kv[1])]))
    traffic: dict[str, list[float]] = {}
    for lr in layers:
        for level, d in lr.get("traffic_bytes", {}).items():
            t = traffic.setdefault(level, [0.0, 0.0])
            t[0] += d["read"]
            t[1] += d["write"]
    sections.append("<h2>Memory traffic</h2>" + _table(
        ["level", "read (bytes)", "write (bytes)"],
        [[lvl, int(r), int(w)] for lvl, (r, w) in traffic.items()]))
    checks = [lr.get("outputs_match_reference") for lr in layers]
    warnings = [f"{lr['name']}: {w}" for lr in layers for w in lr.get("warnings", [])]
    status = ("every layer's outputs equal the reference model bit for bit" if all(checks)
              else "outputs not checked" if any(c is None for c in checks)
              else "some layer's outputs differ from the reference model")
    accuracy = (data.get("info") or {}).get("accuracy")
    acc = (f"<p>accuracy on {_e(accuracy.get('images', '?'))} test images: float "
           f"{accuracy['float_accuracy']:.1%}, simulated {accuracy['simulated_accuracy']:.1%}"
           "</p>") if accuracy else ""
    sections.append(f"<h2>Validation</h2><p>{_status(all(checks) if None not in checks else None)}"
                    f" {_e(status)}</p>{acc}"
                    + "".join(f"<p class=\"bad\">warning: {_e(w)}</p>" for w in warnings))
    return _page(f"eie_sim run: {data.get('workload')}", sections, source,
                 {data.get("machine", "config"): data.get("config", {})})


def _energy_bars(units: dict[str, float]) -> str:
    """A horizontal bar chart of energy by unit (inline SVG, the units' fixed colours)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from eie_sim.plots import unit_colour

    items = sorted(units.items(), key=lambda kv: kv[1])
    fig = Figure(figsize=(7.0, 0.25 * len(items) + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.barh([u for u, _ in items], [pj / 1e6 for _, pj in items],
            color=[unit_colour(u) for u, _ in items])
    if items and items[-1][1] > 20 * max(min(pj for _, pj in items if pj > 0), 1e-300):
        ax.set_xscale("log")
    ax.set_xlabel("energy (µJ)")
    return f"<figure>{_svg(fig)}</figure>"


def sweep_page(directory: Path) -> str:
    """The page of a sweep folder: machines, the table, every figure it can make."""
    from eie_sim.plots import PLOTS, figure
    from eie_sim.sweep import SweepResult

    table = SweepResult.load(directory)
    rows = table.rows
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    machines = sorted({r.get("machine", "") for r in rows if r.get("machine")})
    sections = ["<h2>Machines</h2><ul>" + "".join(f"<li>{_e(m)}</li>" for m in machines)
                + "</ul>"]
    cols = [c for c in ("arch", "workload", "num_pes", "batch", "pattern", "act_queue_depth",
                        "layers", "cycles", "time_us", "load_balance_efficiency", "energy_pj",
                        "dram_read_bytes", "outputs_match_reference", "status")
            if any(c in r for r in rows)]
    sections.append(f"<h2>Points ({len(rows)})</h2>" + _table(
        cols, [[_Status(r.get(c)) if c == "outputs_match_reference" else r.get(c)
                for c in cols] for r in rows]))
    figures = []
    for kind in PLOTS:
        try:
            fig, data = figure(kind, table)
        except EieSimError:
            continue  # this sweep cannot make this kind
        figures.append(f"<figure id=\"{kind}\">{_svg(fig)}<figcaption>{_e(kind)}: "
                       f"{_e(data['title'])}</figcaption></figure>")
    sections.append("<h2>Figures</h2>" + ("".join(figures) or "<p class=\"muted\">no plot kind "
                                          "applies to this sweep</p>"))
    checks = [r.get("outputs_match_reference") for r in ok]
    bad = sum(c is False for c in checks)
    skipped = len(rows) - len(ok)
    sections.append(
        "<h2>Validation</h2>"
        f"<p>{_status(bad == 0 if None not in checks else None)} {len(ok)} points ran; "
        f"outputs equal the reference model in {sum(c is True for c in checks)}, differ in "
        f"{bad}, not checked in {sum(c is None for c in checks)}; {skipped} infeasible</p>")
    configs = table.machines or {}
    return _page(f"eie_sim sweep: {directory.name}", sections, str(directory), configs)


def report(source: str | Path) -> str:
    """The HTML page of ``source``: a run's JSON file or a sweep folder."""
    p = Path(source)
    if p.is_dir():
        return sweep_page(p)
    if not p.is_file():
        raise EieSimError(f"{p} does not exist; allowed: a run's JSON (eie-sim run --json) or a "
                          "sweep folder (eie-sim sweep --out)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EieSimError(f"cannot read {p}: {getattr(err, 'msg', None) or err}; allowed: the "
                          "JSON of eie-sim run --json") from None
    if not isinstance(data, dict) or "layers" not in data:
        raise EieSimError(f"{p} is not a run's JSON (no 'layers'); allowed: the JSON of "
                          "eie-sim run --json, or a sweep folder")
    return run_page(data, str(p))
