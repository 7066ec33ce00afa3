"""``eie-sim validate``: the model against every published figure it can be compared with."""

from __future__ import annotations

from eie_sim.cli._args import examples


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="compare with the EIE paper's and public A100 figures",
                       description="Simulate the EIE paper's benchmarks and the A100 figures and "
                       "print the validation page (docs/VALIDATION.md): each published figure, "
                       "the simulated value, the gap, and the cause of every gap over 10 %%.",
                       epilog=examples("eie-sim validate",
                                       "eie-sim validate --out docs/VALIDATION.md"))
    p.add_argument("--out", metavar="PATH", help="write the page (Markdown) to PATH")


def run(args) -> int:
    from eie_sim.result import check_writable, write_atomic
    from eie_sim.validation import render_markdown, validate

    if args.out:
        check_writable(args.out)
    page = render_markdown(validate())
    if args.out:
        write_atomic(args.out, page)
        print(args.out)
    else:
        print(page, end="")
    return 0
