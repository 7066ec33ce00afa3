"""Resource limits: what a hostile or mistaken input may cost, checked before it is spent.

* **Input files** (architecture configs, energy tables) are regular files read with a size cap
  (:data:`MAX_TEXT_FILE_BYTES`): a device, FIFO, socket or directory is refused before it is
  read, so ``--config /dev/zero`` or a named pipe cannot make a command read or wait forever.
* **Error messages** quote at most a bounded excerpt of a bad value (:func:`excerpt`).
* **Memory**: every large allocation (building a synthetic layer, encoding a layer for a
  machine, the dense operands of a tensor core) is estimated first and refused with a one-line
  :class:`~eie_sim.errors.ResourceError` naming the estimate and the limit when it exceeds the
  budget (:func:`max_memory`: ``--max-memory``, else the environment variable
  ``EIE_SIM_MAX_MEMORY``, else :data:`DEFAULT_MEMORY_FRACTION` of physical memory).
* **Integers**: cycle counts and counters are int64 in the engines; the config bounds
  (:mod:`eie_sim.config`) and :data:`MAX_LAYER_ELEMENTS` keep every derived count below
  :data:`MAX_CYCLES`, and :func:`check_count` refuses one that is not a finite integer in range
  before it is cast.

The estimates are upper bounds calibrated on the engines' peak allocations (tracemalloc,
numpy 1.26) with a margin; they are bytes, not a promise about the operating system's view.
"""

from __future__ import annotations

import math
import os
import reprlib
import stat
from pathlib import Path
from typing import Any

from eie_sim.errors import ConfigError, EieSimError, ResourceError, WorkloadError

#: Largest int64.
INT64_MAX = (1 << 63) - 1
#: Bound on any cycle count or counter: a quarter of int64, so a sum of a few never wraps.
MAX_CYCLES = 1 << 61
#: Input text files (configs, energy tables) larger than this are refused unread.
MAX_TEXT_FILE_BYTES = 1 << 20
#: Characters of a bad value an error message quotes.
MAX_EXCERPT = 60
#: Weights (inputs x outputs) of one synthetic layer (the workloads' own guard).
MAX_LAYER_ELEMENTS = 1 << 40
#: A non-zero weight density below this is refused: the generator's geometric gaps would
#: overflow int64, and no layer of at most 2**40 weights keeps a weight at it.
MIN_WEIGHT_DENSITY = 1e-12
#: Fraction of physical memory a run may use when no limit is given.
DEFAULT_MEMORY_FRACTION = 0.5
#: Used when the physical memory cannot be read.
FALLBACK_MAX_MEMORY = 4 << 30
ENV_MAX_MEMORY = "EIE_SIM_MAX_MEMORY"

_explicit_max_memory: int | None = None


# ----------------------------------------------------------------------------- excerpts
def _repr_limits() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel = 3
    r.maxlist = r.maxtuple = r.maxset = r.maxdict = 6
    r.maxstring = MAX_EXCERPT
    r.maxother = MAX_EXCERPT
    r.maxlong = 24
    return r


_REPR = _repr_limits()


def excerpt(value: Any, limit: int = MAX_EXCERPT) -> str:
    """``repr(value)`` of bounded length (long strings, numbers and containers cut with ``...``),
    computed without ever building the full repr of a large or deeply nested value."""
    text = _REPR.repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


# ----------------------------------------------------------------------------- input files
def describe_mode(mode: int) -> str:
    """What a file of ``st_mode`` is, for messages ("a FIFO (named pipe)", ...)."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def read_text_file(path: str | Path, what: str, *, limit: int = MAX_TEXT_FILE_BYTES,
                   error: type[EieSimError] = ConfigError) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes.

    The file is opened non-blocking (a FIFO without a writer does not block) and checked with
    ``fstat`` on the open descriptor (no race with a rename) before a byte is read; at most
    ``limit + 1`` bytes are ever read. Errors name ``what`` ("config", "energy table").
    """
    p = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags)
    except OSError as err:
        raise error(f"cannot read {what} {p}: {err.strerror or err}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {p} is {describe_mode(st.st_mode)}; allowed: a regular file")
        if st.st_size > limit:
            raise error(f"{what} {p} is {st.st_size} bytes; allowed: at most {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise error(f"{what} {p} is larger than {limit} bytes; allowed: at most {limit} "
                        "bytes")
    except OSError as err:
        raise error(f"cannot read {what} {p}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {p} is not a UTF-8 text file") from None


