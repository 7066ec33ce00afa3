"""On-disk cache of built workloads and trained models (derived data, never an input).

Building a named synthetic workload (positions, values, 4-bit k-means, bias calibration on the
reference datapath) costs more than simulating it; it is a pure function of its name, seed and
statistics mode, the code that builds it and NumPy's random streams. So the built arrays are
kept in the cache directory under a key of all of those, and a later process (a CLI run, a
sweep worker, a test) loads them instead of building again. A cached layer is validated like a
built one when it is loaded; an unreadable or stale entry is rebuilt; failing to write is not
an error.

Directory: :func:`eie_sim.disk_cache.cache_root` (``EIE_SIM_CACHE_DIR``, else
``$XDG_CACHE_HOME/eie_sim``, else ``~/.cache/eie_sim``); ``EIE_SIM_CACHE_DIR=off`` turns the
workload cache off.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from eie_sim.disk_cache import cache_root, read, source_key, store

#: Modules whose code decides a built workload's arrays (a change to any of them rebuilds).
BUILD_MODULES = (
    "eie_sim.workloads", "eie_sim.workloads.synthetic", "eie_sim.workloads.paper",
    "eie_sim.workloads.statistics", "eie_sim.layer", "eie_sim.compress.weight_sharing",
    "eie_sim.formats.fixed_point", "eie_sim.reference",
)
_LAYER_ARRAYS = ("col_ptr", "row_idx", "weight_idx", "codebook", "bias_idx", "bias_codebook")


@cache
def code_key(modules: tuple[str, ...] = BUILD_MODULES) -> str:
    """Hash of the source of ``modules`` and of NumPy's version (its random streams)."""
    return hashlib.sha256(f"{np.__version__} {source_key(modules)}".encode()).hexdigest()[:16]


def cached_workload(key: dict, build: Callable[[], object]):
    """``build()`` (a :class:`~eie_sim.workloads.Workload` of QuantizedLayers), or the copy
    cached under ``key`` (JSON-able: name, seed, statistics, ...) and this code."""
    root = cache_root()
    if root is None:
        return build()
    digest = hashlib.sha256(json.dumps([key, code_key()], sort_keys=True).encode()).hexdigest()
    path = root / f"workload-{key.get('name', 'w')}-{digest[:20]}.bin"
    loaded = _load(path)
    if loaded is not None:
        return loaded
    workload = build()
    _store(path, workload)
    return workload


# An entry: _MAGIC; the CRC-32 of everything after it (4 bytes, little-endian); the header's
# length (8 bytes); the header (JSON: the workload's and its layers' fields, and each array's
# name, dtype, shape and offset from the header's end, which is a multiple of _ALIGN); the
# arrays' bytes. It is read in one go and its arrays are views of that buffer.
_MAGIC = b"eie_sim workload cache 1\n"
_CRC = slice(len(_MAGIC), len(_MAGIC) + 4)
_SIZE = slice(_CRC.stop, _CRC.stop + 8)
_ALIGN = 64


def _store(path: Path, workload) -> None:
    from eie_sim.layer import QuantizedLayer

    if not all(isinstance(la, QuantizedLayer) for la in workload.layers):
        return
    arrays: dict[str, np.ndarray] = {"inputs": np.ascontiguousarray(workload.inputs)}
    meta = {"name": workload.name, "chained": workload.chained,
            "description": workload.description, "info": workload.info, "layers": []}
    for i, layer in enumerate(workload.layers):
        meta["layers"].append({"name": layer.name, "n_in": layer.n_in, "n_out": layer.n_out,
                               "weight_frac_bits": layer.weight_frac_bits,
                               "act_frac_bits": layer.act_frac_bits})
        for field in _LAYER_ARRAYS:
            value = getattr(layer, field)
            if value is not None:
                arrays[f"{i}.{field}"] = np.ascontiguousarray(value)
    table, size = [], 0
    for name, a in arrays.items():
        size += -size % _ALIGN
        table.append([name, a.dtype.str, list(a.shape), size])
        size += a.nbytes
    head = json.dumps({"meta": meta, "arrays": table}).encode()
    head += b" " * (-(_SIZE.stop + len(head)) % _ALIGN)
    start = _SIZE.stop + len(head)
    entry = bytearray(start + size)
    entry[:_CRC.start] = _MAGIC
    entry[_SIZE] = len(head).to_bytes(8, "little")
    entry[_SIZE.stop:start] = head
    for (_, _, _, offset), a in zip(table, arrays.values(), strict=True):
        entry[start + offset:start + offset + a.nbytes] = a.tobytes()
    entry[_CRC] = zlib.crc32(memoryview(entry)[_CRC.stop:]).to_bytes(4, "little")
    store(path, lambda fh: fh.write(entry))


def _load(path: Path):
    """The workload of an entry; None when there is none, or it does not match its CRC-32
    (truncated, damaged), or its header, arrays or layers are not valid."""
    from eie_sim.errors import WorkloadError
    from eie_sim.layer import QuantizedLayer
    from eie_sim.workloads import Workload

    buf = read(path)
    if (buf is None or not buf.startswith(_MAGIC)
            or zlib.crc32(memoryview(buf)[_CRC.stop:]) != int.from_bytes(buf[_CRC], "little")):
        return None
    try:
        start = _SIZE.stop + int.from_bytes(buf[_SIZE], "little")
        head = json.loads(bytes(buf[_SIZE.stop:start]))
        data = {}
        for name, dtype, shape, offset in head["arrays"]:
            kind = np.dtype(dtype)
            if kind.kind not in "iu":
                raise ValueError(f"array {name} has dtype {kind}; allowed: integers")
            count = int(np.prod(shape, dtype=np.int64))
            data[name] = np.frombuffer(buf, kind, count, start + offset).reshape(shape)
        meta = head["meta"]
        layers = tuple(QuantizedLayer(**fields, **{f: data.get(f"{i}.{f}") for f in _LAYER_ARRAYS})
                       for i, fields in enumerate(meta["layers"]))
        return Workload(name=meta["name"], layers=layers, inputs=data["inputs"],
                        chained=meta["chained"], description=meta["description"],
                        info=meta["info"])
    except (KeyError, ValueError, TypeError, AttributeError, WorkloadError):
        return None
