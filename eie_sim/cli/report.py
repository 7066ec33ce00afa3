"""``eie-sim report``: one self-contained HTML page from a run's JSON or a sweep folder."""

from __future__ import annotations

from eie_sim.cli._args import examples


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML page from a run's JSON or a sweep folder",
        description="Write one HTML page (no external files): the machines, the layer table, "
                    "energy by unit and memory traffic, the sweep's figures as inline SVG, the "
                    "validation status and the provenance (version, commit, configs).",
        epilog=examples("eie-sim report --from out.json",
                        "eie-sim report --from runs/cmp --out cmp.html"))
    p.add_argument("--from", dest="src", required=True, metavar="PATH",
                   help="a run's JSON (eie-sim run --json) or a sweep folder")
    p.add_argument("--out", metavar="PATH",
                   help="the HTML file (default: report.html in the sweep folder, or the JSON's "
                        "name with .html)")


def run(args) -> int:
    from pathlib import Path

    from eie_sim.html_report import report
    from eie_sim.result import check_writable, write_atomic

    src = Path(args.src)
    out = Path(args.out) if args.out else (src / "report.html" if src.is_dir()
                                           else src.with_suffix(".html"))
    check_writable(out)
    write_atomic(out, report(src))
    print(out)
    return 0
