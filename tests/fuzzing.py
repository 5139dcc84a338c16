"""Fuzzing harness: structural mutations of every input kind, run through every command in-process.

One generator, two drivers. Every mutation draws its choices through a
:class:`Draw`: :class:`HypothesisDraw` (``tests/test_fuzz.py``: deterministic,
shrinkable examples in ``make test``) or :class:`RandomDraw` over a seeded
``random.Random`` (``benchmarks/fuzz.py``: many examples, every failure
counted, no stop at the first).

Inputs are mutated in their structure, not only their bytes: NPZ archives at
the array level (dtypes, shapes, values, keys, byte order), the ``.npy``
header level (descr, shape, fortran flag, data length), and the zip level
(repeated, NUL-cut or path-like member names, directories, compression,
flags); CXI files at the HDF5 level (datasets replaced or removed, unit
attributes, soft-link loops, dangling, external and virtual links, external
raw storage, an unavailable filter); JSON (sidecars, contracts, ``_metadata``
records) with deep nesting, huge integers and floats, non-standard literals,
repeated keys, type changes; and any file with byte flips and truncation.
Faults add a full disk (every ``fsync`` fails with ENOSPC) and tiny memory budgets.

:func:`check_property` states what must hold for every run: exit 0, 1 or 2;
at most one line on standard error, starting ``ptyevidence``; no traceback,
no warning; strict JSON on standard output when JSON was asked for.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import random
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

import cxi_files
from _gap_dumps import tf_grouped_dump, torch_mmap_dump
from conftest import dataset_arrays

N_SCAN, SIDE, SUBSET = 20, 8, "16"

# -- drawing choices ---------------------------------------------------------------------


class Draw:
    """Where a mutation's choices come from."""

    def choice(self, options: Sequence[Any]) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def integer(self, lo: int, hi: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def boolean(self) -> bool:
        return bool(self.integer(0, 1))


class RandomDraw(Draw):
    """Choices from a seeded ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


class HypothesisDraw(Draw):
    """Choices drawn from hypothesis ``data`` (so failures shrink)."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def choice(self, options: Sequence[Any]) -> Any:
        return self.data.draw(self.st.sampled_from(list(options)))

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))


# -- the base inputs ---------------------------------------------------------------------


class Base:
    """Valid inputs of every kind, built once into ``folder``; examples mutate copies."""

    def __init__(self, folder: str) -> None:
        from ptyevidence.contract.model import load_contract
        from ptyevidence.fixture import make_fixture

        self.folder = folder
        self.arrays = dataset_arrays(n=N_SCAN, h=SIDE, w=SIDE)
        self.source = os.path.join(folder, "source.npz")
        np.savez(self.source, **self.arrays)
        result = make_fixture(self.source, os.path.join(folder, "fixture.npz"), subset_size=16, progress=False)
        self.fixture, self.sidecar, self.notes = result.path, result.metadata_path, result.notes_path
        with open(self.sidecar, encoding="utf-8") as fh:
            self.sidecar_data = json.load(fh)
        with np.load(self.fixture, allow_pickle=False) as f:
            self.fixture_arrays = {k: f[k] for k in f.files}
        self.contract_data = load_contract("data001").to_dict()
        # A consumer profile: its rules go through the check table.
        self.profile_data = load_contract("ptychopinn-tf").to_dict()
        self.cxi = os.path.join(folder, "scan.cxi")
        cxi_files.write_cxi(self.cxi, n=N_SCAN, h=SIDE, w=SIDE, probe=np.ones((SIDE, SIDE), np.complex64))
        self.dumps = (tf_grouped_dump(), torch_mmap_dump())


# -- JSON -------------------------------------------------------------------------------


class Raw:
    """A JSON fragment written verbatim (what ``json.dumps`` would refuse or never write)."""

    def __init__(self, text: str) -> None:
        self.text = text


