"""Timelines of discrete-event runs: Chrome / Perfetto trace-event files.

Record while simulating with the SimPy engine, then write a file that ui.perfetto.dev or
chrome://tracing opens::

    from eie_sim.trace import recording

    with recording() as rec:
        result = simulate(EIEConfig(num_pes=8), "alexnet-fc8", engine="des")
    Path("trace.json").write_text(rec.to_json(result))

(``eie-sim run --engine des --trace trace.json`` does the same.) What a trace shows, per layer,
one after another on one time axis (timestamps are **clock cycles**: where the viewer says
"µs", read "cycles"):

* PE arrays (EIE, dense baseline): one track per PE with its *busy* (issuing entries), *stall*
  (waiting for an activation a full queue elsewhere held back) and *idle* spans, exactly the
  cycles counted in the result (``unit_busy/stall/idle_cycles``); the CCU's *broadcast* and
  *stall* spans; each PE's activation-queue occupancy as a counter; the output passes.
* Tensor cores: one track per tensor core with its *MMA* spans (a stage's instructions, with the
  stage and wave) and *stall* spans (waiting for a stage, or for its operands from shared
  memory); the waves.

Cost: nothing when not recording (the engines test one attribute per activation or stage).

Size bound (decimation): a trace holds at most about ``max_events`` events (default
:data:`MAX_EVENTS`). A track with more spans than its share is cut into equal windows of ``W``
cycles, and in each window its busy, stall and idle cycles are drawn as at most three spans in
that order; totals stay exact, positions are exact to within ``W`` cycles. Counters keep each
window's maximum. The file's ``otherData.decimation`` lists ``W`` per layer (1 = exact).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
from collections.abc import Iterator
from typing import Any

from eie_sim.errors import EieSimError

MAX_EVENTS = 200_000
"""Default bound on the events of one trace file (about 100 bytes each)."""

STATES = ("busy", "stall", "idle")
_CURRENT: contextvars.ContextVar[TraceRecorder | None] = contextvars.ContextVar(
    "eie_sim_trace", default=None)


def active() -> TraceRecorder | None:
    """The recorder of the enclosing :func:`recording` block (None: not recording)."""
    return _CURRENT.get()


@contextlib.contextmanager
def recording(max_events: int = MAX_EVENTS) -> Iterator[TraceRecorder]:
    """Record every DES layer simulated inside the block."""
    rec = TraceRecorder(max_events)
    token = _CURRENT.set(rec)
    try:
        yield rec
    finally:
        _CURRENT.reset(token)


class Track:
    """Spans of one unit: ``[start, end)`` cycles and a state, adjacent equal states merged."""

    __slots__ = ("name", "spans", "args")

    def __init__(self, name: str) -> None:
        self.name = name
        self.spans: list[list] = []  # [start, end, state, args]
        self.args: dict[str, Any] = {}

    def add(self, start: int, end: int, state: str, args: dict | None = None) -> None:
        if end <= start:
            return
        last = self.spans[-1] if self.spans else None
        if last is not None and last[1] == start and last[2] == state and args is None \
                and last[3] is None:
            last[1] = end
        else:
            self.spans.append([start, end, state, args])

    def truncate(self, end: int) -> None:
        """Drop what lies at or after ``end``."""
        while self.spans and self.spans[-1][0] >= end:
            self.spans.pop()
        if self.spans and self.spans[-1][1] > end:
            self.spans[-1][1] = end

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for start, end, state, _ in self.spans:
            out[state] = out.get(state, 0) + end - start
        return out


class PETrace:
    """The hooks one processing element calls (see ``ProcessingElement.run_pass``)."""

    __slots__ = ("track", "pops")

    def __init__(self, name: str) -> None:
        self.track = Track(name)
        self.pops: list[int] = []

    def activation(self, pop: int, free: int, unblocked: int, held: int, first_issue: int,
                   work: int) -> None:
        """One popped activation: idle ``[free, unblocked)``, stall ``[unblocked, held)``,
        idle ``[held, first_issue)``, busy ``[first_issue, first_issue + work)``."""
        add = self.track.add
        add(free, unblocked, "idle")
        add(unblocked, held, "stall")
        add(held, first_issue, "idle")
        add(first_issue, first_issue + work, "busy")
        self.pops.append(pop)

    def end_pass(self, last_issue: int, done: int) -> None:
        """The pass ends with ``done``: idle to its end; an empty last slice beyond it is cut."""
        self.track.truncate(done + 1)
        self.track.add(last_issue + 1, done + 1, "idle")

    def idle(self, start: int, end: int) -> None:
        self.track.add(start, end, "idle")


class LayerTrace:
    """What one layer's engine recorded."""

    def __init__(self, unit_kind: str, units: int) -> None:
        self.unit_kind = unit_kind
        self.units: list[Any] = []
        self.segments = Track("segments")
        self.ccu = Track("CCU")
        self.broadcasts: list[int] = []  # push cycles (every queue at once)
        self.cycles = 0
        self.n_units = units

    # PE array
    def pe(self, index: int) -> PETrace:
        t = PETrace(f"PE {index}")
        self.units.append(t)
        return t

    def broadcast(self, attempt: int, now: int) -> None:
        """The CCU tried in ``attempt``, pushed in ``now`` (stalled in between)."""
        self.ccu.add(attempt, now, "stall")
        self.ccu.add(now, now + 1, "broadcast")
        self.broadcasts.append(now)

    def segment(self, name: str, start: int, end: int, **args) -> None:
        self.segments.add(start, end, name, args or None)

    # tensor cores
    def tensor_core(self, sm: int, index: int) -> Track:
        t = Track(f"SM {sm} TC {index}")
        self.units.append(t)
        return t


