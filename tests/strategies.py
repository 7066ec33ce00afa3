"""Per-architecture Hypothesis strategies for the common suite (tests/test_common_checks.py).

Each registered architecture supplies one strategy of :class:`Case` (a layer, its int16 input
and a config) in :data:`STRATEGIES`, keyed by its registry name; the common checks do the rest.
An architecture registered without a strategy makes the common suite fail.

Layers are small (at most 40 x 40; a tensor core's K up to 160, for several operand-buffer
stages) so that the SimPy engines stay fast. A case prints as the
Python that rebuilds it (``Case(config=..., data=pe_array_data(...))``), so a falsifying example
reproduces with ``from strategies import *``.

Optionally an architecture also gives :data:`FEATURES`: a function naming what a case exercises
and the features every CI run must see (the common suite checks that its generated examples
cover them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from hypothesis import strategies as st

from eie_sim.config import ArchConfig, DenseConfig, EIEConfig, ESEConfig, STCConfig
from eie_sim.engines.stc.common import make_plan
from eie_sim.formats.fixed_point import INT16_MAX
from eie_sim.formats.interleaved_csc import num_passes
from eie_sim.layer import QuantizedLayer

ONE = 256  # 1.0 in Q7.8
MAX_SIDE = 40  # rows and inputs of a generated layer
MAX_PASSES = 6
#: Inputs (K) of a tensor-core layer: long enough for several operand-buffer stages per wave
#: (an fp16 2:4 k-step covers 32 inputs, a 1:4 int8 one 128).
MAX_TC_K = 160


# Strategies are built once: Hypothesis validates and labels a strategy built inside a draw
# every time it is drawn, which doubles the cost of generating an example.
@lru_cache(maxsize=None, typed=True)  # typed: choice(1, 2) is not choice(1.0, 2.0)
def choice(*options) -> st.SearchStrategy:
    """``st.sampled_from(options)``, built once per tuple of options."""
    return st.sampled_from(options)


@cache
def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``st.integers(lo, hi)``, built once per range."""
    return st.integers(lo, hi)


@cache
def either(*strategies: st.SearchStrategy) -> st.SearchStrategy:
    """``st.one_of(*strategies)``, built once per tuple of (cached) strategies."""
    return st.one_of(*strategies)


BOOLEANS = st.booleans()


@dataclass(frozen=True, eq=False)
class Case:
    """One generated example: ``layer`` run on input ``x`` (int16, ``(K,)`` or ``(K, batch)``)
    on ``config``; ``recipe`` is the expression that rebuilds ``(layer, x)``."""

    layer: QuantizedLayer
    x: np.ndarray
    config: ArchConfig
    recipe: str

    def __repr__(self) -> str:
        return f"Case(config={config_repr(self.config)}, data={self.recipe})"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis prints examples with this
        printer.text(repr(self))


def config_repr(config: ArchConfig) -> str:
    """``Class(field=value, ...)`` with the fields that differ from the class defaults."""
    default = type(config)()
    changed = [
        f"{f.name}={getattr(config, f.name)!r}"
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(default, f.name)
    ]
    return f"{type(config).__name__}({', '.join(changed)})"


def _call(name: str, **kwargs) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _activations(rng, shape, density: float, negative: float, a_max: int) -> np.ndarray:
    mags = rng.integers(1, a_max + 1, size=shape)
    signs = np.where(rng.random(shape) < negative, -1, 1)
    return (mags * signs * (rng.random(shape) < density)).astype(np.int16)