class Pairs:
    """A JSON object written from pairs, so a key can repeat."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def dump_json(value: Any) -> str:
    """Serialize ``value`` allowing :class:`Raw` and :class:`Pairs` anywhere."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump_json(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dump_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump_json(v) for v in value) + "]"
    return json.dumps(value)


def _json_paths(value: Any, where: tuple = (), depth: int = 0) -> list[tuple]:
    paths = [where]
    if depth > 6:
        return paths
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        paths.extend(_json_paths(item, (*where, key), depth + 1))
    return paths


def _set_at(doc: Any, where: tuple, new: Any) -> Any:
    if not where:
        return new
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = new
    return doc


def _bad_json_value(draw: Draw) -> Any:
    kind = draw.choice(["deep", "bigint", "hugeint", "bigfloat", "literal", "type", "longstr"])
    if kind == "deep":
        depth = draw.choice([65, 200, 1100, 5000])
        opener = draw.choice(["[", '{"k": '])
        closer = "]" if opener == "[" else "}"
        return Raw(opener * depth + "1" + closer * depth)
    if kind == "bigint":
        return Raw(("-" if draw.boolean() else "") + "9" * draw.choice([19, 20, 25, 40]))
    if kind == "hugeint":
        return Raw("1" * draw.choice([4300, 4301, 5000, 20000]))
    if kind == "bigfloat":
        return Raw(draw.choice(["1e400", "-1e999", "1.5e308", "2e308", "4.9e-324", "1e-400"]))
    if kind == "literal":
        return Raw(draw.choice(["NaN", "Infinity", "-Infinity"]))
    if kind == "longstr":
        return "x" * draw.choice([10, 10_000])
    return draw.choice([None, True, False, "text", 0, -1, 3.5, [], {}, [1, "a"], {"a": 1}])


