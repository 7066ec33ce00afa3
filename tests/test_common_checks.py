"""The common suite: every check runs on every registered (architecture, engine) pair.

The pattern of scikit-learn's ``parametrize_with_checks``: the checks are parametrized over
:data:`eie_sim.registry.ACCELERATORS`, so an accelerator registered later is covered with no edit
here. Each architecture supplies only a Hypothesis strategy of (layer, input, config) in
``tests/strategies.py``; a registered architecture without one fails the suite (it is never
skipped). Examples are derandomized (reproducible CI) and small, so the SimPy engines stay fast.

Checks (through the facade :func:`eie_sim.simulate`, and through ``acc.implementation()`` for the
raw :class:`~eie_sim.engines.record.LayerRun`):

* ``engines_agree``: every engine of the architecture gives the same cycles, segment cycles,
  per-unit busy / stall / idle arrays, counters (dict equality), raw outputs (bit for bit),
  details, and the same result (outputs, the whole JSON but the engine's name); both equal the
  reference (``outputs_match_reference is True``); progress adds up to ``progress_total``;
* ``reference_flag``: ``check=False`` reports None and changes nothing else;
* ``counter_catalogue``: exactly the catalogue's counters, non-negative Python ints;
* ``energy_priced``: every counter has a price in the 45 nm and 7 nm tables and in the
  machine's own default table, with the architecture's geometry, and a priced run prices all
  of them;
* ``unit_cycles``: busy + stall + idle == cycles for every unit;
* ``segment_cycles``: the documented relation between the segments and the cycles
  (:data:`SEGMENT_RULES`);
* ``json``: the JSON validates against the shipped schema, ``details`` keys are declared in the
  registry record, and the result round-trips through strict JSON (no NaN / infinity);
* ``timing_only``: an architecture declared ``timing_only`` gives the same timing, counters
  and energy with ``values=False``; any other refuses it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from functools import cache

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import FEATURES, STRATEGIES, Case

from eie_sim import registry
from eie_sim.accelerator import RunOptions, same_bits
from eie_sim.energy import load_table, price
from eie_sim.engines.record import LayerRun
from eie_sim.errors import ConfigError
from eie_sim.result import RunResult, schema
from eie_sim.simulate import simulate

ARCHS = list(registry.ACCELERATORS)
#: The bundled energy tables every architecture must be priced in (besides its own default).
GENERAL_TABLES = ("45nm", "7nm")
VALIDATOR = jsonschema.Draft202012Validator(schema())


@cache
def table(name: str):
    return load_table(name)


def tables_for(config) -> list[str]:
    """45 nm, 7 nm and the machine's own default table."""
    return list(dict.fromkeys([*GENERAL_TABLES, config.energy_table]))


def strategy_for(arch: str):
    """The architecture's strategy; a missing one fails (never skips) the suite."""
    if arch not in STRATEGIES:
        pytest.fail(f"registered accelerator {arch!r} has no strategy in tests/strategies.py "
                    "(STRATEGIES); the common checks cannot cover it")
    return STRATEGIES[arch]


# --------------------------------------------------------------------------- runs
def facade(case: Case, engine: str, **kwargs) -> RunResult:
    kwargs.setdefault("energy", table(case.config.energy_table))  # the default, loaded once
    return simulate(case.config, case.layer, inputs=case.x, engine=engine, **kwargs)


def raw_run(acc: registry.Accelerator, case: Case, engine: str, progress=None):
    model = acc.implementation()
    prepared = model.prepare(case.layer, case.x, case.config, RunOptions())
    return prepared, model.ENGINES[engine](prepared, case.config, progress)


