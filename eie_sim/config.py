"""Architecture configurations of every accelerator: frozen dataclasses, validated on construction.

This module imports no engine: configs are data. EIE (:class:`EIEConfig`), its dense baseline
(:class:`DenseConfig`), the N:M tensor core (:class:`STCConfig`, presets in
:data:`TENSOR_CORE_PRESETS`) and its dense twin (:class:`DenseTCConfig`).

Each field declares its unit, its allowed range and a one-line description in its metadata
(gem5-style), and :class:`ArchConfig` validates every field from that metadata, so a bad value
fails with a message naming the field, the value and what is allowed. ``from_dict`` /
``from_yaml`` reject unknown keys and list the allowed ones.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from eie_sim.errors import ConfigError
from eie_sim.limits import excerpt

if TYPE_CHECKING:
    from fractions import Fraction

#: Longest string a config field takes (a product name, an energy table path).
MAX_STRING = 1024
#: Characters of an unknown key an error message shows.
MAX_KEY_SHOWN = 40

#: Energy tables shipped with the package (``eie_sim/energy/tables/<name>.yaml``).
BUNDLED_ENERGY_TABLES = ("45nm", "7nm", "gpu-7nm")


def _check_energy_table(value: str) -> None:
    if value not in BUNDLED_ENERGY_TABLES and not value.endswith((".yaml", ".yml")):
        raise ConfigError(f"energy_table must be one of {', '.join(BUNDLED_ENERGY_TABLES)} or a "
                          f"path to a .yaml file, got {excerpt(value)}")


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def param(
    default: Any,
    unit: str,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple | None = None,
    flag: str | None = None,
) -> Any:
    """A config field with its unit, range and description. ``flag`` is its command-line name
    (without ``--``) when it must not follow the field's name: a short name (``pes`` for
    ``num_pes``) or a name users rely on, pinned so a field rename cannot change it; without it
    the flag is the field's name with dashes (``block_m`` -> ``--block-m``).

    A number (int or float) must have both bounds, finite: every field is bounded so that no
    quantity derived from a config overflows int64 (docs/BAD_INPUT.md, "Bounds")."""
    if isinstance(default, (int, float)) and not isinstance(default, bool) and choices is None:
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
            raise TypeError(f"a numeric param needs finite lo and hi, got lo={lo}, hi={hi}")
    return field(
        default=default,
        metadata={"unit": unit, "doc": doc, "lo": lo, "hi": hi, "choices": choices, "flag": flag},
    )


@dataclass(frozen=True)
class ArchConfig:
    """Base class: validates every field from its metadata after construction."""

    arch: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            choices = meta.get("choices")
            if choices is not None:
                if not _hashable(value) or value not in choices:
                    allowed = ", ".join(repr(c) for c in choices)
                    raise ConfigError(f"{f.name} must be one of {allowed}, got {excerpt(value)}")
                continue
            kind = type(f.default)
            if kind is str:
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError(f"{f.name} must be a non-empty string, got "
                                      f"{excerpt(value)}")
                if len(value) > MAX_STRING:
                    raise ConfigError(f"{f.name} is {len(value)} characters long; allowed: at "
                                      f"most {MAX_STRING}")
                if f.name == "energy_table":
                    _check_energy_table(value)
                continue
            if kind is bool:
                if not isinstance(value, bool):
                    raise ConfigError(f"{f.name} must be true or false, got {excerpt(value)}")
                continue
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{f.name} must be an integer, got {excerpt(value)}")
            if kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{f.name} must be a number, got {excerpt(value)}")
                if value != value or value in (float("inf"), float("-inf")):
                    raise ConfigError(f"{f.name} must be finite, got {value!r}")
            lo, hi = meta.get("lo"), meta.get("hi")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
                raise ConfigError(f"{f.name} must be {rng} ({meta['unit']}), got "
                                  f"{excerpt(value)}")
        self._check()

    def _check(self) -> None:
        """Cross-field checks of a subclass."""

    def replace(self, **changes: Any) -> ArchConfig:
        """Copy with fields changed (validated again); unknown names are an error."""
        return type(self).from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"a {cls.arch} config must be a mapping of field: value")
        data = dict(data)
        arch = data.pop("arch", cls.arch)
        if arch != cls.arch:
            raise ConfigError(f"config is for arch {arch!r}, expected {cls.arch!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(str(k)[:MAX_KEY_SHOWN] for k in data if k not in names)
        if unknown:
            more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
            raise ConfigError(
                f"unknown {cls.arch} config key(s) {', '.join(unknown[:5])}{more}; "
                f"allowed: {', '.join(names)}"
            )
        return cls(**data)

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str, str]]:
        """(name, default, unit, description) of every field, for docs and ``--help``."""
        return [
            (f.name, f.default, f.metadata["unit"], f.metadata["doc"])
            for f in dataclasses.fields(cls)
        ]


@dataclass(frozen=True)
class PEArrayConfig(ArchConfig):
    """What EIE and its dense baseline share: N PEs fed by a broadcast through activation
    queues, with activation register files and SRAM, at one clock."""

    num_pes: int = param(64, "PEs", "processing elements; PE k owns rows i with i mod N == k",
                         lo=1, hi=4096, flag="pes")
    clock_mhz: float = param(800.0, "MHz", "clock frequency", lo=1e-3, hi=1e5,
                             flag="clock-mhz")
    technology_nm: float = param(45.0, "nm", "process node the machine is built in (labels; "
                                 "its default energy table prices it)", lo=1.0, hi=1000.0)
    energy_table: str = param("45nm", "-", "default energy table: a bundled one (45nm, 7nm, "
                              "gpu-7nm) or a YAML file; simulate(energy=...) overrides it")
    act_queue_depth: int = param(8, "slots", "activation queue (FIFO) slots per PE", lo=1,
                                 hi=1 << 20, flag="queue-depth")
    act_queue_model: Literal["circular", "counter"] = param(
        "circular", "-",
        "FIFO full rule: 'circular' = circular buffer holding depth-1 entries (the EIE authors' "
        "simulator); 'counter' = holds depth entries",
        choices=("circular", "counter"), flag="queue-model")
    act_regfile_entries: int = param(64, "16-bit words",
                                     "source and destination activation register file size per PE",
                                     lo=1, hi=1 << 16)
    act_sram_bytes: int = param(2048, "bytes", "activation SRAM per PE", lo=0,
                                 hi=1 << 30)
    dram_bandwidth_gbps: float = param(25.6, "GB/s", "DRAM bandwidth for weight streaming",
                                       lo=1e-6, hi=1e6, flag="dram-gbps")
    input_relu: bool = param(True, "-",
                             "input-side ReLU: only activations > 0 count (authors' simulator); "
                             "false keeps negative activations")
    batch_swap_cycles: int = param(0, "cycles",
                                   "stall between 4K activation batches and between output "
                                   "passes (paper silent)", lo=0, hi=1 << 20)

    def _check(self) -> None:
        if self.act_queue_model == "circular" and self.act_queue_depth < 2:
            raise ConfigError(
                f"act_queue_depth {self.act_queue_depth} holds no entry with the circular FIFO "
                "(it holds depth-1); allowed: depth >= 2, or act_queue_model 'counter' "
                "for depth >= 1"
            )

    @property
    def dram_bytes_per_cycle(self) -> float:
        """DRAM bandwidth in bytes per clock cycle."""
        return self.dram_bandwidth_gbps * 1e3 / self.clock_mhz

    @property
    def queue_capacity(self) -> int:
        """Entries an activation queue holds before it stalls the broadcast."""
        return (self.act_queue_depth - 1 if self.act_queue_model == "circular"
                else self.act_queue_depth)


@dataclass(frozen=True)
class EIEConfig(PEArrayConfig):
    """EIE (Han et al., ISCA 2016). Defaults are the paper's 64-PE, 800 MHz, 45 nm design."""

    arch: ClassVar[str] = "eie"

    spmat_sram_bytes: int = param(128 * 1024, "bytes", "sparse-matrix SRAM per PE", lo=1,
                                  hi=1 << 40)
    spmat_sram_width_bits: int = param(64, "bits", "sparse-matrix SRAM row width", lo=8,
                                       hi=4096)
    ptr_sram_bytes: int = param(32 * 1024, "bytes", "pointer SRAM per PE (even + odd banks)",
                                lo=1, hi=1 << 40)
    ptr_bits: int = param(16, "bits", "width of one column pointer", lo=1, hi=64)
    relative_index_bits: int = param(4, "bits",
                                     "relative row index width z; runs > 2**z - 1 need padding",
                                     lo=1, hi=8)
    weights_from: Literal["sram", "dram"] = param(
        "sram", "-",
        "'sram': weights resident in the sparse-matrix SRAM; 'dram': the columns of broadcast "
        "activations stream from DRAM at dram_bandwidth_gbps", choices=("sram", "dram"),
        flag="weights-from")
    sram_capacity: Literal["enforce", "unbounded"] = param(
        "enforce", "-",
        "'enforce' refuses a layer whose weights exceed the sparse-matrix SRAM; 'unbounded' "
        "lets per-PE memories grow (the paper's PE-scaling study)",
        choices=("enforce", "unbounded"), flag="sram-capacity")

    def _check(self) -> None:
        super()._check()
        if self.spmat_sram_width_bits % self.entry_bits:
            raise ConfigError(
                f"spmat_sram_width_bits ({self.spmat_sram_width_bits}) must be a multiple of the "
                f"{self.entry_bits}-bit entry (4-bit index + {self.relative_index_bits}-bit z)"
            )

    @property
    def entry_bits(self) -> int:
        """Bits per sparse-matrix entry: 4-bit codebook index + relative row index."""
        return 4 + self.relative_index_bits

    @property
    def entries_per_sram_row(self) -> int:
        """Entries delivered by one sparse-matrix SRAM row read (8 in the paper)."""
        return self.spmat_sram_width_bits // self.entry_bits