def mutate_json(draw: Draw, doc: Any) -> bytes:
    """Return JSON text (bytes) of ``doc`` after 1-2 structural mutations, or damaged text."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw.integer(1, 2)):
        op = draw.choice(["value", "value", "delete", "duplicate", "text"])
        paths = _json_paths(doc)
        where = draw.choice(paths)
        if op == "value":
            doc = _set_at(doc, where, _bad_json_value(draw))
        elif op == "delete" and where:
            parent = doc
            for key in where[:-1]:
                parent = parent[key]
            with contextlib.suppress(KeyError, IndexError, TypeError):
                del parent[where[-1]]
        elif op == "duplicate":
            objects = [p for p in paths if _is_dict(doc, p) and _get(doc, p)]
            if objects:
                target = draw.choice(objects)
                obj = _get(doc, target)
                key = draw.choice(list(obj))
                pairs = [*obj.items(), (key, _bad_json_value(draw) if draw.boolean() else obj[key])]
                doc = _set_at(doc, target, Pairs(pairs))
    text = dump_json(doc).encode("utf-8")
    if draw.integer(0, 5) == 0:
        text = damage_bytes(draw, text)
    return text


def _get(doc: Any, where: tuple) -> Any:
    for key in where:
        doc = doc[key] if not isinstance(doc, Pairs) else dict(doc.pairs)[key]
    return doc


def _is_dict(doc: Any, where: tuple) -> bool:
    try:
        return isinstance(_get(doc, where), dict)
    except (KeyError, IndexError, TypeError):
        return False


# -- bytes ------------------------------------------------------------------------------


def damage_bytes(draw: Draw, blob: bytes) -> bytes:
    """Flip bytes, truncate, or append junk."""
    data = bytearray(blob)
    op = draw.choice(["flip", "flip", "truncate", "append"])
    if not data:
        return bytes(data)
    if op == "flip":
        for _ in range(draw.integer(1, 8)):
            data[draw.integer(0, len(data) - 1)] ^= draw.integer(1, 255)
    elif op == "truncate":
        del data[draw.integer(0, len(data) - 1) :]
    else:
        data += bytes(draw.integer(0, 255) for _ in range(draw.integer(1, 64)))
    return bytes(data)


# -- NPZ ------------------------------------------------------------------------------


@dataclass
class Member:
    """One zip member about to be written: its name and its full stored content."""

    name: str
    payload: bytes
    compress: bool = False
    flag_bits: int = 0


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)  # hostile inputs may hold objects
    return buf.getvalue()


def raw_npy(header: str, data: bytes) -> bytes:
    """A ``.npy`` of version 1.0 with ``header`` verbatim (padded like numpy pads)."""
    text = header.encode("latin-1")
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


_DTYPES = ["<f4", ">f8", "<f2", "|i1", "<u2", "<i8", "<c8", "|b1", "<U3", "|S2", "|V8", "structured", "object"]
_DESCRS = [
    "('<f4', (2,))",
    "[('a', '<f4', (2,))]",
    "'<V0'",
    "'|O'",
    "'<f4'",
    "'<U0'",
    "'>c16'",
    "[('a', '<f4'), ('b', '<i2')]",
    "'float33'",
    "[]",
    "'<M8[s]'",
    "[('', '<f4')]",
]
_SHAPES = [
    "(2**32, 2**32)",
    "(4294967296, 4294967296)",
    "(-1,)",
    "(9223372036854775807,)",
    "(0,)",
    "(100000000000000000000,)",
    "(1,) * 64",
    "(20, 8, 8)",
    "()",
    "(3, -3)",
    "(18446744073709551616,)",
    "(20,)",
    "(2, 2**62)",
]


_FAVOURITES = ("xcoords", "ycoords", "diffraction", "_metadata", "coords_relative", "images")


def _convert(arr: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "structured":
        out = np.zeros(arr.shape, [("amplitude", "f4"), ("phase", "f4")])
        out["amplitude"] = np.real(arr) if arr.dtype.kind in "fc" else 0
        return out
    if dtype == "object":
        return arr.astype(object)
    if dtype[1] in "USV" or arr.dtype.kind not in "biufc":
        return np.zeros(arr.shape, dtype)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return arr.astype(dtype)


def mutate_arrays(draw: Draw, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Array-level mutations: dtype, shape, values, keys, byte and memory order."""
    arrays = dict(arrays)
    for _ in range(draw.integer(0, 2)):
        if not arrays:
            break
        # Positions and frames are what every command reads: pick them more often.
        key = draw.choice(sorted(arrays) + [k for k in _FAVOURITES if k in arrays] * 2)
        arr = arrays[key]
        op = draw.choice(["dtype", "shape", "values", "values", "drop", "rename", "order", "add"])
        if op == "dtype":
            arrays[key] = _convert(arr, draw.choice(_DTYPES))
        elif op == "shape":
            choice = draw.choice(["flat", "axis", "transpose", "slice", "empty", "scalar"])
            if choice == "flat":
                arrays[key] = arr.reshape(-1)
            elif choice == "axis":
                arrays[key] = arr[..., None]
            elif choice == "transpose":
                arrays[key] = np.ascontiguousarray(arr.T)
            elif choice == "slice" and arr.ndim:
                arrays[key] = arr[: draw.integer(0, max(0, arr.shape[0] - 1))]
            elif choice == "empty":
                arrays[key] = np.zeros((0,) + arr.shape[1:], arr.dtype)
            else:
                arrays[key] = np.asarray(arr.reshape(-1)[:1].reshape(()) if arr.size else 0)
        elif op == "values" and arr.dtype.kind in "fc" and arr.size:
            value = draw.choice([np.nan, np.inf, -np.inf, 1e301, -1e301, 1e38, 0.0, 5e-324, -0.0])
            arr = arr.copy()
            if draw.boolean():
                arr[...] = value
            else:
                arr.reshape(-1)[draw.integer(0, arr.size - 1)] = value
            arrays[key] = arr
        elif op == "drop":
            del arrays[key]
        elif op == "rename":
            arrays[draw.choice(["diff3d", "x", "xcoords", "extra", "", "diffraction", "_metadata"])] = arrays.pop(key)
        elif op == "order":
            arrays[key] = np.asfortranarray(arr) if draw.boolean() else arr.astype(arr.dtype.newbyteorder(">"))
        elif op == "add":
            arrays[draw.choice(["_metadata", "scan_index", "notes"])] = _metadata_value(draw)
    return arrays


