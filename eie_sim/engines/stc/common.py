"""What both tensor-core engines share: the counter catalogue, the work decomposition (as
data), the operand images in memory, and the record an engine returns.

The decomposition (:func:`make_plan`, docs/STC_MODEL.md §Work decomposition) is pure data:
tiles, waves, stages, the bytes each stage moves and the cycles each transfer takes (computed
once, with exact integer arithmetic), the fragments each tensor core owns, and the order in
which the global-memory loader serves its requests. The timing *logic* (who waits for whom)
lives in each engine: SimPy events in ``des/``, a recurrence in ``fast.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eie_sim.config import STCConfig
from eie_sim.engines.stc.counters import COUNTERS, zero_counts  # noqa: F401 (re-export)
from eie_sim.errors import CapacityError
from eie_sim.formats.nm_sparse import NMSparse, index_bits

#: Rows (M) and batch columns (N) of one MMA instruction's output fragment.
MMA_ROWS = 16
MMA_COLS = 8
#: Bytes of one accumulator / output element (fp32 or int32).
ACC_BYTES = 4



def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def transfer_cycles(nbytes: int, config: STCConfig) -> int:
    """Cycles to move ``nbytes`` over global memory: ``ceil(nbytes / bytes_per_cycle)``,
    exact (the bandwidth is a fraction; Python integers)."""
    bpc = config.dram_bytes_per_cycle
    return ceil_div(int(nbytes) * bpc.denominator, bpc.numerator)


def _ceil_each(nbytes: np.ndarray, num: int, den: int) -> np.ndarray:
    """``ceil(b * den / num)`` for every ``b`` of ``nbytes``, exact: evaluated with Python
    integers once per distinct value (a big GEMM has few distinct transfer sizes)."""
    values, inverse = np.unique(np.asarray(nbytes, dtype=np.int64), return_inverse=True)
    cycles = np.array([ceil_div(int(b) * den, num) for b in values], dtype=np.int64)
    return cycles[inverse.reshape(-1)].reshape(np.shape(nbytes))


def raster_order(row_blocks: int, col_blocks: int, swizzle: int) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """``(row block, column block)`` of every tile in launch order: groups of ``swizzle``
    column blocks, one after the other; within a group the row blocks in order, and for each
    row block the group's column blocks (CUTLASS ``GemmIdentityThreadblockSwizzle<N>``;
    ``swizzle`` 1: column blocks outer, row blocks inner)."""
    rbs, cbs = [], []
    for q0 in range(0, col_blocks, swizzle):
        nq = min(swizzle, col_blocks - q0)
        rbs.append(np.repeat(np.arange(row_blocks, dtype=np.int64), nq))
        cbs.append(np.tile(np.arange(q0, q0 + nq, dtype=np.int64), row_blocks))
    return np.concatenate(rbs), np.concatenate(cbs)


@dataclass(frozen=True)
class Plan:
    """The work decomposition of one GEMM on one config (shared data, no timing logic).

    Shapes: ``T`` tiles, ``W`` waves, ``S`` stages per wave, ``G = W * S`` stages in all.

    Attributes
    ----------
    rows, k, batch : int
        GEMM sizes M (outputs), K (inputs), Nb.
    k_padded : int
        K rounded up to the instruction's K (operands are stored zero-padded).
    k_kept, k_cover : int
        Stored K per row and K covered by one instruction (16 and 32 for fp16 2:4).
    kept_per_row : int
        Stored K slots per row over ``k_padded`` (sparse: ``k_padded * N / M``).
    real_slots_per_row : int
        Slots holding real data: sparse ``ceil(K / M) * N`` (the format's kept values),
        dense ``K``.
    sparse : bool
    index_bits, value_bytes : int
        Metadata bits per kept value; bytes per operand value.
    sms, tcs : int
        SMs and tensor cores per SM.
    mma_cycles, mma_latency, slots : int
        MMA issue interval, drain latency, operand-buffer stages.
    tile_row0, tile_rows, tile_col0, tile_cols : numpy.ndarray of int64, shape (T,)
        Output tile ``t`` covers rows ``row0 : row0 + rows`` and batch columns likewise; tile
        ``t`` runs on SM ``t % sms`` in wave ``t // sms``.
    tile_rtiles, tile_ctiles : numpy.ndarray of int64, shape (T,)
        16-row and 8-column fragments of each tile.
    stage_ksteps : numpy.ndarray of int64, shape (S,)
        MMA k-steps of each stage of a wave; ``stage_kstep0`` the first one.
    wave_frags : numpy.ndarray of int64, shape (W, sms, tcs)
        Fragments tensor core ``j`` of SM ``i`` owns in each wave.
    load_cycles : list of int, length G
        Transfer cycles of each stage's load.
    dram_weight_bytes, dram_metadata_bytes, dram_act_bytes, sram_weight_bytes,
    sram_metadata_bytes, smem_write_bytes : numpy.ndarray of int64, shape (G,)
        Bytes each stage's load moves.
    write_bytes, bias_bytes : numpy.ndarray of int64, shape (W,)
        Output bytes each wave writes and bias bytes its epilogue reads; ``write_cycles`` the
        transfer cycles of both.
    program : list of (str, int)
        The loader's requests in service order: ``("load", g)`` / ``("write", w)``.
    mma_smem_bytes : int
        Operand fragment bytes one MMA uses (A values + metadata + B); with warp tiles of one
        fragment (16 x 8) it is also what each MMA reads from shared memory.
    tile_smem_fill_bytes, tile_smem_read_bytes : numpy.ndarray of int64, shape (T,)
        Per MMA k-step of tile ``t``: bytes the loader writes into its SM's shared memory
        (real rows and columns) and bytes its warps read from it (each warp reads its A
        rows with metadata and its B columns once per k-step, padded to 16 x 8 fragments,
        and reuses them for all the MMAs of its warp tile).
    stage_ks_index, wave_operand_cycles : numpy.ndarray of int64, shapes (S,), (W, sms, U)
        The operand-path gate: stage ``s`` of wave ``w`` on SM ``i`` needs
        ``wave_operand_cycles[w, i, stage_ks_index[s]]`` cycles of shared memory,
        ``ceil(ks * (fill + read) / smem_bytes_per_clk)`` (U: distinct k-steps per stage; 0
        for an SM without a tile). A working tensor core spends ``max(its MMA cycles, that)``
        on the stage.
    stage_buffer_bytes : int
        Largest stage an SM buffers, bytes (times ``slots`` must fit ``smem_bytes_per_sm``).
    """

    rows: int
    k: int
    batch: int
    k_padded: int
    k_kept: int
    k_cover: int
    kept_per_row: int
    real_slots_per_row: int
    sparse: bool
    index_bits: int
    value_bytes: int
    sms: int
    tcs: int
    mma_cycles: int
    mma_latency: int
    slots: int
    tile_row0: np.ndarray
    tile_rows: np.ndarray
    tile_col0: np.ndarray
    tile_cols: np.ndarray
    tile_rtiles: np.ndarray
    tile_ctiles: np.ndarray
    stage_ksteps: np.ndarray
    stage_kstep0: np.ndarray
    wave_frags: np.ndarray
    load_cycles: list[int]
    dram_weight_bytes: np.ndarray
    dram_metadata_bytes: np.ndarray
    dram_act_bytes: np.ndarray
    sram_weight_bytes: np.ndarray
    sram_metadata_bytes: np.ndarray
    smem_write_bytes: np.ndarray
    write_bytes: np.ndarray
    bias_bytes: np.ndarray
    write_cycles: list[int]
    program: list[tuple[str, int]]
    mma_smem_bytes: int
    tile_smem_fill_bytes: np.ndarray
    tile_smem_read_bytes: np.ndarray
    stage_ks_index: np.ndarray
    wave_operand_cycles: np.ndarray
    smem_bytes_per_clk: int
    stage_buffer_bytes: int
    memory: dict[str, int] = field(default_factory=dict)

    @property
    def waves(self) -> int:
        return int(self.wave_frags.shape[0])

    @property
    def stages_per_wave(self) -> int:
        return int(self.stage_ksteps.size)

    @property
    def stages(self) -> int:
        return self.waves * self.stages_per_wave

    @property
    def tiles(self) -> int:
        return int(self.tile_rows.size)

    def wave_of(self, g: int) -> int:
        return g // self.stages_per_wave

    def last_stage(self, w: int) -> int:
        """Global index of wave ``w``'s last stage."""
        return (w + 1) * self.stages_per_wave - 1

    def tile_of(self, w: int, sm: int) -> int | None:
        """Tile SM ``sm`` computes in wave ``w`` (None: the SM is unused in that wave)."""
        t = w * self.sms + sm
        return t if t < self.tiles else None

    def fragments(self, t: int, tc: int) -> list[tuple[int, int]]:
        """``(row0, col0)`` of the 16 x 8 fragments of tile ``t`` that tensor core ``tc`` of
        its SM computes (fragment ``f`` goes to tensor core ``f % tcs``, row-major order)."""
        c = int(self.tile_ctiles[t])
        r0, c0 = int(self.tile_row0[t]), int(self.tile_col0[t])
        out = []
        for f in range(tc, int(self.tile_rtiles[t]) * c, self.tcs):
            ri, ci = divmod(f, c)
            out.append((r0 + MMA_ROWS * ri, c0 + MMA_COLS * ci))
        return out

    def operand_cycles(self, g: int) -> np.ndarray:
        """Shared-memory cycles of stage ``g`` on every SM, shape (sms,)."""
        w, s = divmod(g, self.stages_per_wave)
        return self.wave_operand_cycles[w, :, int(self.stage_ks_index[s])]

    def operand_path_cycles(self) -> int:
        """Sum over stages of the slowest SM's stage time if loads were free: its busiest
        tensor core's MMA cycles or its shared-memory operand cycles, the longer."""
        ks_vals = np.zeros(int(self.stage_ks_index.max()) + 1, dtype=np.int64)
        ks_vals[self.stage_ks_index] = self.stage_ksteps
        mma = self.wave_frags.max(axis=2)[:, :, None] * ks_vals * self.mma_cycles
        per = np.maximum(mma, self.wave_operand_cycles).max(axis=1)  # (W, U)
        uses = np.bincount(self.stage_ks_index, minlength=ks_vals.size)
        return int((per * uses).sum())

    def compute_cycles(self) -> int:
        """Sum over stages of the busiest tensor core's MMA cycles: the GEMM's time if every
        load were free ("MMA cycles")."""
        per_wave = self.wave_frags.max(axis=(1, 2))
        return int(per_wave.sum() * int(self.stage_ksteps.sum()) * self.mma_cycles)

    def timing_summary(self) -> dict[str, int]:
        """Cycles of the work if it ran alone: MMA, loads, write-back (no overlap)."""
        return {
            "mma_cycles": self.compute_cycles(),
            "load_cycles": int(sum(self.load_cycles)),
            "writeback_cycles": int(sum(self.write_cycles)),
        }


def make_plan(rows: int, k: int, batch: int, config: STCConfig, *, bias: bool = False) -> Plan:
    """Decompose ``Y (rows x batch) = W (rows x k) . X (k x batch) (+ bias)`` for ``config``.

    With ``bias`` the epilogue reads each tile's bias rows (``ACC_BYTES`` each) at write-back,
    over the same channel as the outputs, and adds them to the accumulators.

    Raises
    ------
    CapacityError
        A stage does not fit the operand buffer, or (``weights_from 'sram'``) the compressed
        weights do not fit the weight store.
    """
    sparse = config.sparse
    vb = config.value_bytes
    k_kept, k_cover = config.mma_k_kept, config.mma_k
    ibits = index_bits(config.m) if sparse else 0
    k_padded = ceil_div(k, k_cover) * k_cover
    ksteps_total = k_padded // k_cover
    kept_per_row = ksteps_total * k_kept
    real_slots = ceil_div(k, config.m) * config.n if sparse else k
    # Per row per k-step: stored values and metadata, bytes (k_kept * ibits is a multiple of 8).
    w_step = k_kept * vb
    meta_step = k_kept * ibits // 8
    x_step = k_cover * vb  # per batch column

    # Tiles in launch order (raster_order: groups of raster_swizzle column blocks; swizzle 1:
    # column blocks outer, row blocks inner); tile t runs on SM t % sms in wave t // sms.
    bn = min(config.block_n, ceil_div(batch, MMA_COLS) * MMA_COLS)
    bm = config.block_m
    row0 = np.arange(0, rows, bm, dtype=np.int64)
    col0 = np.arange(0, batch, bn, dtype=np.int64)
    rb, cb = raster_order(row0.size, col0.size, config.raster_swizzle)
    t_row0 = row0[rb]
    t_col0 = col0[cb]
    t_rows = np.minimum(bm, rows - t_row0)
    t_cols = np.minimum(bn, batch - t_col0)
    t_rt = -(-t_rows // MMA_ROWS)
    t_ct = -(-t_cols // MMA_COLS)
    n_tiles = t_rows.size
    sms, tcs = config.sms, config.tensor_cores_per_sm
    n_waves = ceil_div(n_tiles, sms)

    s_per_wave = ceil_div(ksteps_total, config.k_steps_per_stage)
    stage_kstep0 = np.arange(s_per_wave, dtype=np.int64) * config.k_steps_per_stage
    stage_ksteps = np.minimum(config.k_steps_per_stage, ksteps_total - stage_kstep0)

    # Fragments per tensor core per wave: tile t has F = rtiles * ctiles fragments and tensor
    # core j owns fragments j, j + tcs, ...
    frags = t_rt * t_ct
    wave_frags = np.zeros((n_waves * sms, tcs), dtype=np.int64)
    j = np.arange(tcs, dtype=np.int64)
    wave_frags[:n_tiles] = np.maximum(0, -(-(frags[:, None] - j[None, :]) // tcs))
    wave_frags = wave_frags.reshape(n_waves, sms, tcs)

    # Bytes per stage. Global memory: a slab shared by several SMs of a wave (same row block
    # or same column block) is read once (L2 merges the requests); every SM's buffer gets its
    # own copy.
    wave_of_tile = np.arange(n_tiles) // sms
    uniq_rows = np.zeros(n_waves, dtype=np.int64)
    uniq_cols = np.zeros(n_waves, dtype=np.int64)
    for w in range(n_waves):
        sel = wave_of_tile == w
        _, first = np.unique(t_row0[sel], return_index=True)
        uniq_rows[w] = int(t_rows[sel][first].sum())
        _, first = np.unique(t_col0[sel], return_index=True)
        uniq_cols[w] = int(t_cols[sel][first].sum())
    tile_rows_w = np.bincount(wave_of_tile, weights=t_rows, minlength=n_waves).astype(np.int64)
    tile_cols_w = np.bincount(wave_of_tile, weights=t_cols, minlength=n_waves).astype(np.int64)
    ks = np.tile(stage_ksteps, n_waves)
    wv = np.repeat(np.arange(n_waves), s_per_wave)
    weight_b = uniq_rows[wv] * ks * w_step
    meta_b = uniq_rows[wv] * ks * meta_step
    act_b = uniq_cols[wv] * ks * x_step
    smem_b = tile_rows_w[wv] * ks * (w_step + meta_step) + tile_cols_w[wv] * ks * x_step
    zeros = np.zeros_like(weight_b)
    if config.weights_from == "sram":
        dram_w, dram_m, sram_w, sram_m = zeros, zeros, weight_b, meta_b
    else:
        dram_w, dram_m, sram_w, sram_m = weight_b, meta_b, zeros, zeros
    bpc = config.dram_bytes_per_cycle
    load_cycles = np.maximum(
        _ceil_each(dram_w + dram_m + act_b, bpc.numerator, bpc.denominator),
        _ceil_each(sram_w + sram_m, config.weight_sram_bytes_per_clk, 1),
    ).tolist()
    write_b = (
        np.bincount(wave_of_tile, weights=t_rows * t_cols, minlength=n_waves).astype(np.int64)
        * ACC_BYTES
    )
    bias_b = (
        np.bincount(wave_of_tile, weights=t_rows, minlength=n_waves).astype(np.int64) * ACC_BYTES
        if bias else np.zeros(n_waves, dtype=np.int64)
    )
    write_cycles = [transfer_cycles(int(b + c), config) for b, c in zip(write_b, bias_b,
                                                                         strict=True)]

    # Loader service order: the loads in stage order; wave w's write-back right after the
    # last load that the buffer lets in while w's last stage computes (stage last + slots - 1).
    slots = config.buffer_stages
    n_stages = n_waves * s_per_wave
    after: dict[int, list[int]] = {}
    for w in range(n_waves):
        g = min((w + 1) * s_per_wave - 1 + slots - 1, n_stages - 1)
        after.setdefault(g, []).append(w)
    program: list[tuple[str, int]] = []
    for g in range(n_stages):
        program.append(("load", g))
        program.extend(("write", w) for w in after.get(g, []))

    mma_smem = MMA_ROWS * (w_step + meta_step) + MMA_COLS * x_step
    # Operand path (docs/STC_MODEL.md §Operand path): per k-step, the loader's fill of the
    # tile's slab and the warps' fragment reads share the SM's shared-memory bandwidth. A warp
    # tile of wm x wn reads its A rows (+ metadata) and B columns once per k-step; the tile
    # has ceil(rows_p / wm) x ceil(cols_p / wn) warp tiles (the last ones clipped).
    rows_p, cols_p = t_rt * MMA_ROWS, t_ct * MMA_COLS
    warps_m = -(-rows_p // config.warp_tile_m)
    warps_n = -(-cols_p // config.warp_tile_n)
    fill_k = t_rows * (w_step + meta_step) + t_cols * x_step
    read_k = warps_n * rows_p * (w_step + meta_step) + warps_m * cols_p * x_step
    ks_values, ks_index = np.unique(stage_ksteps, return_inverse=True)
    ks_index = ks_index.reshape(-1).astype(np.int64)
    op_cycles = np.zeros((n_waves * sms, ks_values.size), dtype=np.int64)
    op_cycles[:n_tiles] = _ceil_each((fill_k + read_k)[:, None] * ks_values[None, :],
                                     config.smem_bytes_per_clk, 1)
    op_cycles = op_cycles.reshape(n_waves, sms, ks_values.size)
    stage_buf = int(
        (t_rows.max() * (w_step + meta_step) + t_cols.max() * x_step) * int(stage_ksteps.max())
    )
    memory = {
        "smem_stage_bytes": stage_buf,
        "smem_buffer_bytes_needed": slots * stage_buf,
        "smem_buffer_bytes_available": config.smem_bytes_per_sm,
        "weight_bytes": rows * kept_per_row * vb,
        "metadata_bytes": rows * kept_per_row * ibits // 8,
    }
    if slots * stage_buf > config.smem_bytes_per_sm:
        raise CapacityError(
            f"a {slots}-stage operand buffer needs {slots * stage_buf} B per SM "
            f"({stage_buf} B per stage), smem_bytes_per_sm is {config.smem_bytes_per_sm}; "
            "allowed: smaller block_m, block_n or k_steps_per_stage, or more smem_bytes_per_sm"
        )
    if config.weights_from == "sram":
        need = memory["weight_bytes"] + memory["metadata_bytes"]
        memory["weight_sram_bytes_needed"] = need
        memory["weight_sram_bytes_available"] = config.weight_sram_bytes
        if need > config.weight_sram_bytes:
            raise CapacityError(
                f"the weights (values + metadata) need {need} B of on-chip weight store, "
                f"weight_sram_bytes is {config.weight_sram_bytes}; allowed: weights_from "
                "'dram', a larger weight_sram_bytes, int8, or a sparser pattern"
            )
    return Plan(
        rows=rows,
        k=k,
        batch=batch,
        k_padded=k_padded,
        k_kept=k_kept,
        k_cover=k_cover,
        kept_per_row=kept_per_row,
        real_slots_per_row=real_slots,
        sparse=sparse,
        index_bits=ibits,
        value_bytes=vb,
        sms=sms,
        tcs=tcs,
        mma_cycles=config.mma_cycles,
        mma_latency=config.mma_latency_cycles,
        slots=slots,
        tile_row0=t_row0,
        tile_rows=t_rows,
        tile_col0=t_col0,
        tile_cols=t_cols,
        tile_rtiles=t_rt,
        tile_ctiles=t_ct,
        stage_ksteps=stage_ksteps,
        stage_kstep0=stage_kstep0,
        wave_frags=wave_frags,
        load_cycles=load_cycles,
        dram_weight_bytes=dram_w,
        dram_metadata_bytes=dram_m,
        dram_act_bytes=act_b,
        sram_weight_bytes=sram_w,
        sram_metadata_bytes=sram_m,
        smem_write_bytes=smem_b,
        write_bytes=write_b,
        bias_bytes=bias_b,
        write_cycles=write_cycles,
        program=program,
        mma_smem_bytes=int(mma_smem),
        tile_smem_fill_bytes=fill_k.astype(np.int64),
        tile_smem_read_bytes=read_k.astype(np.int64),
        stage_ks_index=ks_index,
        wave_operand_cycles=op_cycles,
        smem_bytes_per_clk=config.smem_bytes_per_clk,
        stage_buffer_bytes=stage_buf,
        memory=memory,
    )


@dataclass(frozen=True, eq=False)
class Operands:
    """The operand images in global memory, zero-padded to the hardware's granularity.

    Rows are padded to a multiple of 16, K to the instruction's K, batch columns to a
    multiple of 8 (padding is what the MMA lanes see; it is never counted as real work).

    Attributes
    ----------
    values : numpy.ndarray, shape (rows_p, kept_per_row)
        Sparse: the kept values in stored order; dense twin: the dense weights (rows_p, k_p).
    columns : numpy.ndarray of int64, shape (rows_p, kept_per_row), or None
        Sparse: the input index each kept value multiplies (from the metadata).
    x : numpy.ndarray, shape (k_p, batch_p)
        Activations.
    bias : numpy.ndarray of float32 / int32, shape (rows,), or None
        The layer bias in the accumulator type, added at write-back.
    """

    values: np.ndarray
    columns: np.ndarray | None
    x: np.ndarray
    bias: np.ndarray | None = None


def operands(weights: NMSparse, x: np.ndarray, plan: Plan,
             bias: np.ndarray | None = None) -> Operands:
    """Lay out ``weights`` (N:M, operand dtype), ``x`` (K x Nb, operand dtype) and the
    ``bias`` (accumulator type) for ``plan``."""
    rows_p = ceil_div(plan.rows, MMA_ROWS) * MMA_ROWS
    batch_p = ceil_div(plan.batch, MMA_COLS) * MMA_COLS
    xp = np.zeros((plan.k_padded, batch_p), dtype=x.dtype)
    _copy(xp[: plan.k, : plan.batch], x)
    if plan.sparse:
        vals = np.zeros((rows_p, plan.kept_per_row), dtype=weights.values.dtype)
        n, m = weights.n, weights.m
        groups_p = plan.kept_per_row // n
        real = weights.groups * n
        vals[: plan.rows, :real] = weights.values.reshape(plan.rows, -1)
        # The input of every slot: group start + in-group position (the metadata; padding
        # groups keep zeros at positions 0..n-1).
        start = (np.arange(groups_p, dtype=np.int64) * m)[:, None]
        cols = np.empty((rows_p, groups_p, n), dtype=np.int64)
        np.add(start[: weights.groups], weights.indices, out=cols[: plan.rows, : weights.groups])
        cols[: plan.rows, weights.groups :] = start[weights.groups :] + np.arange(n)
        cols[plan.rows :] = start + np.arange(n)
        return Operands(vals, cols.reshape(rows_p, -1), xp, bias)
    dense = np.zeros((rows_p, plan.k_padded), dtype=weights.values.dtype)
    dense[: plan.rows, : plan.k] = weights.decompress()
    return Operands(dense, None, xp, bias)


def _copy(dst: np.ndarray, src: np.ndarray, tile: int = 64) -> None:
    """``dst[...] = src`` for 2-D arrays; from a source not in row-major order (the batch
    columns of :func:`~eie_sim.engines.stc.adapter.activations`) in ``tile x tile`` blocks,
    which stay in cache (a transposing copy element by element does not: 4096 x 4096 float16
    about 0.19 s, by tiles 0.1 s)."""
    if src.flags.c_contiguous:
        dst[...] = src
        return
    for r in range(0, src.shape[0], tile):
        for c in range(0, src.shape[1], tile):
            dst[r : r + tile, c : c + tile] = src[r : r + tile, c : c + tile]


def geometry(config: STCConfig) -> dict:
    """Instances and SRAM shapes of the tensor-core units, for pricing.

    Memory counters are in bytes, so SRAM units are given an 8-bit access width: the table's
    scaling rule then prices one byte (energy linear in the bits moved). ``tc`` has one instance
    per fp16 MAC lane (leakage per lane).
    """
    from eie_sim.energy import UnitGeometry as G

    out = {
        "dram": G(1),
        "smem": G(config.sms, config.smem_bytes_per_sm, 8),
        # One instance per fp16 MAC lane, so that a per-lane leakage scales with the datapath.
        "tc": G(config.sms * config.dense_fma_per_clk_per_sm),
        "rf.accumulator": G(config.tensor_cores),
        # Chip static power, per SM (only a GPU table prices it above zero).
        "sm": G(config.sms),
    }
    # The weight store exists only with weights_from 'sram' (zero instances: no leakage).
    out["weight_sram"] = G(int(config.weights_from == "sram"), config.weight_sram_bytes, 8)
    return out


def traffic_map(config: STCConfig) -> dict[str, tuple[str, str, float]]:
    """counter -> (memory level, 'read' | 'write', bytes per count)."""
    return {
        "dram.weight_read_bytes": ("dram", "read", 1),
        "dram.metadata_read_bytes": ("dram", "read", 1),
        "dram.act_read_bytes": ("dram", "read", 1),
        "dram.write_bytes": ("dram", "write", 1),
        "dram.bias_read_bytes": ("dram", "read", 1),
        "weight_sram.weight_read_bytes": ("weight_sram", "read", 1),
        "weight_sram.metadata_read_bytes": ("weight_sram", "read", 1),
        "smem.write_bytes": ("smem", "write", 1),
        "smem.read_bytes": ("smem", "read", 1),
        "rf.accumulator.read": ("accumulator_rf", "read", ACC_BYTES),
        "rf.accumulator.write": ("accumulator_rf", "write", ACC_BYTES),
    }