@dataclass(frozen=True)
class DenseConfig(PEArrayConfig):
    """The dense baseline: EIE's PEs, queues and clock without sparsity or weight sharing.

    Every activation is broadcast (no leading non-zero detection) and every 16-bit weight is
    read and multiplied. Defaults match the 64-PE EIE: same PEs, clock, queues, register files
    and the same per-PE SRAM budget (128 KB + 32 KB) as the weight SRAM.
    """

    arch: ClassVar[str] = "dense"

    weight_sram_bytes: int = param(160 * 1024, "bytes",
                                   "weight SRAM per PE (EIE's sparse-matrix + pointer SRAM)", lo=1,
                                   hi=1 << 40)
    weight_sram_width_bits: int = param(64, "bits", "weight SRAM row width (4 weights)", lo=16,
                                        hi=4096)
    weights_from: Literal["auto", "sram", "dram"] = param(
        "auto", "-", "'auto': DRAM when the weights do not fit the weight SRAM; 'sram' refuses "
        "them; 'dram' always streams", choices=("auto", "sram", "dram"), flag="weights-from")

    def _check(self) -> None:
        super()._check()
        if self.weight_sram_width_bits % 16:
            raise ConfigError("weight_sram_width_bits must be a multiple of 16 (16-bit weights)")

    @property
    def weights_per_sram_row(self) -> int:
        return self.weight_sram_width_bits // 16


