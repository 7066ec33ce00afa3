"""Tests of workloads/: LayerSpec, synthetic layer generation, and the named Table III workloads."""

import math
import time
import tracemalloc

import numpy as np
import pytest

from eie_sim import accel
from eie_sim.errors import WorkloadError
from eie_sim.reference import reference_forward
from eie_sim.workloads import (
    LayerSpec,
    build_layer,
    describe,
    get_workload,
    synthetic,
    workload_names,
)
from eie_sim.workloads.paper import DEFAULT_SEED, NETWORKS, TABLE_III, layer_spec

BIG = {"vgg-fc6", "alexnet-fc6", "alexnet", "vgg"}


def arrays_of(layer, x):
    return [
        layer.col_ptr,
        layer.row_idx,
        layer.weight_idx,
        layer.codebook,
        layer.bias_idx,
        layer.bias_codebook,
        x,
    ]


def same_layer(a, xa, b, xb):
    return (
        all(
            (p is None and q is None) or (p is not None and q is not None and np.array_equal(p, q))
            for p, q in zip(arrays_of(a, xa), arrays_of(b, xb), strict=True)
        )
        and a.weight_frac_bits == b.weight_frac_bits
    )


def within_binomial(count, n, p, sigmas=5.0):
    """|count - n p| within ``sigmas`` binomial standard deviations (plus one for rounding)."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


# ----------------------------------------------------------------------------- LayerSpec


def spec(**over):
    kw = dict(name="s", inputs=20, outputs=10, weight_density=0.3, activation_density=0.5, seed=1)
    kw.update(over)
    return LayerSpec(**kw)


@pytest.mark.parametrize(
    "field, value",
    [
        ("inputs", 0),
        ("inputs", -3),
        ("inputs", 2.0),
        ("inputs", True),
        ("inputs", "4"),
        ("outputs", 0),
        ("outputs", 1.5),
        ("outputs", None),
        ("weight_density", -0.1),
        ("weight_density", 1.5),
        ("weight_density", float("nan")),
        ("weight_density", True),
        ("weight_density", "0.5"),
        ("activation_density", -1e-9),
        ("activation_density", 2),
        ("activation_density", None),
        ("output_density", 1.01),
        ("output_density", -0.5),
        ("output_density", "half"),
        ("seed", -1),
        ("seed", 1.0),
        ("seed", True),
        ("seed", None),
    ],
)
def test_layer_spec_rejects_bad_fields(field, value):
    """Bad shapes, densities and seeds raise WorkloadError naming the field."""
    with pytest.raises(WorkloadError, match=field):
        spec(**{field: value})


def test_layer_spec_rejects_absurd_size():
    """More than 2**40 weights is refused (guards typos) before anything is allocated."""
    with pytest.raises(WorkloadError, match="2\\*\\*40"):
        spec(inputs=1 << 21, outputs=1 << 20)


def test_layer_spec_accepts_edges():
    """Densities 0 and 1, numpy integer sizes and output_density None are valid."""
    spec(weight_density=0.0, activation_density=1.0, output_density=None)
    spec(weight_density=1, activation_density=0, inputs=np.int64(5), seed=np.int32(3))


# ----------------------------------------------------------------------------- build_layer


def test_build_layer_reproducible_and_seed_dependent():
    """Same spec -> identical layer and input; another seed -> different ones."""
    a, xa = build_layer(spec(inputs=300, outputs=200, seed=7))
    b, xb = build_layer(spec(inputs=300, outputs=200, seed=7))
    c, xc = build_layer(spec(inputs=300, outputs=200, seed=8))
    assert same_layer(a, xa, b, xb)
    assert not np.array_equal(xa, xc)
    assert a.nnz != c.nnz or not np.array_equal(a.row_idx, c.row_idx)


@pytest.mark.parametrize("density", [0.001, 0.01, 0.09, 0.5, 0.95])
def test_weight_density_matches_spec(density):
    """Non-zeros are Binomial(rows * cols, d): within 5 standard deviations of the spec."""
    layer, _ = build_layer(spec(inputs=600, outputs=500, weight_density=density, seed=11))
    assert within_binomial(layer.nnz, 600 * 500, density)
    assert layer.row_idx.size == layer.nnz == layer.col_ptr[-1]


def test_weight_density_extremes():
    """Density 1 stores every weight; density 0 stores none and still builds."""
    full, _ = build_layer(spec(inputs=30, outputs=20, weight_density=1.0))
    assert full.nnz == 600
    empty, _ = build_layer(spec(inputs=30, outputs=20, weight_density=0.0))
    assert empty.nnz == 0


@pytest.mark.parametrize("density", [0.0, 0.001, 0.183, 0.351, 0.5, 0.999, 1.0])
def test_activation_density_is_exact(density):
    """The input has exactly round(d * n) non-zeros, all positive int16."""
    n = 4097
    _, x = build_layer(spec(inputs=n, outputs=8, activation_density=density, seed=5))
    assert x.dtype == np.int16 and x.shape == (n,)
    assert np.count_nonzero(x) == round(density * n)
    assert np.all(x >= 0)


def test_activation_values_are_half_normal_in_q7_8():
    """Non-zero inputs are |N(0, 1)| in Q7.8: mean sqrt(2/pi), RMS 1 (loose 5-sigma bounds)."""
    _, x = build_layer(spec(inputs=20000, outputs=4, activation_density=0.5, seed=21))
    real = x[x != 0].astype(np.float64) / 256
    assert abs(real.mean() - math.sqrt(2 / math.pi)) < 0.03
    assert abs(math.sqrt(np.mean(real**2)) - 1.0) < 0.03


@pytest.mark.parametrize("wd, ad", [(0.1, 0.35), (0.04, 0.183), (0.25, 1.0), (0.01, 0.5)])
def test_weight_scale_keeps_output_rms_near_input_rms(wd, ad):
    """Weights are scaled so E[w^2] * fan-in * densities = 1: output RMS ~ 1 (within 15 %)."""
    s = spec(
        inputs=2000,
        outputs=1000,
        weight_density=wd,
        activation_density=ad,
        output_density=None,
        seed=13,
    )
    layer, x = build_layer(s)
    y = reference_forward(layer, x).astype(np.float64) / 256
    assert 0.85 < math.sqrt(np.mean(y**2)) < 1.15


def test_given_input_is_used_and_checked():
    """An explicit input is returned as is; a wrong-length one is a WorkloadError."""
    x = np.arange(20, dtype=np.int16)
    _, got = build_layer(spec(), x)
    assert got is x
    with pytest.raises(WorkloadError, match="takes 20 inputs"):
        build_layer(spec(), np.ones(19, dtype=np.int16))


@pytest.mark.parametrize("target", [0.1, 0.353, 0.5, 0.9])
def test_bias_calibration_hits_output_density(target):
    """The calibrated bias makes the fraction of reference outputs > 0 within 1 pp of target."""
    s = spec(
        inputs=2000,
        outputs=1000,
        weight_density=0.1,
        activation_density=0.35,
        seed=3,
        output_density=target,
    )
    layer, x = build_layer(s)
    assert layer.has_bias
    assert np.unique(layer.bias_values()).size == 1  # one value for all outputs
    y = reference_forward(layer, x)
    assert abs(float(np.mean(y > 0)) - target) <= 0.01


@pytest.mark.parametrize("target", [0.0, 0.25, 0.5, 1.0])
def test_bias_is_minus_the_k_plus_first_largest_pre_bias_output(target):
    """With k = round(d * n_out): bias = -(k+1)-th largest pre-bias output, so exactly the
    outputs above it end up > 0; d = 1 makes every output positive."""
    s = spec(
        inputs=300,
        outputs=400,
        weight_density=0.2,
        activation_density=0.5,
        seed=9,
        output_density=target,
    )
    layer, x = build_layer(s)
    y0 = reference_forward(layer, x, include_bias=False).astype(np.int64)
    desc = np.sort(y0)[::-1]
    k = round(target * layer.n_out)
    b = int(layer.bias_values()[0])
    if k < layer.n_out:
        assert b == -desc[k]
        assert int(np.sum(reference_forward(layer, x) > 0)) == int(np.sum(y0 > desc[k]))
    else:
        assert b == -desc[-1] + 1
        assert np.all(reference_forward(layer, x) > 0)


def test_no_bias_when_output_density_is_none():
    """output_density None builds a layer without a bias."""
    layer, _ = build_layer(spec(output_density=None))
    assert not layer.has_bias


def test_huge_sparse_layer_memory_grows_with_nonzeros():
    """A 100000 x 100000 layer at density 1e-5 builds without allocating rows * cols."""
    s = LayerSpec(
        name="huge",
        inputs=100_000,
        outputs=100_000,
        weight_density=1e-5,
        activation_density=0.35,
        seed=4,
    )
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        layer, x = build_layer(s)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    assert peak < 100 * 2**20
    assert within_binomial(layer.nnz, 10**10, 1e-5)
    assert np.count_nonzero(x) == 35_000
    assert elapsed < 30  # generous: about 2 s on one core under tracemalloc


def plain_positions(rng, n_out, n_in, density):
    """sparse_positions written the direct way: rng.geometric gaps, cumulated, split by column."""
    total = n_out * n_in
    parts, last = [], -1
    for batch in synthetic._gap_batches(density * total):
        pos = np.cumsum(rng.geometric(density, size=batch)) + last
        parts.append(pos)
        last = int(pos[-1])
        if last >= total - 1:
            break
    flat = np.concatenate(parts)
    flat = flat[flat < total]
    col_ptr = np.searchsorted(flat, np.arange(n_in + 1) * n_out)
    return col_ptr, flat - np.repeat(np.arange(n_in) * n_out, np.diff(col_ptr))


@pytest.mark.parametrize(
    "n_out, n_in, density",
    [(700, 300, 0.004), (64, 50, 0.1), (1, 1, 0.3), (300, 1, 0.2), (1, 500, 0.05),
     (200, 100, 0.3333), (200, 100, 0.5), (30, 20, 1e-6)],
)
@pytest.mark.parametrize("batches", ["normal", "tiny"])
def test_sparse_positions_is_plain_geometric_gaps(monkeypatch, n_out, n_in, density, batches):
    """The blocked positions equal cumulated rng.geometric gaps (the same stream, left in the
    same state), with tiny blocks and tiny batches (many batches, grown rows) too."""
    if batches == "tiny":
        monkeypatch.setattr(synthetic, "POSITION_BLOCK", 7)
        def tiny(expected):
            yield from (5, 3)
            while True:
                yield 1

        monkeypatch.setattr(synthetic, "_gap_batches", tiny)
    rng_a, rng_b = np.random.default_rng(11), np.random.default_rng(11)
    col_ptr, rows = synthetic.sparse_positions(rng_a, n_out, n_in, density)
    want_ptr, want_rows = plain_positions(rng_b, n_out, n_in, density)
    assert col_ptr.dtype == np.int64 and rows.dtype == np.int32
    assert np.array_equal(col_ptr, want_ptr) and np.array_equal(rows, want_rows)
    assert rng_a.random() == rng_b.random()


def test_pruned_laplace_values_stream():
    """Exponentials, then one uniform per value for its sign (negative below 0.5)."""
    for n in (0, 1, 100_003):
        rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
        got = synthetic.pruned_laplace_values(rng_a, n, 0.1)
        want = rng_b.exponential(1.0, size=n) + math.log(10.0)
        want[rng_b.random(n) < 0.5] *= -1
        assert np.array_equal(got, want)
        assert rng_a.random() == rng_b.random()


@pytest.mark.parametrize("n", [1, 7, 8, 129, 1000, 65_536, 65_537, 300_007])
def test_mean_square_is_numpys_bit_for_bit(n):
    v = np.random.default_rng(n).standard_exponential(n) + 2.3
    assert synthetic.mean_square(v) == float(np.mean(v**2))


def panel_stream(seed, n_in, n_out, k):
    if k == 0:
        return np.random.default_rng([seed, n_in, n_out])
    return np.random.default_rng(np.random.SeedSequence([seed, n_in, n_out], spawn_key=(k,)))


@pytest.mark.parametrize("density", [0.1, 0.4])
@pytest.mark.parametrize("batches", ["normal", "tiny"])
def test_uniform_panels_are_independent_streams_on_any_thread_count(
    monkeypatch, density, batches
):
    """A layer past PANEL_NONZEROS (made small here) is panels of columns, panel k the plain
    generator (positions, then values) on its own stream; the same on 1, 2 or 3 threads, with
    rows moved out of their slots or (a panel outgrowing its slot) concatenated."""
    monkeypatch.setattr(synthetic, "PANEL_NONZEROS", 300)
    if batches == "tiny":
        def tiny(expected):
            yield from (5, 3)
            while True:
                yield 1

        monkeypatch.setattr(synthetic, "_gap_batches", tiny)
    spec = LayerSpec("p", 203, 150, density, 0.5, seed=3)
    width = synthetic.panel_width(150, 203, density)
    assert width == int(300 / (150 * density)) < 203
    built = {}
    for cores in (1, 2, 3):
        monkeypatch.setattr(accel, "available_cores", lambda c=cores: c)
        rng = np.random.default_rng([3, 203, 150])
        built[cores] = (*synthetic.uniform_weights(spec, rng), rng.random())
        assert same_layer(*build_layer(spec), *build_layer(spec))
    for cores in (2, 3):
        assert all(np.array_equal(a, b) for a, b in zip(built[1], built[cores], strict=True))
    col_ptr, rows, values, after = built[1]
    assert col_ptr.dtype == np.int64 and rows.dtype == np.int32
    assert col_ptr.size == 204 and col_ptr[-1] == rows.size == values.size
    for k, c0 in enumerate(range(0, 203, width)):
        rng = panel_stream(3, 203, 150, k)
        ptr, want_rows = synthetic.sparse_positions(rng, 150, min(width, 203 - c0), density)
        want_values = synthetic.pruned_laplace_values(rng, want_rows.size, density)
        lo, hi = col_ptr[c0], col_ptr[c0 + ptr.size - 1]
        assert np.array_equal(col_ptr[c0 : c0 + ptr.size] - lo, ptr)
        assert np.array_equal(rows[lo:hi], want_rows)
        assert np.array_equal(values[lo:hi], want_values)
        if k == 0:  # the layer's own stream goes on to draw the input
            assert after == rng.random()


def test_one_panel_up_to_panel_nonzeros():
    """Layers expecting at most PANEL_NONZEROS non-zeros (every Table III layer) are one panel:
    the layer's stream draws all positions, then all values."""
    assert synthetic.panel_width(4096, 25088, 0.04) == 25088  # VGG-6, the largest
    assert synthetic.panel_width(28672, 8192, 0.1) < 8192
    assert synthetic.panel_width(10, 10**6, 0.0) == synthetic.panel_width(10, 10**6, 1.0) == 10**6