# ----------------------------------------------------------------------------- memory budget
def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the OS does not say."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def default_max_memory() -> int:
    """:data:`DEFAULT_MEMORY_FRACTION` of physical memory (4 GiB where it is unknown)."""
    phys = physical_memory()
    return int(phys * DEFAULT_MEMORY_FRACTION) if phys else FALLBACK_MAX_MEMORY


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 10**6,
          "mib": 1 << 20, "g": 1 << 30, "gb": 10**9, "gib": 1 << 30, "t": 1 << 40,
          "tb": 10**12, "tib": 1 << 40}
#: ``--max-memory`` accepts this range (1 MiB to 1 PiB).
MIN_MAX_MEMORY, MAX_MAX_MEMORY = 1 << 20, 1 << 50


def parse_size(text: str) -> int:
    """``"8G"``, ``"512MiB"``, ``"1.5GB"``, ``"1000000"`` -> bytes, or ``"25%"`` of physical
    memory; ValueError with the allowed forms otherwise (and outside 1 MiB to 1 PiB)."""
    s = str(text).strip().lower().replace(" ", "")
    allowed = ("allowed: bytes with an optional unit K, M, G, T (KiB..TiB) or KB..TB, or a "
               "percentage of physical memory, between 1M and 1024T")
    try:
        if s.endswith("%"):
            pct = float(s[:-1])
            if not (0 < pct <= 100):
                raise ValueError
            value = pct / 100 * (physical_memory() or FALLBACK_MAX_MEMORY)
        else:
            num = s.rstrip("kmgtib")
            unit = s[len(num):]
            value = float(num) * _UNITS[unit]
    except (ValueError, KeyError, OverflowError):
        raise ValueError(f"expected a memory size, got {excerpt(text)}; {allowed}") from None
    if not math.isfinite(value) or not MIN_MAX_MEMORY <= value <= MAX_MAX_MEMORY:
        raise ValueError(f"expected a memory size, got {excerpt(text)}; {allowed}")
    return int(value)


def set_max_memory(limit: int | str | None) -> None:
    """Set the memory budget (bytes or a size string); None restores the default."""
    global _explicit_max_memory
    _explicit_max_memory = parse_size(limit) if isinstance(limit, str) else limit


def max_memory() -> int:
    """The memory budget in bytes: :func:`set_max_memory`'s, else ``$EIE_SIM_MAX_MEMORY``,
    else the default."""
    if _explicit_max_memory is not None:
        return _explicit_max_memory
    env = os.environ.get(ENV_MAX_MEMORY)
    if env:
        try:
            return parse_size(env)
        except ValueError as err:
            raise ResourceError(f"environment variable {ENV_MAX_MEMORY}: {err}") from None
    return default_max_memory()


