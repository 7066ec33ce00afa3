"""Architecture configurations: frozen dataclasses, validated on construction.

Each field declares its unit, its allowed range and a one-line description in its metadata
(gem5-style), and :class:`ArchConfig` validates every field from that metadata, so a bad value
fails with a message naming the field, the value and what is allowed. ``from_dict`` /
``from_yaml`` reject unknown keys and list the allowed ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from eie_sim.errors import ConfigError


def param(
    default: Any,
    unit: str,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple | None = None,
) -> Any:
    """A config field with its unit, range and description."""
    return field(
        default=default, metadata={"unit": unit, "doc": doc, "lo": lo, "hi": hi, "choices": choices}
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
                if value not in choices:
                    allowed = ", ".join(repr(c) for c in choices)
                    raise ConfigError(f"{f.name} must be one of {allowed}, got {value!r}")
                continue
            kind = type(f.default)
            if kind is bool:
                if not isinstance(value, bool):
                    raise ConfigError(f"{f.name} must be true or false, got {value!r}")
                continue
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{f.name} must be an integer, got {value!r}")
            if kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{f.name} must be a number, got {value!r}")
                if value != value or value in (float("inf"), float("-inf")):
                    raise ConfigError(f"{f.name} must be finite, got {value!r}")
            lo, hi = meta.get("lo"), meta.get("hi")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
                raise ConfigError(f"{f.name} must be {rng} ({meta['unit']}), got {value!r}")
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
        unknown = sorted(str(k) for k in set(data) - set(names))
        if unknown:
            raise ConfigError(
                f"unknown {cls.arch} config key(s) {', '.join(unknown)}; "
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
                         lo=1, hi=4096)
    clock_mhz: float = param(800.0, "MHz", "clock frequency", lo=1e-3)
    act_queue_depth: int = param(8, "slots", "activation queue (FIFO) slots per PE", lo=1,
                                 hi=1 << 20)
    act_queue_model: Literal["circular", "counter"] = param(
        "circular", "-",
        "FIFO full rule: 'circular' = circular buffer holding depth-1 entries (the EIE authors' "
        "simulator); 'counter' = holds depth entries",
        choices=("circular", "counter"))
    act_regfile_entries: int = param(64, "16-bit words",
                                     "source and destination activation register file size per PE",
                                     lo=1, hi=1 << 16)
    act_sram_bytes: int = param(2048, "bytes", "activation SRAM per PE", lo=0)
    dram_bandwidth_gbps: float = param(25.6, "GB/s", "DRAM bandwidth for weight streaming",
                                       lo=1e-6)
    input_relu: bool = param(True, "-",
                             "input-side ReLU: only activations > 0 count (authors' simulator); "
                             "false keeps negative activations")
    batch_swap_cycles: int = param(0, "cycles",
                                   "stall between 4K activation batches and between output "
                                   "passes (paper silent)", lo=0)

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

    spmat_sram_bytes: int = param(128 * 1024, "bytes", "sparse-matrix SRAM per PE", lo=1)
    spmat_sram_width_bits: int = param(64, "bits", "sparse-matrix SRAM row width", lo=8,
                                       hi=4096)
    ptr_sram_bytes: int = param(32 * 1024, "bytes", "pointer SRAM per PE (even + odd banks)",
                                lo=1)
    ptr_bits: int = param(16, "bits", "width of one column pointer", lo=1, hi=64)
    relative_index_bits: int = param(4, "bits",
                                     "relative row index width z; runs > 2**z - 1 need padding",
                                     lo=1, hi=8)
    weights_from: Literal["sram", "dram"] = param(
        "sram", "-",
        "'sram': weights resident in the sparse-matrix SRAM; 'dram': the columns of broadcast "
        "activations stream from DRAM at dram_bandwidth_gbps", choices=("sram", "dram"))
    sram_capacity: Literal["enforce", "unbounded"] = param(
        "enforce", "-",
        "'enforce' refuses a layer whose weights exceed the sparse-matrix SRAM; 'unbounded' "
        "lets per-PE memories grow (the paper's PE-scaling study)",
        choices=("enforce", "unbounded"))

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
                                   "weight SRAM per PE (EIE's sparse-matrix + pointer SRAM)", lo=1)
    weight_sram_width_bits: int = param(64, "bits", "weight SRAM row width (4 weights)", lo=16,
                                        hi=4096)
    weights_from: Literal["auto", "sram", "dram"] = param(
        "auto", "-", "'auto': DRAM when the weights do not fit the weight SRAM; 'sram' refuses "
        "them; 'dram' always streams", choices=("auto", "sram", "dram"))

    def _check(self) -> None:
        super()._check()
        if self.weight_sram_width_bits % 16:
            raise ConfigError("weight_sram_width_bits must be a multiple of 16 (16-bit weights)")

    @property
    def weights_per_sram_row(self) -> int:
        return self.weight_sram_width_bits // 16


ARCHS: dict[str, type[ArchConfig]] = {"eie": EIEConfig, "dense": DenseConfig}


def _register_tensor_core() -> None:
    # The tensor-core configs subclass ArchConfig, so they are imported after it is defined.
    from eie_sim.engines.stc.config import DenseTCConfig, STCConfig

    ARCHS.update({"stc": STCConfig, "dense-tc": DenseTCConfig})


_register_tensor_core()


def load_config(path: str | Path, arch: str | None = None) -> ArchConfig:
    """Read an architecture config from YAML (``arch:`` key picks the class, default eie)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read config {p}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {p} is not a UTF-8 text file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"config {p} is not valid YAML{at}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {p} must be a YAML mapping of field: value")
    name = data.get("arch", arch or "eie")
    if not isinstance(name, str) or name not in ARCHS:
        raise ConfigError(f"unknown arch {name!r} in {p}; allowed: {', '.join(ARCHS)}")
    return ARCHS[name].from_dict(data)
