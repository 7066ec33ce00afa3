"""Plots: every kind through ``eie-sim plot KIND --from DIR`` on small sweeps made here.

Each plot writes a PNG of the documented size (column and page), an SVG whose text is text and a
PDF with embedded TrueType fonts; units and machines keep their colour from figure to figure;
value labels do not overlap; the numbers it draws
(:func:`eie_sim.plots.plot_data`) equal values recomputed here from ``sweep.csv``, and the
artists in the figure carry exactly those numbers. A table that lacks what a plot needs, an
unknown kind or a missing directory is one line on stderr, exit code 2, and no file.
"""

from __future__ import annotations

import copy
import csv
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import eie_sim.sweep as sweep_mod
from eie_sim.cli import main
from eie_sim.errors import EieSimError
from eie_sim.plots import (
    DPI,
    FIGSIZE,
    LOG_SPAN,
    OTHER_UNITS,
    PLOTS,
    UNIT_COLOURS,
    figure,
    machine_colour,
    plot_data,
    unit_colour,
)
from eie_sim.sweep import SweepResult

PREFIX = "eie-sim: error: "
SWEEPS = {
    "pe": "--arch eie,dense --workload alexnet-fc8,neuraltalk-lstm --pes 1,4,16,64 "
          "--sram-capacity unbounded --jobs 2",
    "queue": "--arch eie --workload neuraltalk-lstm --pes 16 --queue-depth 1,2,4,8,32 "
             "--queue-model counter --jobs 1",
    "sparsity": "--arch eie,dense --inputs 600 --outputs 300 --weight-density 0.05,0.2,0.5,1.0 "
                "--activation-density 0.4 --pes 8 --seed 5 --jobs 1",
    "compare": "--arch eie,dense --workload alexnet-fc8,neuraltalk-lstm --pes 16 --jobs 1",
}
KIND_SWEEP = {"pe-sweep": "pe", "queue-depth": "queue", "energy-vs-sparsity": "sparsity",
              "energy-breakdown": "compare", "compare": "compare"}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> dict[str, Path]:
    """The output directories of four small sweeps, made once with the CLI."""
    root = tmp_path_factory.mktemp("sweeps")
    dirs = {}
    for name, args in SWEEPS.items():
        out = root / name
        assert main(["sweep", *args.split(), "--no-progress", "--out", str(out)]) == 0
        dirs[name] = out
    return dirs


def csv_rows(directory: Path) -> list[dict]:
    """sweep.csv with numbers parsed (an independent path from the JSON the plots read)."""
    def parse(v: str):
        if v == "":
            return None
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return v

    with open(directory / "sweep.csv", newline="") as fh:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def run_cli(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code, stdout, err, words):
    assert code == 2
    assert stdout == ""
    assert err.startswith(PREFIX) and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def panel(data: dict, key: str) -> dict:
    return next(p for p in data["panels"] if p["key"] == key)


def series_of(p: dict, arch: str, workload: str) -> dict:
    (s,) = [s for s in p["series"] if s["arch"] == arch and s["workload"] == workload]
    return s


def n_points(p: dict) -> int:
    return sum(len(s["x"]) for s in p["series"])