#: Multiply-accumulates of one dense fp16 ``mma.m16n8k16`` (16 x 8 x 16); an int8
#: ``m16n8k32`` (4096 MACs) and every sparse ``mma.sp`` take the same time.
DENSE_FP16_MMA_MACS = 16 * 8 * 16

_PATTERN = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")
_KIB = 1024

#: Tensor-core presets: name -> field values. Sources: NVIDIA A100 / H100 whitepapers (SMs,
#: FMA/clk/SM, clock, bandwidth, shared memory per SM) and datasheets; the iso-eie machine
#: (the EIE paper's 64 MACs, 800 MHz, 64 x 162 KB SRAM, 64-bit SRAM rows per PE per
#: cycle). Operand path: shared memory 32 banks x 4 B per clock per SM (CUDA C++ Programming
#: Guide, compute capability 8.x / 9.0), warp tiles of CUTLASS's Sm80 (sparse) tensor-op GEMMs
#: (64 x 64) and of a Hopper wgmma warpgroup (64 x 128, estimate), CUTLASS's default
#: threadblock swizzle (Identity8). See docs/STC_MODEL.md.
TENSOR_CORE_PRESETS: dict[str, dict[str, Any]] = {
    "a100": {
        "product": "A100",
        "technology_nm": 7.0,
        "energy_table": "gpu-7nm",
        "sms": 108,
        "tensor_cores_per_sm": 4,
        "dense_fma_per_clk_per_sm": 1024,
        "clock_mhz": 1410.0,
        "mem_bandwidth_gbps": 1555.0,
        "smem_bytes_per_sm": 164 * _KIB,
        "weights_from": "dram",
        "weight_sram_bytes": 40 * _KIB * _KIB,
        "weight_sram_bytes_per_clk": 5120,
        "smem_bytes_per_clk": 128,
        "warp_tile_m": 64,
        "warp_tile_n": 64,
        "raster_swizzle": 8,
    },
    "h100": {
        "product": "H100",
        "technology_nm": 4.0,
        "energy_table": "gpu-7nm",
        "sms": 132,
        "tensor_cores_per_sm": 4,
        "dense_fma_per_clk_per_sm": 2048,
        "clock_mhz": 1830.0,
        "mem_bandwidth_gbps": 3350.0,
        "smem_bytes_per_sm": 228 * _KIB,
        "weights_from": "dram",
        "weight_sram_bytes": 50 * _KIB * _KIB,
        "weight_sram_bytes_per_clk": 5120,
        "smem_bytes_per_clk": 128,
        "warp_tile_m": 64,
        "warp_tile_n": 128,
        "raster_swizzle": 8,
    },
    "iso-eie": {
        "product": "iso-EIE tensor core",
        "technology_nm": 45.0,
        "energy_table": "45nm",
        "sms": 1,
        "tensor_cores_per_sm": 4,
        "dense_fma_per_clk_per_sm": 64,
        "clock_mhz": 800.0,
        "mem_bandwidth_gbps": 25.6,
        "smem_bytes_per_sm": 128 * _KIB,
        "weights_from": "sram",
        "weight_sram_bytes": 64 * 162 * _KIB - 128 * _KIB,
        "weight_sram_bytes_per_clk": 512,
        "smem_bytes_per_clk": 128,
        "warp_tile_m": 64,
        "warp_tile_n": 64,
        "raster_swizzle": 8,
    },
}