def format_bytes(n: float) -> str:
    """``1610612736`` -> ``'1.5 GiB'``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(estimate: float, what: str) -> None:
    """Refuse ``what`` if its estimated ``estimate`` bytes exceed the memory budget."""
    limit = max_memory()
    if not estimate <= limit:  # also refuses NaN
        raise ResourceError(
            f"{what} needs about {format_bytes(estimate)} of memory, more than the limit "
            f"{format_bytes(limit)} (--max-memory, default {DEFAULT_MEMORY_FRACTION:.0%} of "
            "physical memory); allowed: a smaller layer or batch, or a larger --max-memory")


# Calibration (tracemalloc peaks, numpy 1.26, bytes): building a uniform synthetic layer
# ~41/non-zero; encoding + running EIE ~61/non-zero + ~52 per (PE, input) + ~45 MB fixed; the
# dense baseline ~90/non-zero; a tensor core ~36 per padded weight slot + ~48 per (K + M)
# batch element. The constants below round these up.
_BUILD_PER_NNZ = 64
_BUILD_PER_INPUT = 48
_BUILD_PER_OUTPUT = 32
_FIXED = 64 << 20
_PE_PER_NNZ = 128
_PE_PER_PE_INPUT = 80
_TC_PER_SLOT = 48
_TC_PER_BATCH_ELEMENT = 64


def synthetic_layer_bytes(inputs: int, outputs: int, weight_density: float) -> float:
    """Peak bytes of building a synthetic layer (its expected non-zeros, its input vector)."""
    nnz = float(weight_density) * inputs * outputs
    nnz += 8 * math.sqrt(nnz) + 64  # the generator draws a little more than the mean
    return _FIXED + _BUILD_PER_NNZ * nnz + _BUILD_PER_INPUT * inputs + _BUILD_PER_OUTPUT * outputs


def check_layer_spec(inputs: int, outputs: int, weight_density: float, name: str) -> None:
    """What a synthetic layer's shape and density may cost: refuse a non-zero weight density
    below :data:`MIN_WEIGHT_DENSITY` and a layer whose generation exceeds the memory budget."""
    if 0 < weight_density < MIN_WEIGHT_DENSITY:
        raise WorkloadError(f"weight_density must be 0 or in [{MIN_WEIGHT_DENSITY:g}, 1], got "
                          f"{weight_density!r}")
    check_memory(synthetic_layer_bytes(inputs, outputs, weight_density),
                 f"building layer {excerpt(name)} ({inputs} x {outputs}, weight density "
                 f"{weight_density:g})")


def _ceil_to(n: int, m: int) -> int:
    return -(-n // m) * m


def _tc_shape(config: Any, n_in: int, n_out: int) -> tuple[int, int, int]:
    return _ceil_to(n_in, 128), _ceil_to(n_out, 16), _ceil_to(int(config.batch), 8)


def layer_run_bytes(config: Any, n_in: int, n_out: int, nnz: int, *, values: bool = True
                    ) -> float:
    """Peak bytes of preparing (encoding) and running one layer on ``config``; ``values=False``
    (a timing-only tensor-core run) makes only the plan, no operands."""
    fields = config.to_dict()
    if "batch" in fields:  # a tensor core: dense, padded operands
        k_p, m_p, b_p = _tc_shape(config, n_in, n_out)
        if not values:  # the plan: per tile and per (tile, stage) arrays
            tiles = -(-m_p // int(config.block_m)) * -(-b_p // int(config.block_n))
            stages = -(-k_p // int(config.k_steps_per_stage * 16))
            return _FIXED + 64 * tiles * int(config.tensor_cores_per_sm) + 16 * tiles * stages
        return _FIXED + _TC_PER_SLOT * m_p * k_p + _TC_PER_BATCH_ELEMENT * (k_p + m_p) * b_p
    pes = int(fields.get("num_pes", 1))
    return _FIXED + _PE_PER_NNZ * nnz + _PE_PER_PE_INPUT * pes * (n_in + 1) + 16 * n_out


def cycle_bound(config: Any, n_in: int, n_out: int) -> float:
    """An upper bound on the cycles (and on any counter) of one layer on ``config``, from
    its shape alone: every weight slot an entry, every byte over the slowest path, nothing
    overlapped, with a factor 4 margin. Far above real counts; it only has to be an upper
    bound, checked against :data:`MAX_CYCLES` before the engines count in int64."""
    fields = config.to_dict()
    if "batch" in fields:
        k_p, m_p, b_p = _tc_shape(config, n_in, n_out)
        mma_cycles = -(-4096 // max(1, config.dense_fma_per_clk_per_sm
                                    // config.tensor_cores_per_sm))
        mmas = (m_p // 16) * (b_p // 8) * (k_p // 16)
        nbytes = (2 * m_p * k_p * (b_p // 8 + 1) + 2 * k_p * b_p * (m_p // 16 + 1)
                  + 8 * m_p * b_p)
        slowest = min(float(config.mem_bandwidth_gbps) * 1e3 / float(config.clock_mhz),
                      float(config.smem_bytes_per_clk), float(config.weight_sram_bytes_per_clk))
        tiles = (m_p // 16 + 1) * (b_p // 8 + 1)
        latency = tiles * (int(config.mma_latency_cycles) + 64)
        return 4.0 * (mmas * mma_cycles + nbytes / slowest + latency)
    passes = n_out  # at most one output pass per output
    swap = int(fields.get("batch_swap_cycles", 0)) * passes * (n_in // 4096 + 2)
    bandwidth = float(fields.get("dram_bandwidth_gbps", 1.0))
    per_cycle = bandwidth * 1e3 / float(config.clock_mhz)
    nbytes = 8.0 * (n_in + 1) * (n_out + 1)
    work = (n_in + 2.0) * (n_out + 2.0) + passes * (n_in + 64.0)
    return 4.0 * (work + swap + nbytes / per_cycle + passes * (n_in + 1.0))


def check_layer_run(config: Any, layer: Any, *, values: bool = True) -> None:
    """Refuse running ``layer`` (a QuantizedLayer) on ``config`` when its memory estimate
    exceeds the budget or its cycle bound (:func:`cycle_bound`) could overflow int64."""
    what = f"layer {excerpt(layer.name)} ({layer.n_in} x {layer.n_out}) on arch {config.arch}"
    bound = cycle_bound(config, int(layer.n_in), int(layer.n_out))
    if not bound <= MAX_CYCLES:
        raise ResourceError(
            f"{what} could take up to {bound:.3g} cycles, beyond the 2**61 the counters hold; "
            "allowed: a smaller layer or batch, a higher DRAM bandwidth or a lower clock")
    estimate = layer_run_bytes(config, int(layer.n_in), int(layer.n_out), int(layer.nnz),
                               values=values)
    check_memory(estimate, what)


# ----------------------------------------------------------------------------- weight files
#: Peak bytes per weight element of reading, pruning and quantizing a user's dense tensor.
_USER_PER_ELEMENT = 64
#: A safetensors header (JSON) larger than this is corrupt (the format's own limit is 100 MB).
MAX_SAFETENSORS_HEADER = 100_000_000


def _npy_elements(fp: Any) -> int:
    """Elements declared by the ``.npy`` header at ``fp`` (its shape, not its data)."""
    import numpy as np

    fmt = np.lib.format
    version = fmt.read_magic(fp)
    if version == (1, 0):
        shape, _, _ = fmt.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, _, _ = fmt.read_array_header_2_0(fp)
    else:  # (3, 0): utf-8 header, read by numpy's own (private) reader
        shape, _, _ = fmt._read_array_header(fp, version)
    return math.prod(int(n) for n in shape)


def tensor_file_elements(path: str | Path) -> int:
    """Elements of every tensor a ``.npz``, ``.safetensors`` or ``.npy`` file declares, read
    from its headers without loading a tensor (a compressed ``.npz`` can declare far more than
    its size). ValueError / OSError on a corrupt file."""
    import json
    import zipfile

    p = Path(path)
    if p.suffix == ".npy":
        with open(p, "rb") as fp:
            return _npy_elements(fp)
    if p.suffix == ".npz":
        total = 0
        with zipfile.ZipFile(p) as zf:
            for name in zf.namelist():
                if name.endswith(".npy"):
                    with zf.open(name) as fp:
                        total += _npy_elements(fp)
        return total
    with open(p, "rb") as fp:  # safetensors: u64 header length, JSON header
        n = int.from_bytes(fp.read(8), "little")
        if not 0 < n <= MAX_SAFETENSORS_HEADER:
            raise ValueError("bad safetensors header length")
        header = json.loads(fp.read(n))
    return sum(math.prod(int(d) for d in t["shape"]) for k, t in header.items()
               if k != "__metadata__")


def check_tensor_file(path: str | Path, what: str) -> None:
    """Refuse a tensor file whose declared tensors would exceed the memory budget once read
    and processed; a header that cannot be read is left to the reader's own message."""
    try:
        elements = tensor_file_elements(path)
    except Exception:  # corrupt: the loader says so in its own words
        return
    check_memory(_FIXED + _USER_PER_ELEMENT * elements,
                 f"{what} {Path(path)} ({elements} elements)")


# ----------------------------------------------------------------------------- integers
def check_count(value: Any, what: str) -> int:
    """``value`` as an int if it is a finite integer in ``[0, MAX_CYCLES]``; else a one-line
    error (a cycle count or counter that would not fit int64)."""
    try:
        ok = math.isfinite(value) and value == int(value) and 0 <= value <= MAX_CYCLES
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ResourceError(f"{what} is {excerpt(value)}, not an integer in [0, 2**61] (an int64 "
                            "count that overflowed); allowed: a smaller layer or batch, a "
                            "higher DRAM bandwidth or a lower clock")
    return int(value)