def assert_same_run(a: LayerRun, b: LayerRun, what: str) -> None:
    assert a.cycles == b.cycles, f"{what}: cycles"
    assert list(a.segment_cycles) == list(b.segment_cycles), f"{what}: segment_cycles"
    assert a.counts == b.counts, f"{what}: counters " + str(
        {k: (a.counts.get(k), b.counts.get(k)) for k in set(a.counts) | set(b.counts)
         if a.counts.get(k) != b.counts.get(k)})
    for name in ("unit_busy", "unit_stall", "unit_idle"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, f"{what}: {name} dtype"
        np.testing.assert_array_equal(x, y, err_msg=f"{what}: {name}")
    assert same_bits(a.outputs, b.outputs), f"{what}: raw outputs differ"
    assert a.details == b.details, f"{what}: details"


def assert_same_result(a: RunResult, b: RunResult, what: str) -> None:
    la, lb = a.layers[0], b.layers[0]
    assert (la.cycles, la.segment_cycles, la.counts) == (lb.cycles, lb.segment_cycles, lb.counts)
    for name in ("unit_busy_cycles", "unit_stall_cycles", "unit_idle_cycles", "outputs"):
        x, y = getattr(la, name), getattr(lb, name)
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what}: {name}"
        np.testing.assert_array_equal(x, y, err_msg=f"{what}: {name}")
    da, db = a.to_dict(), b.to_dict()
    assert (da.pop("engine"), db.pop("engine")) == (a.engine, b.engine)
    assert da == db, f"{what}: results differ beyond the engine name"