# ----------------------------------------------------------------------------- named workloads


def check_table_iii(name, layer, x):
    n_in, n_out, wd, ad, next_ad = TABLE_III[name]
    assert (layer.n_in, layer.n_out) == (n_in, n_out)
    assert within_binomial(layer.nnz, n_in * n_out, wd)
    assert np.count_nonzero(x) == round(ad * n_in)
    assert abs(float(np.mean(reference_forward(layer, x) > 0)) - next_ad) <= 0.01


SINGLE = list(TABLE_III)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in SINGLE],
)
def test_table_iii_single_layers(name):
    """Each Table III workload has the paper's shape, weight and activation density."""
    w = get_workload(name)
    assert w.name == name and len(w.layers) == 1 and not w.chained
    check_table_iii(name, w.layers[0], w.inputs)


def test_registry_lists_every_table_iii_layer_and_network():
    """workload_names() covers Table III plus the chained networks."""
    names = workload_names()
    assert set(TABLE_III) | set(NETWORKS) <= set(names)
    assert len(names) == len(set(names))
    for name in names:
        assert describe(name)
    assert "9216 x 4096" in describe("alexnet-fc6")


@pytest.mark.slow
@pytest.mark.parametrize("net", sorted(NETWORKS))
def test_chained_networks_shapes(net):
    """The chained workloads stack FC6 -> FC7 -> FC8 with matching shapes."""
    w = get_workload(net)
    assert w.chained
    assert [layer.name for layer in w.layers] == list(NETWORKS[net])
    for layer, name in zip(w.layers, NETWORKS[net], strict=True):
        assert (layer.n_in, layer.n_out) == TABLE_III[name][:2]
        assert within_binomial(layer.nnz, layer.n_in * layer.n_out, TABLE_III[name][2])
    first = NETWORKS[net][0]
    assert np.count_nonzero(w.inputs) == round(TABLE_III[first][3] * TABLE_III[first][0])