# ----------------------------------------------------------------------------- files
def svg_texts(path: Path) -> list[str]:
    """The text of every ``<text>`` element of an SVG file."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    return ["".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("kind, size", [(k, "page") for k in KIND_SWEEP]
                         + [("compare", "column"), ("energy-breakdown", "column")])
def test_plot_command_writes_png_svg_and_pdf(capsys, tmp_path, sweeps, kind, size):
    from matplotlib.image import imread

    out = tmp_path / "figs" / "sub"  # created by the plot
    code, stdout, err = run_cli(capsys, ["plot", kind, "--from", str(sweeps[KIND_SWEEP[kind]]),
                                         "--out", str(out), "--size", size])
    assert code == 0, err
    png, svg, pdf = (out / f"{kind}.{fmt}" for fmt in ("png", "svg", "pdf"))
    assert stdout.splitlines() == [str(png), str(svg), str(pdf)]
    assert png.stat().st_size > 10_000 and svg.stat().st_size > 10_000
    image = imread(png)
    width, height = FIGSIZE[size][kind]
    assert width == {"page": 7.0, "column": 3.5}[size]
    assert image.shape[:2] == (round(height * DPI), round(width * DPI))
    assert image.std() > 0.05  # not a blank canvas
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
    # editable: words are <text> elements (not glyph outlines), the title among them
    words = " ".join(svg_texts(svg))
    title = plot_data(kind, SweepResult.load(sweeps[KIND_SWEEP[kind]]))["title"]
    assert title.split()[0] in words and title.split()[-1] in words
    assert "DejaVuSans-" not in text  # no glyph definitions
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    assert b"/FontFile2" in data and b"/Type3" not in data  # embedded TrueType, editable
    assert sorted(p.name for p in out.iterdir()) == sorted([png.name, svg.name, pdf.name])


def test_plot_defaults_to_the_sweep_directory_and_is_deterministic(capsys, tmp_path, sweeps):
    import shutil

    src = tmp_path / "pe"
    shutil.copytree(sweeps["pe"], src)
    assert main(["plot", "pe-sweep", "--from", str(src)]) == 0
    capsys.readouterr()
    files = [src / f"pe-sweep.{fmt}" for fmt in ("png", "svg", "pdf")]
    first = [f.read_bytes() for f in files]
    assert main(["plot", "pe-sweep", "--from", str(src)]) == 0
    capsys.readouterr()
    assert [f.read_bytes() for f in files] == first


# ----------------------------------------------------------------------------- data = table
def test_pe_sweep_data_match_the_table(sweeps):
    rows = csv_rows(sweeps["pe"])
    data = plot_data("pe-sweep", SweepResult.load(sweeps["pe"]))
    speedup, balance = panel(data, "speedup"), panel(data, "load_balance")
    assert n_points(speedup) == n_points(balance) == len(rows) == 16
    groups = defaultdict(list)
    for r in rows:
        groups[r["arch"], r["workload"]].append(r)
    assert len(speedup["series"]) == len(groups) == 4
    for (arch, workload), group in groups.items():
        group.sort(key=lambda r: r["num_pes"])
        base = group[0]["cycles"]
        s, b = series_of(speedup, arch, workload), series_of(balance, arch, workload)
        assert s["x"] == b["x"] == [1, 4, 16, 64]
        assert s["y"] == pytest.approx([base / r["cycles"] for r in group], rel=1e-12)
        assert s["y"][0] == 1.0
        assert b["y"] == pytest.approx([100 * r["load_balance_efficiency"] for r in group])
    assert speedup["reference"]["y"] == [1, 4, 16, 64]
    assert "(×)" in speedup["ylabel"] and "(%)" in balance["ylabel"]


def test_queue_depth_data_match_the_table(sweeps):
    rows = sorted(csv_rows(sweeps["queue"]), key=lambda r: r["act_queue_depth"])
    data = plot_data("queue-depth", SweepResult.load(sweeps["queue"]))
    (s,) = panel(data, "load_balance")["series"]
    assert s["x"] == [1, 2, 4, 8, 32] == [r["act_queue_depth"] for r in rows]
    assert s["y"] == pytest.approx([100 * r["load_balance_efficiency"] for r in rows])
    assert s["y"] == sorted(s["y"])  # deeper queues never balance worse here
    (sp,) = panel(data, "speedup")["series"]
    assert sp["y"] == pytest.approx([rows[0]["cycles"] / r["cycles"] for r in rows])


def test_energy_vs_sparsity_data_match_the_table(sweeps):
    rows = csv_rows(sweeps["sparsity"])
    data = plot_data("energy-vs-sparsity", SweepResult.load(sweeps["sparsity"]))
    energy, latency = panel(data, "energy"), panel(data, "time")
    assert {s["arch"] for s in energy["series"]} == {"eie", "dense"}
    # x is the effective sparsity each machine runs: EIE its non-zeros, the dense machine 0 %
    mine = sorted((r for r in rows if r["arch"] == "eie"),
                  key=lambda r: -r["effective_weight_density"])
    (s,) = [s for s in energy["series"] if s["arch"] == "eie"]
    (t,) = [t for t in latency["series"] if t["arch"] == "eie"]
    assert s["x"] == pytest.approx([100 * (1 - r["effective_weight_density"]) for r in mine])
    assert s["x"] == pytest.approx([0, 50, 80, 95], abs=1.0)
    assert s["y"] == pytest.approx([r["energy_pj"] / 1e6 for r in mine], rel=1e-12)
    assert t["y"] == pytest.approx([r["time_us"] for r in mine], rel=1e-12)
    assert s["y"] == sorted(s["y"], reverse=True)  # sparser -> less energy
    (d,) = [d for d in energy["series"] if d["arch"] == "dense"]
    assert set(d["x"]) == {0.0}  # the dense machine runs every weight at any sparsity
    dense_rows = [r for r in rows if r["arch"] == "dense"]
    assert sorted(d["y"]) == pytest.approx(sorted({r["energy_pj"] / 1e6 for r in dense_rows}))
    assert "(µJ)" in energy["ylabel"] and "effective weight sparsity (%)" == energy["xlabel"]


def test_energy_vs_sparsity_puts_n_m_patterns_and_eie_on_one_axis():
    from eie_sim import EIEConfig, STCConfig

    layer = {"name": "fc", "inputs": 256, "outputs": 64, "activation_density": 0.4, "seed": 1}
    table = sweep_mod.sweep([EIEConfig(num_pes=8), STCConfig.preset("iso-eie")], [layer],
                            {"workload.weight_density": [0.2, 1.0],
                             "pattern": ["4:8", "2:4", "1:4"]}, jobs=1)
    data = plot_data("energy-vs-sparsity", table)
    (tc,) = [s for s in panel(data, "energy")["series"] if s["arch"] == "stc"]
    assert sorted(set(tc["x"])) == pytest.approx([50.0, 75.0])  # 4:8 and 2:4 at 50 %, 1:4
    (eie,) = [s for s in panel(data, "energy")["series"] if s["arch"] == "eie"]
    assert eie["x"] == pytest.approx([0.0, 80.0], abs=1.0)


def test_energy_breakdown_data_match_the_table(sweeps):
    rows = csv_rows(sweeps["compare"])
    table = SweepResult.load(sweeps["compare"])
    data = plot_data("energy-breakdown", table)
    absolute, share = panel(data, "energy"), panel(data, "share")
    bars = absolute["series"][0]["rows"]
    assert sorted(bars) == list(range(len(rows)))  # one bar per row
    units = {c.removeprefix("energy_pj.") for c in rows[0] if c.startswith("energy_pj.")}
    assert {s["label"] for s in absolute["series"]} <= units | {OTHER_UNITS}
    for s in absolute["series"]:  # a segment is one unit, or the units too small to see
        assert set(s["units"]) <= units
        assert (s["label"] == OTHER_UNITS) == (len(s["units"]) > 1)
    for k, i in enumerate(bars):
        row = rows[i]
        assert table.rows[i]["arch"] == row["arch"]
        stacked = sum(s["y"][k] for s in absolute["series"])
        assert stacked == pytest.approx(row["energy_pj"] / 1e6, rel=1e-9)
        assert absolute["totals"][k] == pytest.approx(row["energy_pj"] / 1e6, rel=1e-12)
        assert sum(s["y"][k] for s in share["series"]) == pytest.approx(100.0, rel=1e-9)
        for s in absolute["series"]:
            want = sum((row[f"energy_pj.{u}"] or 0) for u in s["units"]) / 1e6
            assert s["y"][k] == pytest.approx(want, rel=1e-12)
            if s["label"] == OTHER_UNITS:  # each of its units is under 2 % of every bar
                for u in s["units"]:
                    assert (row[f"energy_pj.{u}"] or 0) < 0.02 * row["energy_pj"]
    # bars are grouped by workload, the accelerator first in each label
    labels = absolute["series"][0]["x"]
    assert labels[0].startswith("EIE") and labels[0].endswith("alexnet-fc8")


def test_compare_data_match_the_table(sweeps):
    rows = csv_rows(sweeps["compare"])
    data = plot_data("compare", SweepResult.load(sweeps["compare"]))
    time_p, energy_p, dram_p = (panel(data, k) for k in ("time", "energy", "dram"))
    assert time_p["categories"] == ["alexnet-fc8", "neuraltalk-lstm"]
    assert [s["arch"] for s in time_p["series"]] == ["eie", "dense"]
    for p in (time_p, energy_p, dram_p):
        assert n_points(p) == len(rows) == 4
    for r in rows:
        def at(p, r=r):
            (s,) = [s for s in p["series"] if s["arch"] == r["arch"]]
            return s["y"][s["x"].index(r["workload"])]

        assert at(time_p) == pytest.approx(r["time_us"], rel=1e-12)
        assert at(energy_p) == pytest.approx(r["energy_pj"] / 1e6, rel=1e-12)
        assert at(dram_p) == pytest.approx((r["dram_read_bytes"] + r["dram_write_bytes"]) / 1e6)
    # at 16 PEs the dense AlexNet FC8 weights (512 KB per PE) stream from DRAM, EIE's fit
    dense = [s for s in dram_p["series"] if s["arch"] == "dense"][0]
    eie = [s for s in dram_p["series"] if s["arch"] == "eie"][0]
    assert dense["y"][0] > 0 and eie["y"][0] == 0
    assert "EIE, dense baseline" in data["title"]


@pytest.mark.parametrize("kind", list(KIND_SWEEP))
def test_figure_draws_exactly_the_plot_data(sweeps, kind):
    table = SweepResult.load(sweeps[KIND_SWEEP[kind]])
    fig, data = figure(kind, table)
    axes = fig.get_axes()
    assert len(axes) == len(data["panels"])
    assert fig.legends or any(sub.legends for sub in fig.subfigs), "no legend"
    for ax, p in zip(axes, data["panels"], strict=True):
        assert ax.get_xlabel() in (p["xlabel"], "") and ax.get_ylabel() == p["ylabel"]
        assert "(" in p["ylabel"] and ")" in p["ylabel"]  # a unit
        assert ax.get_yscale() == {"log2": "log"}.get(p["yscale"], p["yscale"])
        if p["xscale"] == "category":
            # (a row of zero-height bars only carries the totals' labels)
            heights = [[bar.get_height() for bar in c] for c in ax.containers
                       if c.get_label() != "_totals"]
            if p.get("totals") and p["yscale"] == "log":  # totals, coloured by machine
                want = [[t for t in p["totals"] if t > 0]]
            else:
                want = [[y for y in s["y"] if p["yscale"] != "log" or y > 0]
                        for s in p["series"]]
            assert len(heights) == len(want)
            for h, w in zip(heights, want, strict=True):
                assert h == pytest.approx(w, rel=1e-12)
        else:
            lines = {line.get_label(): line for line in ax.get_lines()}
            for s in p["series"]:
                assert list(lines[s["label"]].get_xdata()) == pytest.approx(s["x"])
                assert list(lines[s["label"]].get_ydata()) == pytest.approx(s["y"])
    titles = [fig.get_suptitle(), *(sub.get_suptitle() for sub in fig.subfigs)]
    assert any(data["title"] in " ".join(t.split()) for t in titles)


# ----------------------------------------------------------------------------- any archs
def fake_tensor_core(rows: list[dict]) -> list[dict]:
    """Rows as if a 2:4 tensor core ("stc") had run too: EIE's rows with other numbers."""
    extra = []
    for r in rows:
        if r["arch"] == "eie":
            s = copy.deepcopy(r)
            s["arch"] = "stc"
            for k, v in r.items():
                if k in ("cycles", "time_us", "energy_pj") or k.startswith("energy_pj."):
                    s[k] = v * 1.5 if v is not None else v
            s["cycles"] = int(s["cycles"])
            extra.append(s)
    return rows + extra