# --------------------------------------------------------------------------- PE arrays
def pe_array_data(n_out: int, n_in: int, seed: int, w_density: float, empty_cols: float,
                  w_scale: float, bias_scale: float | None, a_density: float,
                  a_negative: float, a_max: int) -> tuple[QuantizedLayer, np.ndarray]:
    """A random pruned layer (Laplace weights, some all-zero columns, optional bias with some
    zero rows) and an int16 input vector with a share of negative values."""
    rng = np.random.default_rng(seed)
    w = rng.laplace(scale=w_scale, size=(n_out, n_in))
    w[rng.random((n_out, n_in)) >= w_density] = 0.0
    w[:, rng.random(n_in) < empty_cols] = 0.0
    bias = None
    if bias_scale is not None:
        bias = rng.normal(scale=bias_scale, size=n_out)
        bias[rng.random(n_out) < 0.3] = 0.0
    layer = QuantizedLayer.from_dense("hyp", w, bias)
    return layer, _activations(rng, n_in, a_density, a_negative, a_max)


@st.composite
def _densities(draw) -> float:
    k = draw(ints(0, 9))
    return 0.0 if k == 0 else 1.0 if k == 1 else draw(OPEN_DENSITY)


OPEN_DENSITY = st.floats(0.02, 1.0)
#: Mostly in (0, 1), with the end points 0 and 1 one draw in ten each.
DENSITIES = _densities()


@st.composite
def _pe_array_data(draw):
    n_in = draw(ints(1, MAX_SIDE))
    n_out = draw(ints(1, MAX_SIDE))
    kwargs = dict(
        n_out=n_out, n_in=n_in, seed=draw(ints(0, 2**32 - 1)),
        w_density=draw(DENSITIES),
        empty_cols=draw(choice(0.0, 0.0, 0.3, 0.9)),
        w_scale=draw(choice(0.05, 1.0, 1.0, 80.0)),
        bias_scale=draw(choice(None, 0.5, 200.0)),
        a_density=draw(DENSITIES),
        a_negative=draw(choice(0.0, 0.3, 0.7)),
        a_max=draw(choice(ONE, 8 * ONE, INT16_MAX)),
    )
    return pe_array_data(**kwargs), _call("pe_array_data", **kwargs)