@pytest.mark.slow
def test_alexnet_chain_feeds_actual_relu_outputs():
    """FC7's input is FC6's actual reference output: its ReLU density is FC6's calibrated 35.3 %,
    and FC7/FC8 are the layers build_layer makes on those actual outputs."""
    w = get_workload("alexnet")
    fc6, fc7, fc8 = w.layers
    y6 = reference_forward(fc6, w.inputs)
    assert abs(float(np.mean(y6 > 0)) - TABLE_III["alexnet-fc7"][3]) <= 0.01
    ref7, x7 = build_layer(layer_spec("alexnet-fc7", DEFAULT_SEED), y6)
    assert x7 is y6
    assert same_layer(fc7, y6, ref7, x7)
    y7 = reference_forward(fc7, y6)
    assert abs(float(np.mean(y7 > 0)) - TABLE_III["alexnet-fc8"][3]) <= 0.01
    ref8, _ = build_layer(layer_spec("alexnet-fc8", DEFAULT_SEED), y7)
    assert same_layer(fc8, y7, ref8, y7)
    # The standalone FC7 workload uses a synthetic input instead.
    assert not np.array_equal(get_workload("alexnet-fc7").inputs, y6)


def test_seed_override_changes_workload():
    """get_workload(name, seed) is reproducible per seed and differs from the default seed."""
    a = get_workload("neuraltalk-lstm", seed=1)
    b = get_workload("neuraltalk-lstm", seed=1)
    c = get_workload("neuraltalk-lstm")
    assert same_layer(a.layers[0], a.inputs, b.layers[0], b.inputs)
    assert not np.array_equal(a.layers[0].row_idx[:1000], c.layers[0].row_idx[:1000])


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seed_raises(seed):
    """A seed that is not a non-negative integer raises WorkloadError."""
    with pytest.raises(WorkloadError, match="seed"):
        get_workload("neuraltalk-lstm", seed=seed)


def test_unknown_workload_lists_allowed_names():
    """An unknown name raises WorkloadError whose message lists every allowed name."""
    with pytest.raises(WorkloadError) as err:
        get_workload("alexnet-fc9")
    msg = str(err.value)
    assert "alexnet-fc9" in msg
    for name in workload_names():
        assert name in msg