@pytest.mark.parametrize("kind", list(KIND_SWEEP))
def test_plots_handle_whichever_archs_are_present(tmp_path, sweeps, kind):
    rows = SweepResult.load(sweeps[KIND_SWEEP[kind]]).rows
    with_stc = SweepResult(rows=fake_tensor_core(copy.deepcopy(rows)))
    paths = PLOTS[kind](with_stc, tmp_path / "stc")
    assert all(p.stat().st_size > 0 for p in paths)
    data = plot_data(kind, with_stc)
    labels = " ".join(s["label"] if kind != "energy-breakdown" else " ".join(s["x"])
                      for p in data["panels"] for s in p["series"])
    assert "2:4 tensor core" in labels
    if kind == "compare":
        assert [s["arch"] for s in data["panels"][0]["series"]] == ["eie", "stc", "dense"]
    only_dense = SweepResult(rows=[r for r in rows if r["arch"] == "dense"] or rows)
    assert all(p.stat().st_size > 0 for p in PLOTS[kind](only_dense, tmp_path / "dense"))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kind, src, words", [
    ("queue-depth", "pe", ["queue-depth plot needs", "act_queue_depth",
                           "eie-sim sweep --arch eie", "--queue-model counter"]),
    ("energy-vs-sparsity", "pe", ["--weight-density", "eie-sim sweep --arch eie",
                                  "--inputs 4096"]),
    ("pe-sweep", "compare", ["at least two PE counts", "eie-sim sweep", "--pes 1,2,4"]),
    ("queue-depth", "sparsity", ["no act_queue_depth column", "--queue-depth 1,2,4"]),
], ids=["queue-depth-on-pe-sweep", "sparsity-on-pe-sweep", "pe-sweep-on-one-pe-count",
        "queue-depth-on-sparsity"])