@st.composite
def _pe_array_fields(draw, n_out: int) -> dict:
    """Fields EIE and the dense baseline share: PEs that do not divide the rows, queue
    depths and both queue models, several output passes, batch swaps, the input ReLU."""
    num_pes = draw(choice(1, 1, 2, 3, 4, 5, 7, 8, 13, 16))
    depth = draw(ints(1, 16))
    model = "counter" if depth == 1 else draw(choice("circular", "counter"))
    rows_pe0 = -(-n_out // num_pes)
    lo = max(1, -(-rows_pe0 // MAX_PASSES))
    # Half the examples run several output passes (a register file smaller than PE 0's rows).
    regfile = draw(either(ints(lo, max(lo, rows_pe0)), ints(lo, 64)))
    return dict(
        num_pes=num_pes, act_queue_depth=depth, act_queue_model=model,
        act_regfile_entries=regfile, input_relu=draw(BOOLEANS),
        batch_swap_cycles=draw(choice(0, 0, 1, 3)),
        dram_bandwidth_gbps=draw(choice(0.4, 3.2, 25.6)),
    )


@st.composite
def eie_cases(draw) -> Case:
    (layer, x), recipe = draw(_pe_array_data())
    z_bits = draw(ints(1, 4))
    config = EIEConfig(
        **draw(_pe_array_fields(layer.n_out)),
        relative_index_bits=z_bits,
        spmat_sram_width_bits=(4 + z_bits) * draw(ints(2, 16)),
        weights_from=draw(choice("sram", "sram", "dram")),
    )
    return Case(layer, x, config, recipe)


@st.composite
def dense_cases(draw) -> Case:
    (layer, x), recipe = draw(_pe_array_data())
    weights_from = draw(choice("auto", "auto", "sram", "dram"))
    # 'auto' with a small weight SRAM streams the weights from DRAM.
    sram = 160 * 1024 if weights_from == "sram" else draw(choice(64, 160 * 1024))
    config = DenseConfig(
        **draw(_pe_array_fields(layer.n_out)),
        weights_from=weights_from, weight_sram_bytes=sram,
        weight_sram_width_bits=16 * draw(choice(1, 4, 8)),
    )
    return Case(layer, x, config, recipe)


def pe_array_features(case: Case) -> set[str]:
    c, layer, x = case.config, case.layer, case.x
    out = {f"queue {c.act_queue_model}"}
    if c.num_pes == 1:
        out.add("1 PE")
    if layer.n_out % c.num_pes:
        out.add("rows not divisible")
    if num_passes(layer.n_out, c.num_pes, c.act_regfile_entries) > 1:
        out.add("passes")
        if c.batch_swap_cycles:
            out.add("passes+swap")
    if layer.n_in > c.num_pes * c.act_regfile_entries and c.batch_swap_cycles:
        out.add("input batches+swap")
    if c.weights_from == "dram" or (c.weights_from == "auto" and c.weight_sram_bytes < 1024):
        out.add("weights dram")
    out.add("bias" if layer.has_bias else "no bias")
    if np.any(x < 0):
        out.add("negative relu" if c.input_relu else "negative no-relu")
    if c.act_queue_depth >= 8:
        out.add("deep queue")
    return out


PE_ARRAY_REQUIRED = frozenset({
    "queue circular", "queue counter", "1 PE", "rows not divisible", "passes", "passes+swap",
    "input batches+swap", "weights dram", "bias", "no bias", "negative relu",
    "negative no-relu", "deep queue",
})


# --------------------------------------------------------------------------- tensor cores
def tensor_core_data(n_out: int, n_in: int, batch: int | None, seed: int, w_density: float,
                     octaves: int, bias_scale: float | None, a_density: float,
                     a_negative: float, a_max: int) -> tuple[QuantizedLayer, np.ndarray]:
    """A random layer whose weights span ``2 * octaves`` octaves (so that the float32
    accumulation order matters) with an optional bias, and an int16 input: a vector
    (``batch`` None; the machine makes its other batch columns) or ``n_in x batch``."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n_out, n_in)) * np.exp2(rng.integers(-octaves, octaves + 1,
                                                                  size=(n_out, n_in)))
    w[rng.random((n_out, n_in)) >= w_density] = 0.0
    bias = None if bias_scale is None else rng.normal(scale=bias_scale, size=n_out)
    layer = QuantizedLayer.from_dense("hyp", w, bias)
    shape = n_in if batch is None else (n_in, batch)
    return layer, _activations(rng, shape, a_density, a_negative, a_max)


@st.composite
def _tensor_core_cases(draw, twin: bool) -> Case:
    n, m = draw(choice((2, 4), (1, 4), (2, 8), (4, 8)))
    tcs = draw(ints(1, 4))
    batch = draw(either(ints(1, 40), choice(1, 8, 9, 17)))
    config = STCConfig(
        sms=draw(ints(1, 4)),
        tensor_cores_per_sm=tcs,
        dense_fma_per_clk_per_sm=tcs * draw(choice(16, 100, 256, 512, 4096)),
        clock_mhz=draw(choice(800.0, 1410.0)),
        mem_bandwidth_gbps=draw(choice(0.7, 25.6, 1555.0)),
        pattern=f"{n}:{m}",
        dtype=draw(choice("fp16", "int8")),
        batch=batch,
        block_m=draw(choice(16, 32, 48)),
        block_n=draw(choice(8, 8, 16, 24)),
        k_steps_per_stage=draw(ints(1, 4)),
        buffer_stages=draw(ints(1, 4)),
        mma_latency_cycles=draw(either(choice(0, 32), ints(0, 64))),
        smem_bytes_per_sm=1 << 24,
        weights_from=draw(choice("dram", "dram", "sram")),
        weight_sram_bytes=1 << 24,
        weight_sram_bytes_per_clk=draw(choice(7, 512)),
        smem_bytes_per_clk=draw(choice(1, 8, 128, 1 << 20)),
        warp_tile_m=draw(choice(16, 32, 64)),
        warp_tile_n=draw(choice(8, 16, 64)),
        raster_swizzle=draw(choice(1, 2, 8)),
    )
    if twin:
        config = config.dense_twin()
    kwargs = dict(
        n_out=draw(ints(1, MAX_SIDE)),
        n_in=draw(either(ints(1, MAX_SIDE), ints(1, MAX_TC_K))),
        batch=draw(choice(None, batch)), seed=draw(ints(0, 2**32 - 1)),
        w_density=draw(DENSITIES), octaves=draw(choice(0, 3, 6)),
        bias_scale=draw(choice(None, 0.5, 20.0)), a_density=draw(DENSITIES),
        a_negative=draw(choice(0.0, 0.3)),
        a_max=draw(choice(ONE, 8 * ONE, INT16_MAX)),
    )
    layer, x = tensor_core_data(**kwargs)
    return Case(layer, x, config, _call("tensor_core_data", **kwargs))


def stc_cases() -> st.SearchStrategy[Case]:
    return _tensor_core_cases(False)


def dense_tc_cases() -> st.SearchStrategy[Case]:
    return _tensor_core_cases(True)


def tensor_core_features(case: Case) -> set[str]:
    c, layer, x = case.config, case.layer, case.x
    bn = min(c.block_n, -(-c.batch // 8) * 8)
    tiles = -(-layer.n_out // c.block_m) * -(-c.batch // bn)
    out = {
        f"sms {c.sms}", f"tcs {c.tensor_cores_per_sm}", f"stages {c.buffer_stages}",
        f"k_steps {c.k_steps_per_stage}", c.dtype, f"pattern {c.pattern}",
        f"weights {c.weights_from}", "bias" if layer.has_bias else "no bias",
        "2-D input" if x.ndim == 2 else "1-D input",
    }
    if c.batch > bn and c.batch % bn:
        out.add("short last column block")
    if tiles > c.sms:
        out.add("several waves")
    k_cover = (16 if c.dtype == "fp16" else 32) * (c.m // c.n if c.sparse else 1)
    k_steps = -(-layer.n_in // k_cover)
    stages = -(-k_steps // c.k_steps_per_stage)
    if stages > c.buffer_stages:
        out.add("more stages than buffer slots")
    out.add("latency 0" if c.mma_latency_cycles == 0 else
            "latency > 32" if c.mma_latency_cycles > 32 else "latency 1..32")
    plan = make_plan(layer.n_out, layer.n_in, c.batch, c)
    ks = np.zeros(plan.wave_operand_cycles.shape[2], dtype=np.int64)
    ks[plan.stage_ks_index] = plan.stage_ksteps
    mma = plan.wave_frags.max(axis=2)[:, :, None] * ks * plan.mma_cycles
    out.add("operand path binds" if (plan.wave_operand_cycles > mma).any()
            else "operand path never binds")
    return out


TENSOR_CORE_REQUIRED = frozenset(
    {f"sms {i}" for i in range(1, 5)} | {f"tcs {i}" for i in range(1, 5)}
    | {f"stages {i}" for i in range(1, 5)} | {f"k_steps {i}" for i in range(1, 5)}
    | {f"pattern {p}" for p in ("2:4", "1:4", "2:8", "4:8")}
    | {"fp16", "int8", "weights dram", "weights sram", "bias", "no bias", "2-D input",
       "1-D input", "short last column block", "several waves", "more stages than buffer slots",
       "latency 0", "latency > 32", "latency 1..32", "operand path binds",
       "operand path never binds"}
)


def ese_data(**fields):
    """A small LSTM workload's (layer, input) (fields of :class:`LSTMSpec`)."""
    from eie_sim.workloads.lstm import LSTMSpec, lstm_workload

    wl = lstm_workload(LSTMSpec(name="lstm", **fields))
    return wl.layers[0], wl.inputs


@st.composite
def ese_cases(draw) -> Case:
    # Tiny shapes: the SimPy engine's cost grows with rounds x steps x phases x columns; every
    # feature of ESE_REQUIRED (rounds, idle channels, padding, stalls, both bounds) still shows.
    hidden = draw(ints(1, 6))
    fields = dict(
        input_size=draw(ints(1, 4)), hidden=hidden,
        projection=draw(choice(0, 1, 3)), peepholes=draw(BOOLEANS),
        density=draw(choice(0.15, 0.4, 0.8, 1.0)),
        steps=draw(choice(1, 1, 2, 3)), utterances=draw(ints(1, 3)),
        prune=draw(choice("magnitude", "load-balance")),
        prune_pes=draw(ints(1, 4)), weight_scale=draw(choice(0.5, 2.0, 8.0)),
        seed=draw(ints(0, 1000)))
    layer, x = ese_data(**fields)
    config = ESEConfig(
        channels=draw(ints(1, 2)), num_pes=draw(ints(1, 4)),
        act_queue_depth=draw(ints(2, 4)), relative_index_bits=draw(ints(1, 4)),
        ewu_lanes=draw(ints(1, 4)), ewu_latency_cycles=draw(ints(0, 3)),
        dram_bandwidth_gbps=draw(choice(0.05, 1.0, 100.0)))
    return Case(layer, x, config, _call("ese_data", **fields))


def ese_features(case: Case) -> set[str]:
    """What an ESE case exercises (from its plan and a fast-engine run: a few milliseconds)."""
    from eie_sim.accelerator import RunOptions
    from eie_sim.engines.ese import model

    c, layer, x = case.config, case.layer, case.x
    utterances = x.shape[1] // layer.steps
    out = {"projection" if layer.has_projection else "no projection",
           "peepholes" if layer.peep is not None else "no peepholes",
           "one step" if layer.steps == 1 else "several steps",
           f"pruning {layer.spec.prune}"}
    if utterances > c.channels:
        out.add("several rounds")
    if utterances % c.channels:
        out.add("idle channels")
    if c.num_pes == 1:
        out.add("1 PE")
    prepared = model.prepare(layer, x, c, RunOptions())
    plans = prepared.state.plans
    if any((pl.enc.entries() > pl.enc.real).any() for pl in plans):
        out.add("padding")
    if any((pl.enc.entries() == 0).any() for pl in plans):
        out.add("empty slice")
    run = model.run_fast(prepared, c)
    if run.counts["ccu.stall"]:
        out.add("broadcast stall")
    spmv, loads = run.details["spmv_cycles"], run.details["load_cycles"]
    out.add("dram-bound" if sum(loads.values()) > sum(spmv.values()) else "compute-bound")
    if np.any(np.abs(run.outputs.astype(np.int64)) >= INT16_MAX):
        out.add("saturated y")
    return out


ESE_REQUIRED = frozenset({
    "projection", "no projection", "peepholes", "no peepholes", "one step", "several steps",
    "pruning magnitude", "pruning load-balance", "several rounds", "idle channels", "1 PE",
    "padding", "empty slice", "broadcast stall", "dram-bound", "compute-bound",
})


#: Registry name -> strategy of :class:`Case`. Every registered accelerator needs one.
STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    "eie": eie_cases(),
    "stc": stc_cases(),
    "dense-tc": dense_tc_cases(),
    "dense": dense_cases(),
    "ese": ese_cases(),
}

#: Registry name -> (what a case exercises, what the generated examples must cover). Optional.
FEATURES: dict[str, tuple[Callable[[Case], set[str]], frozenset[str]]] = {
    "eie": (pe_array_features, PE_ARRAY_REQUIRED),
    "dense": (pe_array_features, PE_ARRAY_REQUIRED),
    "stc": (tensor_core_features, TENSOR_CORE_REQUIRED),
    "dense-tc": (tensor_core_features, TENSOR_CORE_REQUIRED),
    "ese": (ese_features, ESE_REQUIRED),
}