def facade_and_raw(acc: registry.Accelerator, case: Case, engine: str, progress=None):
    """One facade run of ``engine`` and the raw ``(prepared, LayerRun)`` it made, seen through
    a spy on the model's engine table (one run serves both sides of the comparison)."""
    model = acc.implementation()
    seen = {}
    run_engine = model.ENGINES[engine]

    def spy(prepared, config, update):
        seen["prepared"], seen["run"] = prepared, run_engine(prepared, config, update)
        return seen["run"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(model.ENGINES, engine, spy)
        result = facade(case, engine, progress=progress)
    return seen["prepared"], seen["run"], result


def engine_runs(acc: registry.Accelerator, case: Case) -> dict[str, LayerRun]:
    return {e: raw_run(acc, case, e)[1] for e in acc.engines}


# --------------------------------------------------------------------------- checks
def check_engines_agree(acc: registry.Accelerator, case: Case) -> None:
    model = acc.implementation()
    raws, results = {}, {}
    for e in acc.engines:
        ticks: list[int] = []
        prepared, run, result = facade_and_raw(acc, case, e, progress=ticks.append)
        assert sum(ticks) == model.progress_total(case.layer, case.config), f"{e}: progress"
        assert same_bits(run.outputs, model.reference(prepared, case.config)), (
            f"{e}: raw outputs differ from the reference")
        assert result.outputs_match_reference is True, f"{e}: outputs_match_reference"
        layer = result.layers[0]
        assert layer.outputs_match_reference is True
        # The facade reports what the engine returned.
        assert (layer.cycles, layer.segment_cycles, layer.counts) == (
            run.cycles, list(run.segment_cycles), run.counts), f"{e}: facade vs engine"
        np.testing.assert_array_equal(layer.unit_busy_cycles, run.unit_busy)
        np.testing.assert_array_equal(layer.unit_stall_cycles, run.unit_stall)
        np.testing.assert_array_equal(layer.unit_idle_cycles, run.unit_idle)
        raws[e], results[e] = run, result
    first, *others = acc.engines
    for e in others:
        assert_same_run(raws[first], raws[e], f"{first} vs {e}")
        assert_same_result(results[first], results[e], f"{first} vs {e}")


def check_reference_flag(acc: registry.Accelerator, case: Case) -> None:
    checked = facade(case, acc.engines[-1]).layers[0]
    for e in acc.engines:
        r = facade(case, e, check=False)
        assert r.outputs_match_reference is None and r.layers[0].outputs_match_reference is None
        data = json.loads(r.to_json(outputs=False))
        assert data["layers"][0]["outputs_match_reference"] is None
        assert data["totals"]["outputs_match_reference"] is None
        layer = r.layers[0]
        assert (layer.cycles, layer.counts) == (checked.cycles, checked.counts), e
        assert layer.outputs.dtype == checked.outputs.dtype
        np.testing.assert_array_equal(layer.outputs, checked.outputs)


def check_counter_catalogue(acc: registry.Accelerator, case: Case) -> None:
    catalogue = acc.counter_catalogue()
    assert set(acc.mac_counters) <= set(catalogue)
    for e, run in engine_runs(acc, case).items():
        missing, extra = set(catalogue) - set(run.counts), set(run.counts) - set(catalogue)
        assert not missing and not extra, f"{e}: missing {sorted(missing)}, extra {sorted(extra)}"
        # Exactly int (not a numpy integer, not a bool): JSON-friendly.
        bad = {k: v for k, v in run.counts.items() if type(v) is not int or v < 0}
        assert not bad, f"{e}: counters that are not non-negative ints: {bad}"


def check_energy_priced(acc: registry.Accelerator, case: Case) -> None:
    catalogue = acc.counter_catalogue()
    geometry = acc.implementation().geometry(case.config)
    for name in tables_for(case.config):
        # Raises ConfigError on a counter (or unit) without a price.
        report = price(dict.fromkeys(catalogue, 1), table(name), geometry, 1.0)
        assert set(report.prices_pj) == set(catalogue)
        assert all(math.isfinite(p) and p >= 0 for p in report.prices_pj.values()), name
        layer = facade(case, "fast" if "fast" in acc.engines else acc.engines[0],
                       energy=table(name), check=False).layers[0]
        e = layer.energy
        assert e.table == table(name).name and set(e.prices_pj) == set(catalogue)
        assert set(e.leakage_by_unit) == set(geometry)
        assert math.isfinite(e.total_pj) and e.total_pj >= 0
        assert e.dynamic_pj + e.leakage_pj == pytest.approx(e.total_pj, rel=1e-12, abs=1e-9)


def check_unit_cycles(acc: registry.Accelerator, case: Case) -> None:
    for e, run in engine_runs(acc, case).items():
        arrays = (run.unit_busy, run.unit_stall, run.unit_idle)
        assert all(a.ndim == 1 and a.shape == run.unit_busy.shape for a in arrays), e
        assert run.unit_busy.size >= 1
        assert all(a.dtype == np.int64 and np.all(a >= 0) for a in arrays), e
        total = run.unit_busy + run.unit_stall + run.unit_idle
        np.testing.assert_array_equal(total, np.full(total.size, run.cycles), err_msg=e)


def _passes_rule(config, segments: list[int], cycles: int) -> bool:
    """PE arrays: passes run one after the other, ``batch_swap_cycles`` between them."""
    return cycles == sum(segments) + (len(segments) - 1) * config.batch_swap_cycles


def _waves_rule(config, segments: list[int], cycles: int) -> bool:
    """Tensor cores: a wave's segment ends at its write-back end, so they add up."""
    return cycles == sum(segments)


def _steps_rule(config, segments: list[int], cycles: int) -> bool:
    """LSTM steps (ESE): a step's segment ends when its output is written, so they add up."""
    return cycles == sum(segments)


#: segment_kind -> the documented relation between segment cycles and the layer's cycles.
SEGMENT_RULES: dict[str, Callable[..., bool]] = {"pass": _passes_rule, "wave": _waves_rule,
                                                 "step": _steps_rule}


def check_segment_cycles(acc: registry.Accelerator, case: Case) -> None:
    rule = SEGMENT_RULES.get(acc.segment_kind)
    if rule is None:
        pytest.fail(f"segment kind {acc.segment_kind!r} of {acc.name!r} has no documented "
                    "relation to the cycles in SEGMENT_RULES")
    for e, run in engine_runs(acc, case).items():
        segments = list(run.segment_cycles)
        assert segments and all(type(s) is int and s >= 0 for s in segments), (e, segments)
        assert rule(case.config, segments, run.cycles), (
            f"{e}: {rule.__doc__} cycles {run.cycles}, segments {segments}")


def check_timing_only(acc: registry.Accelerator, case: Case) -> None:
    """An architecture declared ``timing_only`` gives, without the values, the timing and
    counters it gives with them; any other refuses ``values=False``."""
    for e in acc.engines:
        if not acc.timing_only:
            with pytest.raises(ConfigError, match="values=False"):
                facade(case, e, values=False)
            continue
        full, timed = facade(case, e).layers[0], facade(case, e, values=False).layers[0]
        assert (timed.cycles, timed.segment_cycles, timed.counts) == (
            full.cycles, full.segment_cycles, full.counts), e
        for name in ("unit_busy_cycles", "unit_stall_cycles", "unit_idle_cycles"):
            np.testing.assert_array_equal(getattr(timed, name), getattr(full, name), err_msg=e)
        assert timed.energy.total_pj == pytest.approx(full.energy.total_pj, rel=1e-12)
        assert timed.effective_weight_density == full.effective_weight_density
        VALIDATOR.validate(json.loads(facade(case, e, values=False).to_json()))


def _finite_json(data) -> bool:
    return json.loads(json.dumps(data, allow_nan=False)) == data


def check_json(acc: registry.Accelerator, case: Case) -> None:
    for e in acc.engines:
        result = facade(case, e)
        for outputs in (True, False):
            data = json.loads(result.to_json(outputs=outputs))
            VALIDATOR.validate(data)
            assert data["arch"] == acc.name and data["engine"] == e
            layer = data["layers"][0]
            assert layer["segment_kind"] == acc.segment_kind
            assert layer["unit_kind"] == acc.unit_kind
            undeclared = set(layer["details"]) - set(acc.details)
            assert not undeclared, f"{e}: undeclared details {sorted(undeclared)}"
        d = result.to_dict()
        assert _finite_json(d), f"{e}: the result does not round-trip through strict JSON"


#: name -> (check, examples per architecture per run).
CHECKS: dict[str, tuple[Callable[[registry.Accelerator, Case], None], int]] = {
    "engines_agree": (check_engines_agree, 300),
    "reference_flag": (check_reference_flag, 30),
    "counter_catalogue": (check_counter_catalogue, 30),
    "energy_priced": (check_energy_priced, 30),
    "unit_cycles": (check_unit_cycles, 30),
    "segment_cycles": (check_segment_cycles, 30),
    "json": (check_json, 30),
    "timing_only": (check_timing_only, 30),
}

#: (architecture, check) -> examples, where an architecture's SimPy engine makes the default
#: costly. ESE's DES pays ~10 ms of SimPy events even on its tiniest LSTM, and each example runs
#: it twice or more; its engines_agree examples must still cover every feature of
#: ``FEATURES["ese"]`` (rounds, idle channels, padding, empty slices, broadcast stalls, DRAM- and
#: compute-bound steps, ...), which the suite asserts.
EXAMPLES: dict[tuple[str, str], int] = {
    ("ese", "engines_agree"): 120,
    **{("ese", c): 30 for c in ("reference_flag", "counter_catalogue", "energy_priced",
                                "unit_cycles", "segment_cycles", "json", "timing_only")},
}

# --------------------------------------------------------------------------- the suite
def test_every_registered_accelerator_has_a_strategy() -> None:
    missing = [a for a in ARCHS if a not in STRATEGIES]
    assert not missing, f"no strategy in tests/strategies.py for {missing}"
    stale = sorted(set(STRATEGIES) - set(ARCHS))
    assert not stale, f"strategies for unregistered accelerators: {stale}"


def test_a_missing_strategy_fails_the_suite() -> None:
    with pytest.raises(pytest.fail.Exception, match="has no strategy"):
        strategy_for("not-registered-yet")


def test_every_accelerator_has_a_segment_rule_and_both_engines() -> None:
    for acc in registry.ACCELERATORS.values():
        assert acc.segment_kind in SEGMENT_RULES, acc.name
        assert set(acc.engines) == set(acc.implementation().ENGINES), acc.name
        assert {"des", "fast"} <= set(acc.engines), acc.name


@pytest.mark.parametrize(
    "arch,check", [(a, c) for a in ARCHS for c in CHECKS], ids=lambda v: str(v))
def test_common_check(arch: str, check: str) -> None:
    acc = registry.get(arch)
    fn, examples = CHECKS[check]
    examples = EXAMPLES.get((arch, check), examples)
    strategy = strategy_for(arch)
    seen: Counter[str] = Counter()
    features = FEATURES.get(arch) if check == "engines_agree" else None
    ran = 0

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(strategy)
    def run(case: Case) -> None:
        nonlocal ran
        fn(acc, case)
        ran += 1
        if features is not None:
            seen.update(features[0](case))

    run()
    assert ran >= examples, f"only {ran} examples ran, {examples} wanted"
    if features is not None:
        missing = features[1] - set(seen)
        assert not missing, f"the examples never exercised {sorted(missing)}: {dict(seen)}"