def test_missing_columns_are_one_line_errors(capsys, tmp_path, sweeps, kind, src, words):
    out = tmp_path / "figs"
    before = sorted(p.name for p in sweeps[src].iterdir())
    code, stdout, err = run_cli(capsys, ["plot", kind, "--from", str(sweeps[src]),
                                         "--out", str(out)])
    assert_one_line_error(code, stdout, err, words)
    assert not out.exists()
    assert sorted(p.name for p in sweeps[src].iterdir()) == before


def test_unknown_kind_is_a_one_line_error(capsys, sweeps):
    code, stdout, err = run_cli(capsys, ["plot", "pie", "--from", str(sweeps["pe"])])
    assert_one_line_error(code, stdout, err, ["unknown plot 'pie'", "allowed: pe-sweep"])
    with pytest.raises(EieSimError, match="unknown plot"):
        plot_data("pie", SweepResult.load(sweeps["pe"]))


def test_missing_directory_is_a_one_line_error(capsys, tmp_path):
    missing = tmp_path / "nowhere"
    code, stdout, err = run_cli(capsys, ["plot", "compare", "--from", str(missing)])
    assert_one_line_error(code, stdout, err, ["no sweep results in", "eie-sim sweep"])
    assert not missing.exists()


def test_out_path_that_is_a_file_is_a_one_line_error(capsys, tmp_path, sweeps):
    afile = tmp_path / "afile"
    afile.write_text("keep\n")
    code, stdout, err = run_cli(capsys, ["plot", "compare", "--from", str(sweeps["compare"]),
                                         "--out", str(afile)])
    assert_one_line_error(code, stdout, err, ["is a file", "allowed: a directory"])
    assert afile.read_text() == "keep\n"


