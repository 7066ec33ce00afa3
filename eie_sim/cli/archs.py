"""``eie-sim archs``: every registered accelerator, its engines, presets and config fields."""

from __future__ import annotations

import dataclasses
import json

from eie_sim.cli._args import _show, examples


def add_parser(sub) -> None:
    p = sub.add_parser("archs", help="list the accelerators: engines, presets, config fields",
                       description="Every registered accelerator with its engines, presets and "
                       "config fields (name, unit, default, range, description).",
                       epilog=examples("eie-sim archs", "eie-sim archs --json"))
    p.add_argument("--json", action="store_true", help="machine-readable output")


def describe() -> list[dict]:
    """The registry as plain data."""
    from eie_sim import registry

    out = []
    for acc in registry.ACCELERATORS.values():
        fields = []
        for f in dataclasses.fields(acc.config):
            m = f.metadata
            fields.append({"name": f.name, "flag": "--" + (m.get("flag") or
                                                          f.name.replace("_", "-")),
                           "unit": m["unit"], "default": f.default, "lo": m["lo"],
                           "hi": m["hi"], "choices": list(m["choices"]) if m["choices"] else None,
                           "description": m["doc"]})
        out.append({"name": acc.name, "label": acc.label, "description": acc.description,
                    "engines": list(acc.engines), "presets": list(acc.presets),
                    "unit_kind": acc.unit_kind, "segment_kind": acc.segment_kind,
                    "counters": len(acc.counter_catalogue()), "fields": fields})
    return out


def run(args) -> int:
    data = describe()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for acc in data:
        presets = ", ".join(acc["presets"]) or "none"
        print(f"{acc['name']}: {acc['label']} — {acc['description']}")
        print(f"  engines {', '.join(acc['engines'])}; presets {presets}; compute unit "
              f"{acc['unit_kind']}; segment {acc['segment_kind']}; {acc['counters']} counters")
        width = max(len(f["flag"]) for f in acc["fields"])
        for f in acc["fields"]:
            allowed = ("one of " + ", ".join(map(str, f["choices"])) if f["choices"] else
                       f"[{_show(f['lo'])}, {_show(f['hi'])}]"
                       if f["lo"] is not None or f["hi"] is not None else "")
            unit = "" if f["unit"] in ("-", "") else f" {f['unit']}"
            print(f"  {f['flag'].ljust(width)}  {_show(f['default'])}{unit}"
                  f"{'  ' + allowed if allowed else ''}  {f['description']}")
        print()
    return 0