def parse_pattern(pattern: str) -> tuple[int, int]:
    """``"N:M"`` -> ``(N, M)`` (no range check)."""
    match = _PATTERN.match(pattern) if isinstance(pattern, str) else None
    if match is None:
        raise ConfigError(f"pattern must be a string 'N:M' such as '2:4', got {excerpt(pattern)}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class STCConfig(ArchConfig):
    """An NVIDIA-style N:M sparse tensor-core GPU (defaults: A100, fp16, 2:4, batch 1).

    The GEMM ``Y (M x Nb) = W (M x K) . X (K x Nb)`` (M = layer outputs, K = inputs, Nb = batch)
    is tiled into ``block_m x block_n`` output tiles, one per SM per wave; each tile streams K in
    operand-buffer stages of ``k_steps_per_stage`` MMA k-steps (docs/STC_MODEL.md).
    """

    arch: ClassVar[str] = "stc"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = TENSOR_CORE_PRESETS

    product: str = param("A100", "-", "product name used in machine labels (a preset sets it)")
    technology_nm: float = param(7.0, "nm", "process node the machine is built in (labels; "
                                 "its default energy table prices it)", lo=1.0, hi=1000.0)
    energy_table: str = param("gpu-7nm", "-", "default energy table: a bundled one (45nm, 7nm, "
                              "gpu-7nm) or a YAML file; simulate(energy=...) overrides it")
    sms: int = param(108, "SMs", "streaming multiprocessors (one output tile each per wave)",
                     lo=1, hi=1 << 16)
    tensor_cores_per_sm: int = param(4, "tensor cores", "tensor cores per SM", lo=1, hi=64)
    dense_fma_per_clk_per_sm: int = param(
        1024,
        "fp16 FMA/cycle",
        "dense fp16 multiply-accumulates per clock per SM (int8: twice as many MACs; sparse: "
        "the same real MACs covering M/N times the K)",
        lo=1,
        hi=1 << 24,
    )
    clock_mhz: float = param(1410.0, "MHz", "clock frequency", lo=1e-3, hi=1e5,
                             flag="clock-mhz")
    mem_bandwidth_gbps: float = param(
        1555.0, "GB/s", "global memory (DRAM / HBM) bandwidth shared by all SMs", lo=1e-6, hi=1e6,
        flag="dram-gbps",
    )
    pattern: str = param(
        "2:4", "N:M", "weight sparsity pattern: at most N non-zeros in every M consecutive inputs",
        flag="pattern",
    )
    sparse: bool = param(
        True, "-", "true: sparse mma.sp on the compressed weights; false: the dense twin"
    )
    dtype: Literal["fp16", "int8"] = param(
        "fp16",
        "-",
        "operand type: 'fp16' (float32 accumulation) or 'int8' (int32 accumulation)",
        choices=("fp16", "int8"),
        flag="dtype",
    )
    batch: int = param(
        1, "columns", "batch Nb: columns of the activation operand (1 = GEMV)", lo=1, hi=1 << 20,
        flag="batch",
    )
    block_m: int = param(128, "rows", "output rows per SM tile, multiple of 16", lo=16, hi=1 << 20)
    block_n: int = param(
        128,
        "columns",
        "batch columns per SM tile, multiple of 8 (clipped to the batch rounded up to 8)",
        lo=8,
        hi=1 << 20,
    )
    k_steps_per_stage: int = param(
        2, "MMA k-steps", "MMA k-steps of K per operand-buffer stage (one load)", lo=1, hi=1 << 16
    )
    buffer_stages: int = param(
        2, "stages", "operand-buffer stages per SM (2 = double buffering)", lo=1, hi=64
    )
    smem_bytes_per_sm: int = param(
        164 * _KIB, "bytes", "on-chip operand buffer (shared memory) per SM", lo=1, hi=1 << 40
    )
    mma_latency_cycles: int = param(
        32,
        "cycles",
        "cycles after a tile's last MMA issue slot before its accumulators can be written back "
        "(pipeline drain; estimate)",
        lo=0,
        hi=1 << 20,
    )
    weights_from: Literal["dram", "sram"] = param(
        "dram",
        "-",
        "'dram': compressed weights stream from global memory; 'sram': they are resident in "
        "the on-chip weight store (capacity enforced), activations and outputs use DRAM",
        choices=("dram", "sram"),
        flag="weights-from",
    )
    weight_sram_bytes: int = param(
        40 * _KIB * _KIB, "bytes", "on-chip weight store used by weights_from 'sram'", lo=0,
        hi=1 << 50,
    )
    weight_sram_bytes_per_clk: int = param(
        5120, "bytes/cycle", "read bandwidth of the on-chip weight store", lo=1, hi=1 << 40
    )
    smem_bytes_per_clk: int = param(
        128,
        "bytes/cycle",
        "shared-memory bandwidth per SM (32 banks x 4 B on A100 / H100), shared by the stage "
        "fills and the warps' operand-fragment reads; gates each stage's MMAs",
        lo=1,
        hi=1 << 40,
        flag="smem-bpc",
    )
    warp_tile_m: int = param(
        64, "rows", "output rows of one warp tile (multiple of 16): each A fragment a warp reads "
        "from shared memory serves warp_tile_n / 8 MMAs", lo=16, hi=1 << 20,
    )
    warp_tile_n: int = param(
        64, "columns", "batch columns of one warp tile (multiple of 8): each B fragment a warp "
        "reads from shared memory serves warp_tile_m / 16 MMAs", lo=8, hi=1 << 20,
    )
    raster_swizzle: int = param(
        8, "column blocks", "tile rasterization: consecutive tiles (SMs of a wave) step "
        "through this many column blocks per row block (CUTLASS "
        "GemmIdentityThreadblockSwizzle<N>; 1 = column blocks outer, row blocks inner)",
        lo=1, hi=1 << 20,
    )

    _sparse_arch: ClassVar[bool] = True

    def _check(self) -> None:
        n, m = parse_pattern(self.pattern)
        if not (1 <= n < m <= 16 and m & (m - 1) == 0 and 16 % n == 0):
            raise ConfigError(
                f"pattern must be 'N:M' with 1 <= N < M, M in 2, 4, 8, 16 and N dividing 16 "
                f"(e.g. 2:4, 1:4, 2:8, 4:8), got {excerpt(self.pattern)}"
            )
        if self.sparse != self._sparse_arch:
            other = "DenseTCConfig (arch 'dense-tc')" if self._sparse_arch else "STCConfig"
            raise ConfigError(
                f"sparse={self.sparse} does not match arch {self.arch!r}; allowed: use {other}, "
                "or dense_twin() / sparse_twin()"
            )
        if self.dense_fma_per_clk_per_sm % self.tensor_cores_per_sm:
            raise ConfigError(
                f"dense_fma_per_clk_per_sm ({self.dense_fma_per_clk_per_sm}) must be a multiple "
                f"of tensor_cores_per_sm ({self.tensor_cores_per_sm})"
            )
        if self.block_m % 16:
            raise ConfigError(f"block_m must be a multiple of 16 rows, got {self.block_m}")
        if self.block_n % 8:
            raise ConfigError(f"block_n must be a multiple of 8 columns, got {self.block_n}")
        if self.warp_tile_m % 16:
            raise ConfigError(f"warp_tile_m must be a multiple of 16 rows, got {self.warp_tile_m}")
        if self.warp_tile_n % 8:
            raise ConfigError(
                f"warp_tile_n must be a multiple of 8 columns, got {self.warp_tile_n}")

    # ------------------------------------------------------------------ derived
    @property
    def n(self) -> int:
        """N of the N:M pattern (kept values per group)."""
        return parse_pattern(self.pattern)[0]

    @property
    def m(self) -> int:
        """M of the N:M pattern (inputs per group)."""
        return parse_pattern(self.pattern)[1]

    @property
    def tensor_cores(self) -> int:
        """Tensor cores on the chip."""
        return self.sms * self.tensor_cores_per_sm

    @property
    def fma_per_clk_per_tc(self) -> int:
        """Dense fp16 FMA per clock of one tensor core."""
        return self.dense_fma_per_clk_per_sm // self.tensor_cores_per_sm

    @property
    def mma_cycles(self) -> int:
        """Issue interval of one MMA instruction on a tensor core, cycles (every shape:
        fp16 m16n8k16, sparse fp16 m16n8k32, int8 m16n8k32, sparse int8 m16n8k64)."""
        return -(-DENSE_FP16_MMA_MACS // self.fma_per_clk_per_tc)

    @property
    def value_bytes(self) -> int:
        """Bytes per operand value (2 for fp16, 1 for int8)."""
        return 2 if self.dtype == "fp16" else 1

    @property
    def mma_k_kept(self) -> int:
        """Stored (kept) K values per row of one instruction: 16 for fp16, 32 for int8."""
        return 16 if self.dtype == "fp16" else 32

    @property
    def mma_k(self) -> int:
        """K the instruction covers: dense 16 (fp16) / 32 (int8); sparse M/N times that
        (2:4: m16n8k32 for fp16, m16n8k64 for int8)."""
        return self.mma_k_kept * self.m // self.n if self.sparse else self.mma_k_kept

    @property
    def mma_shape(self) -> tuple[int, int, int]:
        """PTX shape ``(m, n, k)`` of the instruction, e.g. ``(16, 8, 32)`` for fp16 2:4."""
        return (16, 8, self.mma_k)

    @property
    def dram_bytes_per_cycle(self) -> Fraction:
        """Global-memory bandwidth, bytes per cycle, as an exact fraction."""
        from fractions import Fraction  # only the tensor cores and ESE count in fractions

        return Fraction(self.mem_bandwidth_gbps) * 1000 / Fraction(self.clock_mhz)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> STCConfig:
        """A named machine (``'a100'``, ``'h100'``, ``'iso-eie'``), fields overridable."""
        if name not in TENSOR_CORE_PRESETS:
            raise ConfigError(
                f"unknown tensor-core preset {name!r}; allowed: {', '.join(TENSOR_CORE_PRESETS)}"
            )
        return cls.from_dict({**TENSOR_CORE_PRESETS[name], **overrides})

    def _values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def dense_twin(self) -> DenseTCConfig:
        """The same machine without sparsity support (arch ``dense-tc``)."""
        return DenseTCConfig(**{**self._values(), "sparse": False})

    def sparse_twin(self) -> STCConfig:
        """The same machine with N:M sparsity support (arch ``stc``)."""
        return STCConfig(**{**self._values(), "sparse": True})


@dataclass(frozen=True)
class DenseTCConfig(STCConfig):
    """The dense twin: the same tensor-core GPU running dense ``mma`` on uncompressed weights.

    ``pattern`` still names the N:M pruning applied to the weights, so that the twin runs the
    very same (pruned) matrix as the sparse machine.
    """

    arch: ClassVar[str] = "dense-tc"
    _sparse_arch: ClassVar[bool] = False

    sparse: bool = param(
        False, "-", "true: sparse mma.sp on the compressed weights; false: the dense twin"
    )


#: ESE presets: name -> field values. ``ese-ku060``: the ESE paper's configuration (Han et al.,
#: FPGA 2017: 32 channels x 32 PEs on a Xilinx XCKU060 at 200 MHz); the DDR bandwidth, buffer
#: sizes, queue depth and element-wise unit are this project's assumptions (docs/ESE_MODEL.md).
ESE_PRESETS: dict[str, dict[str, Any]] = {
    "ese-ku060": {"channels": 32, "num_pes": 32, "clock_mhz": 200.0, "dram_bandwidth_gbps": 12.8},
}


@dataclass(frozen=True)
class ESEConfig(ArchConfig):
    """ESE (Han et al., FPGA 2017): channels of EIE-style sparse PEs running a whole LSTM, with
    a shared element-wise unit per channel and weights streamed from DRAM into double buffers.
    Defaults are the ``ese-ku060`` preset (docs/ESE_MODEL.md)."""

    arch: ClassVar[str] = "ese"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = ESE_PRESETS

    channels: int = param(32, "channels", "channels, each running one utterance on its own PEs "
                          "and element-wise unit; all share one weight stream", lo=1, hi=1024)
    num_pes: int = param(32, "PEs", "PEs per channel; PE k owns rows i with i mod N == k",
                         lo=1, hi=4096, flag="pes")
    clock_mhz: float = param(200.0, "MHz", "clock frequency", lo=1e-3, hi=1e5,
                             flag="clock-mhz")
    technology_nm: float = param(45.0, "nm", "process node the energy table prices (the FPGA "
                                 "is 20 nm; energy is priced as an ASIC, like EIE)", lo=1.0,
                                 hi=1000.0)
    energy_table: str = param("45nm", "-", "default energy table: a bundled one (45nm, 7nm, "
                              "gpu-7nm) or a YAML file; simulate(energy=...) overrides it")
    act_queue_depth: int = param(8, "slots", "activation queue (FIFO) slots per PE; a circular "
                                 "buffer holding depth - 1 entries (as EIE)", lo=2, hi=1 << 20,
                                 flag="queue-depth")
    relative_index_bits: int = param(4, "bits", "relative row index width z of a sparse-matrix "
                                     "entry (12-bit weight + z); runs > 2**z - 1 need padding",
                                     lo=1, hi=8)
    ptr_bits: int = param(16, "bits", "width of one column pointer", lo=1, hi=64)
    spmat_buffer_bytes: int = param(8192, "bytes", "sparse-matrix buffer per PE, each of its "
                                    "two halves (double buffering)", lo=2, hi=1 << 30)
    ptr_buffer_bytes: int = param(4096, "bytes", "pointer buffer per PE, each of its two "
                                  "halves", lo=1, hi=1 << 30)
    accumulators_per_pe: int = param(64, "words", "accumulators per PE in each of two banks "
                                     "(the element-wise unit reads one while the next SpMV "
                                     "writes the other)", lo=1, hi=1 << 20)
    act_buffer_bytes: int = param(16384, "bytes", "activation buffer per channel (x_t, y, c, "
                                  "gates, m)", lo=1, hi=1 << 30)
    ewu_lanes: int = param(32, "elements/cycle", "element-wise unit lanes per channel (adder "
                           "tree, LUT, multipliers)", lo=1, hi=1 << 16)
    ewu_latency_cycles: int = param(6, "cycles", "element-wise unit pipeline depth (adder "
                                    "tree 2, peephole multiply 1, LUT 1, products 2)", lo=0,
                                    hi=1 << 16)
    dram_bandwidth_gbps: float = param(12.8, "GB/s", "DRAM bandwidth of the weight stream "
                                       "(one DDR3-1600 64-bit channel)", lo=1e-6, hi=1e6,
                                       flag="dram-gbps")

    @property
    def queue_capacity(self) -> int:
        """Entries an activation queue holds before it stalls the broadcast (depth - 1)."""
        return self.act_queue_depth - 1

    @property
    def entry_bits(self) -> int:
        """Bits of one sparse-matrix entry: 12-bit weight + relative row index."""
        return 12 + self.relative_index_bits

    @property
    def dram_bytes_per_cycle(self) -> Fraction:
        """DRAM bandwidth in bytes per clock cycle, exact."""
        from fractions import Fraction

        return Fraction(str(self.dram_bandwidth_gbps)) * 1000 / Fraction(str(self.clock_mhz))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ESEConfig:
        """A named machine (``'ese-ku060'``), fields overridable."""
        if name not in ESE_PRESETS:
            raise ConfigError(f"unknown ESE preset {name!r}; allowed: {', '.join(ESE_PRESETS)}")
        return cls.from_dict({**ESE_PRESETS[name], **overrides})
