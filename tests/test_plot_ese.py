"""The ``ese-throughput`` plot: ESE's sparse and dense-equivalent GOP/s vs PEs per channel,
beside the paper's 282 GOP/s and 2.52 TOP/s."""

from __future__ import annotations

import pytest

from eie_sim.errors import EieSimError
from eie_sim.plots import ESE_PAPER_GOPS, FIGSIZE, PLOTS, figure, plot_data, sweep_command
from eie_sim.sweep import SweepResult


def row(pes, macs, time_us, density=0.112, arch="ese", **extra):
    return {"arch": arch, "workload": "ese-lstm", "seed": 2016, "engine": "fast",
            "energy_table": "45nm", "num_pes": pes, "status": "ok", "cycles": int(time_us * 200),
            "macs": macs, "time_us": time_us, "weight_density": density, **extra}


def table():
    return SweepResult(rows=[row(64, 23_000_000, 95.0), row(32, 23_000_000, 82.0),
                             row(128, 23_000_000, 130.0)])


def test_data_are_the_rows_gop_per_second_with_the_papers_figures():
    data = plot_data("ese-throughput", table())
    sparse, dense = data["panels"]
    (s,) = sparse["series"]
    assert s["x"] == [32, 64, 128] and s["rows"] == [1, 0, 2]
    for x, y, i in zip(s["x"], s["y"], s["rows"], strict=True):
        r = table().rows[i]
        assert x == r["num_pes"] and y == pytest.approx(2 * r["macs"] / r["time_us"] / 1e3)
    assert dense["series"][0]["y"] == pytest.approx([y / 0.112 for y in s["y"]])
    assert sparse["reference"]["y"] == [ESE_PAPER_GOPS["sparse"]] * 3 == [282.0] * 3
    assert dense["reference"]["y"] == [2520.0] * 3
    assert all(p["xscale"] == "log2" and p["ylabel"] == "throughput (GOP/s)"
               for p in data["panels"])


def test_it_draws_and_writes_png_svg_pdf(tmp_path):
    fig, data = figure("ese-throughput", table(), "column")
    assert tuple(fig.get_size_inches()) == pytest.approx(FIGSIZE["column"]["ese-throughput"])
    assert len(fig.get_axes()) == 2
    paths = PLOTS["ese-throughput"](table(), tmp_path)
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_other_archs_or_missing_columns_are_one_line_errors_naming_the_sweep():
    mixed = SweepResult(rows=[*table().rows, row(32, 1000, 1.0, arch="eie")])
    with pytest.raises(EieSimError, match="--arch ese only.*eie") as err:
        plot_data("ese-throughput", mixed)
    assert sweep_command("ese-throughput") in str(err.value) and "\n" not in str(err.value)
    bare = SweepResult(rows=[{k: v for k, v in r.items() if k != "weight_density"}
                             for r in table().rows])
    with pytest.raises(EieSimError, match="weight_density"):
        plot_data("ese-throughput", bare)