def _metadata_value(draw: Draw) -> np.ndarray:
    kind = draw.choice(["json", "json", "object", "bytes", "number"])
    if kind == "json":
        text = mutate_json(draw, {"layout": "canonical", "source": {"file": "x.cxi", "n": [1, 2]}})
        return np.array(text.decode("utf-8", "replace"))
    if kind == "object":
        return np.array({"layout": "canonical"}, dtype=object)
    if kind == "bytes":
        return np.array(b"\xff\xfe{")
    return np.array(draw.choice([0, 1.5, np.nan]))


def members_of(arrays: dict[str, np.ndarray]) -> list[Member]:
    return [Member(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()]


def mutate_members(draw: Draw, members: list[Member]) -> list[Member]:
    """Header- and zip-level mutations of the members about to be written."""
    for _ in range(draw.integer(0, 2)):
        op = draw.choice(
            [
                "header",
                "header",
                "duplicate",
                "nul",
                "separator",
                "directory",
                "foreign",
                "compress",
                "encrypt",
                "drop-data",
                "extra-data",
            ]
        )
        if not members:
            break
        m = draw.choice(members)
        if op == "header":
            descr, shape = draw.choice(_DESCRS), draw.choice(_SHAPES)
            fortran = draw.choice(["False", "True", "0", "'x'"])
            header = draw.choice(
                [
                    f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}",
                    f"{{'descr': {descr}, 'shape': {shape}}}",
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (20,), 'extra': 1}",
                    "[1, 2, 3]",
                    "{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': ()}",
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "(" * 200 + ")" * 200 + ")}",
                ]
            )
            size = draw.choice([0, 8, 80, 640, 1280, 5120])
            m.payload = raw_npy(header, bytes(size))
        elif op == "duplicate":
            members.append(Member(m.name, draw.choice([m.payload, npy_bytes(np.zeros(3))])))
        elif op == "nul":
            m.name = m.name[:-4] + "\x00.npy" if draw.boolean() else m.name + "\x00x"
        elif op == "separator":
            m.name = draw.choice(["a/", "../", "dir\\"]) + m.name
        elif op == "directory":
            members.append(Member(draw.choice(["sub/", "diffraction.npy/"]), b""))
        elif op == "foreign":
            members.append(Member(draw.choice(["README.txt", "x.npy.txt", ".npy"]), b"notes"))
        elif op == "compress":
            m.compress = not m.compress
        elif op == "encrypt":
            m.flag_bits |= 0x1
        elif op == "drop-data":
            m.payload = m.payload[: max(10, len(m.payload) - draw.integer(1, 64))]
        else:
            m.payload = m.payload + bytes(draw.integer(1, 64))
    return members


def write_zip(path: str, members: list[Member]) -> None:
    """Write members verbatim; names with a NUL are patched into the bytes afterwards."""
    patches = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        with zipfile.ZipFile(path, "w") as zf:
            for i, m in enumerate(members):
                name = m.name
                if "\x00" in name:
                    placeholder = ("~" * len(name))[:-3] + f"{i:03d}"
                    patches.append((placeholder.encode(), name.encode("latin-1")))
                    name = placeholder
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED if m.compress else zipfile.ZIP_STORED
                zf.writestr(info, m.payload)
                info.flag_bits |= m.flag_bits
    if patches:
        with open(path, "rb") as fh:
            blob = fh.read()
        for old, new in patches:
            blob = blob.replace(old, new)
        with open(path, "wb") as fh:
            fh.write(blob)