def test_empty_table_is_an_error():
    for kind in PLOTS:
        with pytest.raises(EieSimError, match="at least one row"):
            plot_data(kind, SweepResult(rows=[]))


def test_failed_write_keeps_the_old_images(tmp_path, sweeps, monkeypatch):
    import eie_sim.plots as plots_mod

    table = SweepResult.load(sweeps["compare"])
    paths = PLOTS["compare"](table, tmp_path)
    before = [p.read_bytes() for p in paths]

    def no_space(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots_mod.os, "replace", no_space)
    with pytest.raises(EieSimError, match="No space left on device"):
        PLOTS["compare"](table, tmp_path)
    assert [p.read_bytes() for p in paths] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.pdf", "compare.png",
                                                          "compare.svg"]


def test_import_has_no_matplotlib_side_effects():
    code = ("import sys, eie_sim.plots, eie_sim.cli\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported at import time'\n"
            "import matplotlib\n"
            "raw = lambda: dict.__getitem__(matplotlib.rcParams, 'backend')  # no resolving\n"
            "before = raw()\n"
            "from eie_sim.plots import figure\n"
            "from eie_sim.sweep import SweepResult\n"
            "row = dict(arch='eie', workload='w', num_pes=1, cycles=10, time_us=1.0,\n"
            "           load_balance_efficiency=1.0)\n"
            "figure('pe-sweep', SweepResult(rows=[row, {**row, 'num_pes': 2, 'cycles': 6}]))\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n"
            "assert raw() == before\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_speedup_is_relative_to_each_series_smallest_pe_count():
    rows = [dict(arch="eie", workload="a", num_pes=p, cycles=c, time_us=c / 800,
                 load_balance_efficiency=e)
            for p, c, e in ((4, 1000, 1.0), (8, 600, 0.9), (16, 400, 0.75))]
    rows += [dict(arch="eie", workload="b", num_pes=p, cycles=c, time_us=c / 800,
                  load_balance_efficiency=1.0) for p, c in ((8, 300), (16, 200))]
    data = plot_data("pe-sweep", SweepResult(rows=rows))
    a = series_of(panel(data, "speedup"), "eie", "a")
    b = series_of(panel(data, "speedup"), "eie", "b")
    assert a["y"] == pytest.approx([1.0, 1000 / 600, 2.5])
    assert b["x"] == [8, 16] and b["y"] == pytest.approx([1.0, 1.5])
    assert panel(data, "load_balance")["ylim"][0] == 60.0
    assert not any(math.isnan(y) for s in panel(data, "speedup")["series"] for y in s["y"])


def test_arch_specific_settings_do_not_split_or_clutter_the_legend(tmp_path, sweeps):
    """A tensor core has no num_pes and its own clock: still one series per accelerator, labelled
    by the accelerator alone, and the subtitle does not claim a PE count for it."""
    rows = copy.deepcopy(SweepResult.load(sweeps["compare"]).rows)
    for r in rows:
        r["clock_mhz"] = 800.0  # as if swept with one value
    for r in fake_tensor_core(rows)[len(rows):]:
        r.pop("num_pes")
        r["clock_mhz"], r["sms"] = 1410.0, 108
        rows.append(r)
    table = SweepResult(rows=rows)
    for kind in ("compare", "energy-breakdown"):
        data = plot_data(kind, table)
        assert "PEs" not in data["subtitle"]
        if kind == "compare":
            labels = [s["label"] for s in data["panels"][0]["series"]]
            assert labels == ["EIE", "2:4 tensor core", "dense baseline"]
        else:
            assert data["bar_labels"] == ["EIE", "2:4 tensor core", "dense baseline"]
        assert all(p.stat().st_size > 0 for p in PLOTS[kind](table, tmp_path))


def test_roofline_points_sit_under_their_machines_roof(tmp_path):
    from eie_sim import EIEConfig, STCConfig

    table = sweep_mod.sweep([EIEConfig(), STCConfig.preset("a100")], ["alexnet-fc8"],
                            {"batch": [1, 64]}, jobs=1)
    data = plot_data("roofline", table)
    (roof_panel,) = data["panels"]
    roofs = {r["arch"]: r for r in roof_panel["roofs"]}
    for s in roof_panel["series"]:
        roof = roofs[s["arch"]]
        for x, y, on_chip in zip(s["x"], s["y"], s["on_chip"], strict=True):
            bound = roof["peak_gflops"] if on_chip else min(roof["peak_gflops"],
                                                            x * roof["dram_gbps"])
            assert 0 < y <= bound * (1 + 1e-9)
    eie = next(s for s in roof_panel["series"] if s["arch"] == "eie")
    assert eie["on_chip"] == [True]  # EIE keeps FC8 on chip: no DRAM traffic
    assert {r["label"] for r in roof_panel["roofs"]} == {
        "roof of EIE: 102.4 GFLOP/s, 25.6 GB/s",
        "roof of 2:4 tensor core: 312 TFLOP/s, 1555 GB/s"}
    paths = PLOTS["roofline"](table, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)


# ----------------------------------------------------------------------------- paper style
def bar_colours(fig) -> dict[str, tuple]:
    """legend label -> face colour of its bars, over every panel of a figure."""
    out = {}
    for ax in fig.get_axes():
        for c in ax.containers:
            if c.get_label() and not c.get_label().startswith("_"):
                out[c.get_label()] = tuple(c.patches[0].get_facecolor())
    return out


def test_units_and_machines_keep_their_colour_in_every_figure(sweeps):
    from matplotlib.colors import to_rgba

    table = SweepResult.load(sweeps["compare"])
    only_eie = SweepResult(rows=[r for r in table.rows if r["arch"] == "eie"])
    with_stc = SweepResult(rows=fake_tensor_core(copy.deepcopy(table.rows)))
    seen: dict[str, tuple] = {}
    for t, size in ((table, "page"), (only_eie, "column"), (with_stc, "page")):
        fig, _ = figure("energy-breakdown", t, size)
        for unit, colour in bar_colours(fig).items():
            assert colour == to_rgba(unit_colour(unit)), unit
            assert seen.setdefault(unit, colour) == colour
        fig, _ = figure("compare", t, size)
        names = {s["label"]: s["arch"] for s in plot_data("compare", t)["panels"][0]["series"]}
        for label, colour in bar_colours(fig).items():
            assert colour == to_rgba(machine_colour(names[label]))
    assert "pe.spmat_sram" in seen and "dram" in seen
    # the map itself: distinct colours, and a unit it does not list gets a fixed one
    assert len(set(UNIT_COLOURS.values())) == len(UNIT_COLOURS)
    assert unit_colour("pe.new_unit") == unit_colour("pe.new_unit")


def test_log_axes_exactly_where_values_span_more_than_20x(sweeps):
    for kind, src in (("compare", "compare"), ("energy-breakdown", "compare"),
                      ("energy-vs-sparsity", "sparsity")):
        data = plot_data(kind, SweepResult.load(sweeps[src]))
        for p in data["panels"]:
            if p["key"] == "share":
                continue
            values = p.get("totals") or [y for s in p["series"] for y in s["y"]]
            positive = [v for v in values if v > 0]
            assert (p["yscale"] == "log") == (max(positive) > LOG_SPAN * min(positive)), p["key"]
    # EIE's few µJ beside the dense baseline's thousands: a log axis
    rows = [dict(arch="eie", workload="w", energy_pj=19e6, time_us=28.0, dram_read_bytes=0,
                 **{"energy_pj.dram": 0.0, "energy_pj.pe.arith": 19e6}),
            dict(arch="dense", workload="w", energy_pj=13_866e6, time_us=2950.0,
                 dram_read_bytes=0, **{"energy_pj.dram": 13_000e6, "energy_pj.pe.arith": 866e6})]
    data = plot_data("energy-breakdown", SweepResult(rows=rows))
    assert panel(data, "energy")["yscale"] == "log"
    data = plot_data("compare", SweepResult(rows=rows))
    assert panel(data, "energy")["yscale"] == "log" and panel(data, "time")["yscale"] == "log"


def test_an_all_zero_panel_says_so_instead_of_drawing_an_axis_around_zero():
    rows = [dict(arch=a, workload="w", energy_pj=e, time_us=t, dram_read_bytes=0,
                 dram_write_bytes=0) for a, e, t in (("eie", 1e6, 2.0), ("dense", 3e6, 5.0))]
    data = plot_data("compare", SweepResult(rows=rows))
    dram = panel(data, "dram")
    assert dram["note"].startswith("no DRAM traffic") and dram["ylim"] == (0.0, 1.0)
    fig, _ = figure("compare", SweepResult(rows=rows))
    ax = fig.get_axes()[2]
    assert ax.get_ylim() == (0.0, 1.0)
    assert any(" ".join(t.get_text().split()) == dram["note"] for t in ax.texts)  # wrapped


def test_titles_and_notes_name_only_what_the_figure_shows(sweeps):
    for kind, src in (("pe-sweep", "pe"), ("queue-depth", "queue")):
        data = plot_data(kind, SweepResult.load(sweeps[src]))
        assert "energy" not in (data["title"] + data["subtitle"]).lower()
    data = plot_data("energy-breakdown", SweepResult.load(sweeps["compare"]))
    assert "45nm energy table" in data["subtitle"]


@pytest.mark.parametrize("size", ["page", "column"])
@pytest.mark.parametrize("kind", ["compare", "energy-breakdown"])
def test_value_labels_do_not_overlap_and_stay_inside_the_axes(sweeps, kind, size):
    table = SweepResult(rows=fake_tensor_core(
        copy.deepcopy(SweepResult.load(sweeps["compare"]).rows)))
    fig, _ = figure(kind, table, size)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labelled = 0
    for ax in fig.get_axes():
        boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()
                 and t.get_text()[0].isdigit()]
        labelled += len(boxes)
        for i, a in enumerate(boxes):
            assert a.y1 <= ax.bbox.y1 + 0.5, "a value label sticks out of its panel"
            for b in boxes[i + 1:]:
                assert not a.overlaps(b), (a, b)
    assert labelled > 0


