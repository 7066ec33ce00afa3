"""The cache directory of derived data: built workloads, trained models, parsed energy tables.

Everything kept here is derived from inputs that stay the source of truth (the code that
builds a workload, a YAML file), under a key of all of them, so a change to any input is a
miss, never a stale hit. An entry is verified when it is read and an entry that does not
verify is rebuilt; failing to write one is not an error; deleting the directory is always safe.

Directory: ``EIE_SIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/eie_sim``, else ``~/.cache/eie_sim``.
``EIE_SIM_CACHE_DIR=off`` turns caching off.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

#: Largest data entry read, bytes (a parsed bundled energy table takes about 10 KiB).
MAX_DATA_BYTES = 1 << 20


def cache_root() -> Path | None:
    """The cache directory (None when ``EIE_SIM_CACHE_DIR=off``)."""
    root = os.environ.get("EIE_SIM_CACHE_DIR")
    if root == "off":
        return None
    return Path(root or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eie_sim"))


@cache
def source_key(modules: tuple[str, ...]) -> str:
    """Hash of the source files of ``modules`` (found without importing them)."""
    import importlib.util

    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        h.update(Path(spec.origin).read_bytes() if spec and spec.origin else name.encode())
    return h.hexdigest()[:16]


def store(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write an entry with ``write(file)``: to a temporary file renamed into place, so a reader
    sees the whole entry or none; an OSError (read-only or full disk) only skips caching."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


def store_data(path: Path, data: Any) -> None:
    """Store plain data (what YAML parses to: mappings with keys of any scalar type, lists,
    strings, numbers, booleans, None) as JSON after a line holding its SHA-256; anything else
    is not stored."""
    try:
        payload = json.dumps(_to_json(data), allow_nan=True).encode()
    except (TypeError, ValueError):
        return
    digest = hashlib.sha256(payload).hexdigest().encode()
    store(path, lambda fh: fh.write(digest + b"\n" + payload))


def read(path: Path, limit: int | None = None) -> bytearray | None:
    """The bytes of an entry, in a writable buffer (arrays may view it); None when there is
    none or it is not a regular file (of at most ``limit`` bytes). The file is opened
    non-blocking and checked with ``fstat`` before a byte is read: a FIFO never blocks."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        with os.fdopen(os.open(path, flags), "rb", buffering=0) as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or (limit is not None and st.st_size > limit):
                return None
            buf = bytearray(st.st_size)
            view, done = memoryview(buf), 0
            while done < len(buf):
                n = fh.readinto(view[done:])
                if not n:
                    return None  # shorter than fstat said: being replaced
                done += n
            return buf
    except OSError:
        return None


def load_data(path: Path, *, limit: int = MAX_DATA_BYTES) -> Any | None:
    """The data of an entry :func:`store_data` wrote; None when there is none, or it is not a
    regular file of at most ``limit`` bytes, or it does not match its SHA-256 (truncated,
    damaged) or decode."""
    raw = read(path, limit)
    if raw is None:
        return None
    digest, _, payload = bytes(raw).partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None
    try:
        return _from_json(json.loads(payload))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None


def _to_json(value: Any) -> Any:
    """JSON for plain data: a mapping as ``{"map": [[key, value], ...]}`` (JSON keys are only
    strings), a list as ``{"list": [...]}``, a scalar as itself (floats round-trip exactly)."""
    if isinstance(value, dict):
        return {"map": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return {"list": [_to_json(v) for v in value]}
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"not plain data: {type(value).__name__}")


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        ((kind, items),) = value.items()
        if kind == "map":
            return {_from_json(k): _from_json(v) for k, v in items}
        if kind == "list":
            return [_from_json(v) for v in items]
        raise ValueError(f"unknown kind {kind!r}")
    return value