class TraceRecorder:
    """Collects the layers of DES runs; :meth:`to_json` writes the trace-event file."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self.max_events = max_events
        self.layers: list[LayerTrace] = []
        self.events = 0

    def begin_layer(self, unit_kind: str, units: int) -> LayerTrace:
        layer = LayerTrace(unit_kind, units)
        self.layers.append(layer)
        return layer

    def summary(self) -> str:
        return (f"{len(self.layers)} layer{'s' if len(self.layers) != 1 else ''}, "
                f"{self.events:,} events")

    def to_json(self, result=None) -> str:
        """The Chrome trace-event JSON (``result``: names the layers and the machine)."""
        return json.dumps(self.to_dict(result), separators=(",", ":")) + "\n"

    def to_dict(self, result=None) -> dict[str, Any]:
        if not self.layers:
            raise EieSimError("nothing was recorded: a trace records the discrete-event engine "
                              "(engine='des')")
        names = ([lr.name for lr in result.layers] if result is not None
                 and len(result.layers) == len(self.layers)
                 else [f"layer {i}" for i in range(len(self.layers))])
        n_tracks = sum(2 * len(layer.units) + 2 for layer in self.layers)
        share = max(12, self.max_events // max(1, n_tracks))
        events: list[dict] = []
        meta: list[dict] = []
        decimation = []
        pid_units, pid_queues = 1, 2
        unit_kind = self.layers[0].unit_kind
        meta.append(_meta("process_name", pid_units, 0, {"name": f"{unit_kind}s"}))
        meta.append(_meta("process_sort_index", pid_units, 0, {"sort_index": 1}))
        if any(layer.broadcasts for layer in self.layers):
            meta.append(_meta("process_name", pid_queues, 0,
                              {"name": "activation queues (entries)"}))
            meta.append(_meta("process_sort_index", pid_queues, 0, {"sort_index": 2}))
        tids = {"layers": 0, "segments": 1, "CCU": 2}
        offset = 0
        for li, (layer, name) in enumerate(zip(self.layers, names, strict=True)):
            window = 1
            for track in [layer.segments, layer.ccu, *(_track(u) for u in layer.units)]:
                window = max(window, _window(track, layer.cycles, share))
            decimation.append({"layer": name, "window_cycles": window})
            events.append(_span(pid_units, tids["layers"], name, "layer", offset,
                                layer.cycles, {"cycles": layer.cycles}))
            seg = "pass" if layer.broadcasts or layer.unit_kind == "PE" else "wave"
            for start, end, sname, args in layer.segments.spans:
                events.append(_span(pid_units, tids["segments"], sname, seg, offset + start,
                                    end - start, args))
            if layer.ccu.spans:
                events += _spans(layer.ccu, pid_units, tids["CCU"], offset, layer.cycles,
                                 window, ("broadcast", "stall"))
            for k, unit in enumerate(layer.units):
                track = _track(unit)
                tid = 10 + k
                if li == 0 or k >= len(self.layers[li - 1].units):
                    meta.append(_meta("thread_name", pid_units, tid, {"name": track.name}))
                    meta.append(_meta("thread_sort_index", pid_units, tid, {"sort_index": tid}))
                events += _spans(track, pid_units, tid, offset, layer.cycles, window, STATES)
            if layer.broadcasts:
                for k, unit in enumerate(layer.units):
                    events += _occupancy(layer.broadcasts, unit.pops, pid_queues,
                                         f"queue PE {k}", offset, window)
            offset += layer.cycles
        for tname, tid in tids.items():
            meta.append(_meta("thread_name", pid_units, tid, {"name": tname}))
            meta.append(_meta("thread_sort_index", pid_units, tid, {"sort_index": tid}))
        self.events = len(events)
        other: dict[str, Any] = {"time_unit": "cycle (shown as µs)", "decimation": decimation,
                                 "max_events": self.max_events}
        if result is not None:
            other.update({"workload": result.workload, "machine": result.machine,
                          "engine": result.engine,
                          "clock_mhz": result.config.get("clock_mhz")})
        return {"traceEvents": meta + events, "displayTimeUnit": "ns", "otherData": other}


def _track(unit) -> Track:
    return unit.track if isinstance(unit, PETrace) else unit


def _meta(name: str, pid: int, tid: int, args: dict) -> dict:
    return {"ph": "M", "name": name, "pid": pid, "tid": tid, "args": args}


def _span(pid: int, tid: int, name: str, cat: str, ts: int, dur: int, args=None) -> dict:
    ev = {"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": ts, "dur": dur}
    if args:
        ev["args"] = args
    return ev


def _window(track: Track, cycles: int, share: int) -> int:
    """Cycles per window so that ``track`` fits its share of events (1: exact)."""
    if len(track.spans) <= share:
        return 1
    return max(2, math.ceil(cycles * 3 / share))


def _spans(track: Track, pid: int, tid: int, offset: int, cycles: int, window: int,
           order) -> list[dict]:
    """A track's spans, exact (window 1) or per window: each state's cycles in the window as
    one span, states in ``order`` (totals exact)."""
    if window == 1:
        return [_span(pid, tid, state, state, offset + s, e - s, args)
                for s, e, state, args in track.spans]
    bins: dict[int, dict[str, int]] = {}
    for s, e, state, _ in track.spans:
        while s < e:
            w = s // window
            cut = min(e, (w + 1) * window)
            bins.setdefault(w, {})
            bins[w][state] = bins[w].get(state, 0) + cut - s
            s = cut
    merged = Track(track.name)
    for w in sorted(bins):
        t = w * window
        for state in order:
            d = bins[w].get(state, 0)
            if d:
                merged.add(t, t + d, state)
                t += d
    return [_span(pid, tid, state, state, offset + s, e - s, {"window_cycles": window})
            for s, e, state, _ in merged.spans]


def _occupancy(pushes: list[int], pops: list[int], pid: int, name: str, offset: int,
               window: int) -> list[dict]:
    """A queue's occupancy after every change (each window's maximum when decimated)."""
    changes: dict[int, int] = {}
    for t in pushes:
        changes[t] = changes.get(t, 0) + 1
    for t in pops:
        changes[t] = changes.get(t, 0) - 1
    level, points = 0, []
    for t in sorted(changes):
        level += changes[t]
        if window > 1:
            t = (t // window) * window
            if points and points[-1][0] == t:
                points[-1][1] = max(points[-1][1], level)
                continue
        points.append([t, level])
    return [{"ph": "C", "name": name, "pid": pid, "tid": 0, "ts": offset + t,
             "args": {"entries": v}} for t, v in points]
