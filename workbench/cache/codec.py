"""Entries as checksummed bytes for the Redis and disk levels: bar frames as Arrow IPC, small values as JSON.

Layout: ``b"WBC1"`` | CRC-32 of everything after it (4 bytes) | header length (4 bytes) | JSON header (kind,
tags, expiry, meta) | payload. Nothing is unpickled, so a value read from a shared Redis cannot run code, and a
flipped or missing byte fails the checksum: `decode` raises `CorruptEntry` and the level drops the entry.
"""

from __future__ import annotations

import json
import struct
import zlib

import pandas as pd
import pyarrow as pa

from workbench.cache.entry import Entry

MAGIC = b"WBC1"
_PREFIX = struct.Struct(">4sII")  # magic, crc32 of the rest, header length


class CorruptEntry(Exception):
    """Stored bytes that are not a valid entry (bad magic, checksum, header or payload); never leaves a level."""


def encode(entry: Entry) -> bytes:
    """Serialize `entry` (a DataFrame or a JSON-serializable value) to checksummed bytes.

    Raises
    ------
    TypeError
        If the value is neither a DataFrame nor JSON-serializable.

    Examples
    --------
    >>> blob = encode(Entry({"bid": 99.5}, frozenset({"symbol:SPY"})))
    >>> decode(blob).value
    {'bid': 99.5}
    """
    if isinstance(entry.value, pd.DataFrame):
        kind, payload = "frame", _frame_bytes(entry.value)
    else:
        kind, payload = "json", json.dumps(entry.value).encode()
    header = json.dumps(
        {"kind": kind, "tags": sorted(entry.tags), "expires_at": entry.expires_at, "meta": dict(entry.meta)}
    ).encode()
    body = len(header).to_bytes(4, "big") + header + payload
    return MAGIC + zlib.crc32(body).to_bytes(4, "big") + body


def decode(blob: bytes) -> Entry:
    """Rebuild the `Entry` that `encode` wrote; `CorruptEntry` if the bytes are damaged or not ours."""
    if not isinstance(blob, bytes):
        raise CorruptEntry(f"expected bytes, got {type(blob).__name__}")
    if len(blob) < _PREFIX.size:
        raise CorruptEntry(f"{len(blob)} bytes is shorter than the {_PREFIX.size}-byte prefix")
    magic, crc, header_len = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise CorruptEntry(f"bad magic {magic!r}")
    body = memoryview(blob)[8:]
    if zlib.crc32(body) != crc:
        raise CorruptEntry("checksum mismatch")
    try:
        header = json.loads(bytes(body[4 : 4 + header_len]))
        payload = body[4 + header_len :]
        value = _read_frame(payload) if header["kind"] == "frame" else json.loads(bytes(payload))
        return Entry(value, frozenset(header["tags"]), header["expires_at"], header["meta"])
    except (ValueError, KeyError, TypeError, pa.ArrowException) as exc:  # checksum right, content not ours
        raise CorruptEntry(f"unreadable entry: {exc}") from None


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    """Arrow IPC stream of `frame` with its index, dtypes (tz-aware timestamps) and attrs."""
    # nthreads=1: pyarrow's thread pool costs more than it saves on frames of a few thousand rows
    table = pa.Table.from_pandas(frame, preserve_index=True, nthreads=1)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _read_frame(payload: memoryview) -> pd.DataFrame:
    return pa.ipc.open_stream(pa.py_buffer(payload)).read_all().to_pandas()
