"""The cache directory of derived data (eie_sim/disk_cache.py): where it is, checked data
entries that round-trip plain data exactly, and entries that are never trusted when damaged."""

from __future__ import annotations

import math
import os

import pytest

from eie_sim import disk_cache


def test_the_directory_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", str(tmp_path / "c"))
    assert disk_cache.cache_root() == tmp_path / "c"
    monkeypatch.delenv("EIE_SIM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert disk_cache.cache_root() == tmp_path / "x" / "eie_sim"
    monkeypatch.setenv("EIE_SIM_CACHE_DIR", "off")
    assert disk_cache.cache_root() is None


PLAIN = {"name": "t", 8192: 10.0, 1.5: [1, -2, 3.25, None, True, "x"], False: {"a": {}},
         "nested": [[{"k": 0.1 + 0.2}]], "huge": 2**80, "tiny": 5e-324, "inf": math.inf}


def test_plain_data_round_trips_exactly(tmp_path):
    path = tmp_path / "e.json"
    disk_cache.store_data(path, PLAIN)
    loaded = disk_cache.load_data(path)
    assert loaded == PLAIN
    assert [type(k) for k in loaded] == [type(k) for k in PLAIN]  # keys keep their types
    nan = {"nan": math.nan}
    disk_cache.store_data(path, nan)
    assert math.isnan(disk_cache.load_data(path)["nan"])


def test_data_that_is_not_plain_is_not_stored(tmp_path):
    path = tmp_path / "e.json"
    disk_cache.store_data(path, {"when": object()})
    disk_cache.store_data(path, {(1, 2): "tuple key"})
    assert not path.exists()


@pytest.mark.parametrize("damage", ["flipped", "truncated", "no digest", "not json",
                                    "unknown kind", "empty", "too large"])
def test_a_damaged_data_entry_is_not_read(tmp_path, damage):
    path = tmp_path / "e.json"
    disk_cache.store_data(path, PLAIN)
    good = path.read_bytes()
    digest, _, payload = good.partition(b"\n")

    def signed(body: bytes) -> bytes:  # a valid digest over a body that does not decode
        import hashlib

        return hashlib.sha256(body).hexdigest().encode() + b"\n" + body

    bad = {"flipped": good.replace(b"8192", b"8193"), "truncated": good[:-5],
           "no digest": payload, "not json": signed(b"{not json"),
           "unknown kind": signed(b'{"set": [1]}'), "empty": b"",
           "too large": digest + b"\n" + payload + b" " * (disk_cache.MAX_DATA_BYTES)}[damage]
    path.write_bytes(bad)
    assert disk_cache.load_data(path) is None


def test_an_entry_that_is_not_a_regular_file_is_not_read(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opened non-blocking: no writer needed
    assert disk_cache.load_data(fifo) is None
    assert disk_cache.read(tmp_path) is None  # a directory
    assert disk_cache.read(tmp_path / "missing") is None


def test_a_failed_write_is_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    disk_cache.store_data(blocker / "sub" / "e.json", PLAIN)  # parent is a file: skipped
    assert not (blocker / "sub").exists()