def write_mutated_npz(draw: Draw, path: str, arrays: dict[str, np.ndarray]) -> None:
    """An NPZ of ``arrays`` after array-, member- and byte-level mutations."""
    members = mutate_members(draw, members_of(mutate_arrays(draw, arrays)))
    write_zip(path, members)
    if draw.integer(0, 4) == 0:
        with open(path, "rb") as fh:
            blob = fh.read()
        with open(path, "wb") as fh:
            fh.write(damage_bytes(draw, blob))


# -- CXI ------------------------------------------------------------------------------

_CXI_DATASETS = [
    cxi_files.FRAMES,
    cxi_files.TRANSLATION,
    f"{cxi_files.DETECTOR}/distance",
    f"{cxi_files.DETECTOR}/x_pixel_size",
    f"{cxi_files.DETECTOR}/y_pixel_size",
    f"{cxi_files.SOURCE}/energy",
    f"{cxi_files.SOURCE}/probe",
    f"{cxi_files.DETECTOR}/mask",
    f"{cxi_files.DETECTOR}/basis_vectors",
    "entry_1/data_1/data",
    f"{cxi_files.SOURCE}/wavelength",
]


def _cxi_value(draw: Draw, current: np.ndarray | None) -> np.ndarray:
    kind = draw.choice(
        [
            "structured",
            "string",
            "complex",
            "nonfinite",
            "huge",
            "negative",
            "zeros",
            "empty",
            "scalar",
            "shape",
            "bool",
            "int",
        ]
    )
    base = np.ones((N_SCAN, 3)) if current is None else np.asarray(current)
    if kind == "structured":
        out = np.zeros(base.shape, [("a", "f4"), ("b", "f4")])
        return out
    if kind == "string":
        return np.array([b"abc"] * max(1, base.size))[: max(1, base.size)].reshape(base.shape or (1,))
    if kind == "complex":
        return base.astype(np.complex64)
    if kind == "nonfinite":
        out = base.astype(np.float64)
        out.reshape(-1)[: max(1, out.size // 2)] = draw.choice([np.nan, np.inf, -np.inf])
        return out
    if kind == "huge":
        return np.full(base.shape, draw.choice([1e301, -1e301, 1e38, 1.7e308]))
    if kind == "negative":
        return -np.abs(base.astype(np.float64)) - 1
    if kind == "zeros":
        return np.zeros(base.shape, base.dtype if base.dtype.kind in "biuf" else np.float64)
    if kind == "empty":
        return np.zeros((0,) + base.shape[1:])
    if kind == "scalar":
        return np.asarray(draw.choice([0.0, 1.0, -1.0, np.nan, 1e301]))
    if kind == "bool":
        return np.ones(base.shape, bool)
    if kind == "int":
        return np.ones(base.shape, np.int64) * draw.choice([0, 1, 2**40, -7])
    return np.ones(draw.choice([(2, 2), (N_SCAN, 2), (1, SIDE, SIDE), (SIDE,), (3, 4, 5, 6)]))


def _numbers(current: Any) -> np.ndarray:
    """``current`` as float64 when it is real numbers with at least one axis, else stand-in ones."""
    arr = np.asarray(current) if current is not None else None
    if arr is None or arr.dtype.kind not in "biuf" or arr.ndim == 0 or arr.size == 0:
        return np.ones((N_SCAN, 3))
    return arr.astype(np.float64)


def mutate_cxi(draw: Draw, path: str, folder: str) -> None:
    """HDF5-level mutations of the CXI file at ``path`` (a copy)."""
    for _ in range(draw.integer(1, 2)):
        op = draw.choice(
            [
                "replace",
                "replace",
                "delete",
                "units",
                "loop",
                "dangling",
                "external",
                "virtual",
                "raw-storage",
                "filter",
                "group",
            ]
        )
        target = draw.choice(_CXI_DATASETS)
        # An edit that the file as already mutated does not allow (a path behind a loop) is skipped.
        with contextlib.suppress(KeyError, RuntimeError, OSError, ValueError, TypeError), h5py.File(path, "a") as f:
            current = None
            with contextlib.suppress(Exception):
                obj = f.get(target)
                if isinstance(obj, h5py.Dataset) and obj.size <= 10**5:
                    current = obj[()]
            if op in ("replace", "delete", "loop", "dangling", "external", "virtual", "raw-storage", "group"):
                with contextlib.suppress(KeyError):
                    del f[target]
            if op == "replace":
                f[target] = _cxi_value(draw, current)
            elif op == "units":
                with contextlib.suppress(KeyError, TypeError):
                    f[target].attrs["units"] = draw.choice(
                        ["furlongs", "", "mm", np.array([b"m", b"mm"]), 3, b"\xff\xfe", "eV"]
                    )
            elif op == "loop":
                other = target + "_twin"
                f[target] = h5py.SoftLink("/" + other)
                with contextlib.suppress(Exception):
                    f[other] = h5py.SoftLink("/" + target)
            elif op == "dangling":
                f[target] = h5py.SoftLink("/nowhere/" + target)
            elif op == "external":
                other = os.path.join(folder, "other.h5")
                if draw.boolean() and not os.path.exists(other):
                    with h5py.File(other, "w") as g:
                        g["d"] = current if current is not None else np.ones((N_SCAN, 3))
                f[target] = h5py.ExternalLink(draw.choice(["other.h5", other, "missing.h5"]), "/d")
            elif op == "virtual":
                src = _numbers(current)
                name = draw.choice(["part.h5", "missing-part.h5"])
                if name == "part.h5":
                    fd, part = tempfile.mkstemp(prefix="part-", suffix=".h5", dir=folder)
                    os.close(fd)
                    name = os.path.basename(part)
                    with h5py.File(os.path.join(folder, name), "w") as g:
                        g["d"] = src
                layout = h5py.VirtualLayout(shape=src.shape, dtype=src.dtype)
                layout[...] = h5py.VirtualSource(name, "d", shape=src.shape)
                f.create_virtual_dataset(target, layout, fillvalue=0)
            elif op == "raw-storage":
                src = _numbers(current)
                raw = os.path.join(folder, "raw.bin")
                if draw.boolean():
                    src.astype("<f8").tofile(raw)
                f.create_dataset(target, shape=src.shape, dtype="<f8", external=[("raw.bin", 0, max(1, src.nbytes))])
            elif op == "filter" and current is not None and np.asarray(current).ndim >= 1:
                with contextlib.suppress(KeyError):
                    del f[target]
                data = np.asarray(current)
                if data.dtype.kind not in "biuf":
                    data = np.ones(data.shape)
                f.create_dataset(target, data=data, compression="lzf", chunks=True)
            elif op == "group":
                f.create_group(target)
        if op == "filter":
            with open(path, "rb") as fh:
                blob = bytearray(fh.read())
            at = blob.find(b"lzf\x00")
            if at >= 8:
                blob[at - 8 : at - 6] = struct.pack("<H", 32099)  # a filter id nobody registers
                with open(path, "wb") as fh:
                    fh.write(bytes(blob))
    if draw.integer(0, 5) == 0:
        with open(path, "rb") as fh:
            blob = fh.read()
        with open(path, "wb") as fh:
            fh.write(damage_bytes(draw, blob))


# -- examples ------------------------------------------------------------------------------


@dataclass
class Example:
    """One command on one mutated input."""

    kind: str
    argv: list[str]
    wants_json: bool
    fault: str | None = None
    notes: list[str] = field(default_factory=list)


KINDS = ("source", "fixture", "sidecar", "contract", "cxi", "dumps")


def build_example(draw: Draw, base: Base, folder: str, kind: str | None = None) -> Example:
    """Write one mutated input into ``folder`` and choose the command that reads it."""
    kind = kind or draw.choice(KINDS)
    out = os.path.join(folder, "out.npz")
    source = os.path.join(folder, "source.npz")
    fixture = os.path.join(folder, "fixture.npz")
    sidecar = os.path.join(folder, "fixture.json")
    if kind in ("fixture", "sidecar"):
        shutil.copy(base.source, source)
        shutil.copy(base.notes, os.path.join(folder, "fixture.md"))
    if kind == "source":
        write_mutated_npz(draw, source, base.arrays)
        shutil.copy(base.fixture, fixture)
        shutil.copy(base.sidecar, sidecar)
        argv = draw.choice(
            [
                ["validate", source],
                ["validate", source, "--json"],
                ["fixture", "make", "--source", source, "--output", out, "--subset-size", SUBSET],
                [
                    "fixture",
                    "make",
                    "--source",
                    source,
                    "--output",
                    out,
                    "--subset-size",
                    SUBSET,
                    "--json",
                    "--source-hash",
                    "full",
                ],
                ["coverage", source, "--json"],
                ["coverage", source],
                ["coverage", source, "--compare-strategies", "--subset-size", SUBSET, "--json"],
                ["fixture", "verify", fixture, "--source", source, "--json"],
                ["coverage", source, "--subset", fixture, "--json"],
                ["torch-check", source],
                ["validate", source, "--contract", "ptychopinn-tf", "--json"],
                ["validate", source, "--contract", "ptychopinn-torch", "--json"],
                ["fixture", "make", "--source", source, "--output", out, "--subset-size", SUBSET, "--compress"],
            ]
        )
    elif kind == "fixture":
        write_mutated_npz(draw, fixture, base.fixture_arrays)
        shutil.copy(base.sidecar, sidecar)
        argv = draw.choice(
            [
                ["fixture", "verify", fixture],
                ["fixture", "verify", fixture, "--json"],
                ["fixture", "verify", fixture, "--source", source],
                ["coverage", source, "--subset", fixture, "--json"],
                ["validate", fixture, "--json"],
            ]
        )
    elif kind == "sidecar":
        shutil.copy(base.fixture, fixture)
        with open(sidecar, "wb") as fh:
            fh.write(mutate_json(draw, base.sidecar_data))
        argv = draw.choice(
            [
                ["fixture", "verify", fixture],
                ["fixture", "verify", fixture, "--json"],
                ["fixture", "verify", fixture, "--source", source],
                ["coverage", source, "--indices-from", sidecar, "--json"],
                ["coverage", source, "--subset", fixture],
            ]
        )
    elif kind == "contract":
        contract = os.path.join(folder, "contract.json")
        with open(contract, "wb") as fh:
            fh.write(mutate_json(draw, draw.choice([base.contract_data, base.profile_data])))
        shutil.copy(base.source, source)
        argv = draw.choice(
            [
                ["contract", "show", contract],
                ["contract", "show", contract, "--format", "json"],
                ["validate", source, "--contract", contract, "--json"],
                [
                    "fixture",
                    "make",
                    "--source",
                    source,
                    "--output",
                    out,
                    "--subset-size",
                    SUBSET,
                    "--contract",
                    contract,
                ],
                ["gap", "--left", contract, "--format", "json"],
            ]
        )
    elif kind == "cxi":
        cxi = os.path.join(folder, "scan.cxi")
        shutil.copy(base.cxi, cxi)
        mutate_cxi(draw, cxi, folder)
        argv = draw.choice(
            [
                ["validate", cxi],
                ["validate", cxi, "--json"],
                ["fixture", "make", "--source", cxi, "--output", out, "--subset-size", SUBSET],
                ["coverage", cxi, "--json"],
                ["convert", cxi, out, "--object-shape", "64x64"],
                ["validate", cxi, "--geometry", "near-field", "--sample-pixel-size", "1e-8", "--json"],
                ["coverage", cxi, "--geometry", "near-field", "--sample-pixel-size", "1e-8", "--json"],
            ]
        )
        if draw.integer(0, 2) == 0:
            argv = ["--allow-external-links", *argv]
    else:
        left, right = os.path.join(folder, "tf.npz"), os.path.join(folder, "torch.npz")
        tf, torch = base.dumps
        if draw.boolean():
            write_mutated_npz(draw, left, tf)
            np.savez(right, **torch)
        else:
            np.savez(left, **tf)
            write_mutated_npz(draw, right, torch)
        argv = ["gap", "--left-dump", left, "--right-dump", right]
        argv += draw.choice(
            [[], ["--format", "json"], ["--format", "csv"], ["--output", os.path.join(folder, "m.json")]]
        )
    budget = draw.choice([None, None, None, None, "4K", "64K", "1M"])
    if budget:
        argv = ["--memory-budget", budget, *argv]
    writes = any(a in argv for a in ("make", "convert", "--output"))
    fault = "enospc" if writes and draw.integer(0, 7) == 0 else None
    wants_json = "--json" in argv or ("--format" in argv and argv[argv.index("--format") + 1] == "json")
    return Example(kind, argv, wants_json, fault)


@contextlib.contextmanager
def _fault(name: str | None) -> Iterator[None]:
    """Inject ``name``: ``enospc`` makes every fsync fail as on a full disk."""
    if name != "enospc":
        yield
        return
    real = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    os.fsync = full
    try:
        yield
    finally:
        os.fsync = real


def run_cli(argv: list[str], fault: str | None = None) -> tuple[int, str, str]:
    """Run the command line in this process; return (exit code, stdout, stderr)."""
    from ptyevidence import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("always")  # as a user's shell would show them (the suite's filter says error)
        with _fault(fault):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def check_property(example: Example, code: int, stdout: str, stderr: str) -> list[str]:
    """Return what the run broke of the property (empty: it held)."""
    problems = []
    if code not in (0, 1, 2):
        problems.append(f"exit {code}")
    if "Traceback" in stdout + stderr:
        problems.append("traceback")
    lines = [line for line in stderr.splitlines() if line.strip()]
    if len(lines) > 1:
        problems.append(f"{len(lines)} lines on stderr")
    if lines and not lines[0].startswith("ptyevidence"):
        problems.append("stderr line not from ptyevidence")
    if "Warning" in stderr or "warning:" in stderr.lower().split("error:")[0]:
        problems.append("warning on stderr")
    if example.wants_json and code in (0, 1) and stdout:
        try:
            json.loads(stdout, parse_constant=_refuse_constant)
        except ValueError as exc:
            problems.append(f"stdout is not strict JSON ({exc})")
    return problems


def _refuse_constant(name: str) -> None:
    msg = f"non-standard JSON constant {name}"
    raise ValueError(msg)


def run_example(draw: Draw, base: Base, kind: str | None = None) -> tuple[Example, int, str, str, list[str]]:
    """Build and run one example in a scratch folder; return it, its result and the problems."""
    folder = tempfile.mkdtemp(prefix="fuzz-", dir=base.folder)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # building hostile values (casts that overflow) on purpose
            example = build_example(draw, base, folder, kind)
        code, stdout, stderr = run_cli(example.argv, example.fault)
        return example, code, stdout, stderr, check_property(example, code, stdout, stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def describe(example: Example, code: int, stderr: str, problems: list[str]) -> str:
    """One paragraph for a failure report."""
    args = " ".join(a if len(a) < 80 else a[:40] + "..." for a in example.argv)
    return (
        f"[{example.kind}{'/' + example.fault if example.fault else ''}] ptyevidence {args}\n"
        f"  exit {code}: {'; '.join(problems)}\n  stderr: {stderr.strip()[:400]}"
    )
