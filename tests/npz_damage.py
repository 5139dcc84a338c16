"""Builders of damaged NPZ files, shared by the reader, validation and CLI tests.

Each builder writes one defect into ``folder`` and returns the path. The
damage is located independently of the reader under test (by searching the
raw bytes or by writing the zip by hand), so a reader bug cannot hide it.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from conftest import dataset_arrays

_CENTRAL_MAGIC = b"PK\x01\x02"


def _write_good(folder: str, name: str, compressed: bool = False) -> tuple[str, dict]:
    # Frames large enough (40 KiB stack) that opening a member does not read it
    # whole: a flipped data byte must then be found by the full pass.
    arrays = dataset_arrays(n=40, h=16, w=16, object_shape=(32, 32))
    path = os.path.join(folder, name)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path, arrays


def _npy_bytes(arr: np.ndarray, header_shape: tuple[int, ...] | None = None) -> bytes:
    """Return ``.npy`` bytes of ``arr``, optionally with a header claiming another shape."""
    header = np.lib.format.header_data_from_array_1_0(arr)
    if header_shape is not None:
        header["shape"] = header_shape
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(arr.tobytes())
    return buf.getvalue()


def write_members(path: str, members: dict[str, bytes]) -> str:
    """Write a stored zip whose members hold the given raw bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return path


def truncated_zip(folder: str) -> str:
    """A valid NPZ cut in half (central directory lost)."""
    path, _ = _write_good(folder, "truncated.npz")
    blob = Path(path).read_bytes()
    with open(path, "wb") as fh:
        fh.write(blob[: len(blob) // 2])
    return path


def bad_crc(folder: str, key: str = "diffraction") -> str:
    """A stored NPZ with one data byte of ``key`` flipped (its CRC no longer matches)."""
    path, arrays = _write_good(folder, f"bad-crc-{key}.npz")
    blob = bytearray(Path(path).read_bytes())
    start = bytes(blob).find(arrays[key].tobytes())
    assert start > 0, "array bytes not found verbatim in a stored member"
    blob[start + arrays[key].nbytes // 2] ^= 0x01
    with open(path, "wb") as fh:
        fh.write(bytes(blob))
    return path


def header_overstates_shape(folder: str) -> str:
    """A member whose ``.npy`` header promises more elements than it holds."""
    arrays = dataset_arrays(n=12, h=8, w=8, object_shape=(16, 16))
    members = {f"{k}.npy": _npy_bytes(v) for k, v in arrays.items()}
    members["diffraction.npy"] = _npy_bytes(arrays["diffraction"], header_shape=(24, 8, 8))
    return write_members(os.path.join(folder, "header-overstates.npz"), members)


def header_understates_shape(folder: str) -> str:
    """A member whose ``.npy`` header promises fewer elements than it holds."""
    arrays = dataset_arrays(n=12, h=8, w=8, object_shape=(16, 16))
    members = {f"{k}.npy": _npy_bytes(v) for k, v in arrays.items()}
    members["xcoords.npy"] = _npy_bytes(arrays["xcoords"], header_shape=(6,))
    return write_members(os.path.join(folder, "header-understates.npz"), members)


def not_npy_member(folder: str) -> str:
    """A zip whose ``diffraction.npy`` member is not ``.npy`` data at all."""
    return write_members(os.path.join(folder, "not-npy.npz"), {"diffraction.npy": b"just some text, no magic"})


def not_a_zip(folder: str) -> str:
    """A text file with an ``.npz`` name."""
    path = os.path.join(folder, "text.npz")
    with open(path, "w") as fh:
        fh.write("diffraction,xcoords\n1,2\n")
    return path


def empty_file(folder: str) -> str:
    """A zero-byte ``.npz``."""
    path = os.path.join(folder, "empty.npz")
    open(path, "wb").close()
    return path


def a_directory(folder: str) -> str:
    """A folder named like a dataset."""
    path = os.path.join(folder, "folder.npz")
    os.mkdir(path)
    return path


def missing_file(folder: str) -> str:
    """A path that does not exist."""
    return os.path.join(folder, "nowhere.npz")


def _patch_central_entry(folder: str, name: str, offset: int, fmt: str, value: int) -> str:
    path, _ = _write_good(folder, name)
    blob = bytearray(Path(path).read_bytes())
    entry = bytes(blob).find(_CENTRAL_MAGIC)
    assert entry > 0
    struct.pack_into(fmt, blob, entry + offset, value)
    with open(path, "wb") as fh:
        fh.write(bytes(blob))
    return path


def unknown_compression(folder: str) -> str:
    """The first member's compression method set to an unassigned number (99)."""
    return _patch_central_entry(folder, "unknown-method.npz", 10, "<H", 99)


def encrypted_member(folder: str) -> str:
    """The first member flagged as encrypted (general-purpose bit 0)."""
    return _patch_central_entry(folder, "encrypted.npz", 8, "<H", 0x0001)


#: (id, builder, words the one-line message must contain)
UNUSABLE_INPUTS = [
    ("truncated-zip", truncated_zip, "zip"),
    ("bad-crc", bad_crc, "CRC"),
    ("header-overstates-shape", header_overstates_shape, "header promises"),
    ("header-understates-shape", header_understates_shape, "header promises"),
    ("member-not-npy", not_npy_member, "not a valid .npy"),
    ("not-a-zip", not_a_zip, "zip"),
    ("empty-file", empty_file, "empty"),
    ("directory", a_directory, "directory"),
    ("missing-file", missing_file, "does not exist"),
    ("unknown-compression", unknown_compression, "corrupt"),
    ("encrypted-member", encrypted_member, "encrypted"),
]