@pytest.mark.parametrize("kind", ["pe-sweep", "queue-depth", "energy-vs-sparsity"])
def test_column_figures_are_one_column_wide_with_panels_stacked(sweeps, kind):
    fig, data = figure(kind, SweepResult.load(sweeps[KIND_SWEEP[kind]]), "column")
    assert tuple(fig.get_size_inches()) == pytest.approx(FIGSIZE["column"][kind])
    boxes = [ax.get_position() for ax in fig.get_axes()]
    assert len(boxes) == len(data["panels"]) == 2
    assert boxes[0].y0 > boxes[1].y1  # one above the other, not side by side


def test_unknown_size_is_a_one_line_error(capsys, sweeps):
    code, stdout, err = run_cli(capsys, ["plot", "compare", "--from", str(sweeps["compare"]),
                                         "--size", "poster"])
    assert_one_line_error(code, stdout, err, ["--size", "poster"])
    with pytest.raises(EieSimError, match="unknown figure size 'poster'"):
        figure("compare", SweepResult.load(sweeps["compare"]), "poster")


@pytest.mark.parametrize("size", ["page", "column"])
@pytest.mark.parametrize("kind", ["compare", "energy-breakdown"])
def test_tick_labels_and_panel_notes_stay_clear_of_each_other(sweeps, kind, size):
    """Regression: four long machine labels under one workload ran into one another (they were
    turned only by a count of bars), and a panel's note ("no DRAM traffic: ...") was wrapped to
    the figure's width, running over its neighbour's axis label."""
    rows = SweepResult.load(sweeps["pe"]).rows
    tables = [
        [r for r in rows if r["workload"] == "alexnet-fc8" and r["num_pes"] in (16, 64)],
        [r for r in rows if r["arch"] == "eie" and r["num_pes"] == 64],  # all on chip
    ]
    notes = 0
    for table in tables:
        fig, _ = figure(kind, SweepResult(rows=copy.deepcopy(table)), size)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.get_axes():
            ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels()
                     if t.get_visible() and t.get_text()]
            for i, a in enumerate(ticks):
                for b in ticks[i + 1:]:
                    assert not a.overlaps(b), (kind, size, a, b)
            for t in ax.texts:
                if t.get_transform() == ax.transAxes:  # a panel's note
                    box = t.get_window_extent(renderer)
                    assert ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1, (kind, size, box)
                    notes += 1
    assert notes == (1 if kind == "compare" else 0)
