"""The record of a fixture: JSON sidecar, content digests and Markdown notes.

The sidecar is the machine-readable record written by ``fixture make`` and
read by ``fixture verify``; the notes are rendered from the sidecar alone, so
the two can never disagree. Only the sidecar's ``created`` field depends on
the clock; the notes leave it out and are byte-identical across runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._markdown import markdown_table
from ._progress import progress_bar
from .exceptions import InputError

__all__ = [
    "OBJECT_MIN_SIDE",
    "REQUIRED_FIELDS",
    "SIDECAR_VERSION",
    "content_digest",
    "default_metadata_path",
    "default_notes_path",
    "file_fingerprint",
    "file_sha256",
    "fixture_notes_markdown",
    "read_sidecar",
    "sidecar_json",
]

#: Version of the sidecar layout; bump when a field changes meaning.
SIDECAR_VERSION = 1
#: Fields ``fixture verify`` cannot work without.
REQUIRED_FIELDS = (
    "version", "subset_size", "indices", "sha256_checksum", "content_digests",
    "coverage", "contract",
)
#: Smallest object side the reference acceptance criteria accept, in object pixels.
OBJECT_MIN_SIDE = 128
#: Diffraction amplitudes must stay below this (DATA-001 "normalized amplitude").
AMPLITUDE_MAX = 10.0
#: Default coverage criterion: subset x and y range > this fraction of the source's.
RANGE_RATIO_MIN = 0.5
#: Indices listed in full in the notes up to this many; beyond, head and tail only.
_NOTES_MAX_LISTED = 512
_HASH_BLOCK = 8 * 2**20
#: Bytes hashed at each end of a non-zip file for its fingerprint.
_FINGERPRINT_SPAN = 2**20
# A list of numbers spread over lines by json.dumps(indent=...); JSON strings
# cannot hold a raw newline, so text inside strings never matches.
_NUMBER_LIST = re.compile(r"\[\n\s*(-?[0-9.eE+-]+(?:,\n\s*-?[0-9.eE+-]+)*)\n\s*\]")


def default_metadata_path(output: str | os.PathLike) -> str:
    """Return the sidecar path of fixture ``output``: same name, ``.json`` suffix."""
    return os.path.splitext(os.fspath(output))[0] + ".json"


def default_notes_path(output: str | os.PathLike) -> str:
    """Return the notes path of fixture ``output``: same name, ``.md`` suffix."""
    return os.path.splitext(os.fspath(output))[0] + ".md"


def file_sha256(
    path: str | os.PathLike,
    progress: bool | None = None,
    on_block: Callable[[int, bytes], None] | None = None,
) -> str:
    """Return the SHA-256 hex digest of a file, read in bounded blocks.

    Parameters
    ----------
    path : str or path
        File to hash.
    progress : bool or None
        Show a progress bar (None: on a terminal, for passes over a second).
    on_block : callable, optional
        ``on_block(offset, block)`` is called with each block read, so
        another check can share the pass (e.g. zip CRCs).

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh, progress_bar(
        os.path.getsize(path), f"sha256 {os.path.basename(path)}", progress
    ) as bar:
        offset = 0
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
            if on_block is not None:
                on_block(offset, block)
            offset += len(block)
            bar.update(len(block))
    return digest.hexdigest()


def file_fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Return a cheap identity of a file: its size and a SHA-256 of a few of its bytes.

    For a zip archive (NPZ) the bytes are the central directory and end
    records, which hold every member's name, offset, size and CRC-32, so
    rewriting any member's data changes the fingerprint. For other files
    (CXI/HDF5) they are the first and last MiB. Reading costs a few seeks,
    not a pass over the file; unlike a full SHA-256 it does not see bytes
    damaged in place (a zip member's stale CRC is only caught by a full read).

    Parameters
    ----------
    path : str or path
        File to fingerprint.

    Returns
    -------
    dict
        ``{"method": "zip-directory" | "head-tail", "bytes": size, "sha256": hex}``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(path, a=np.arange(3))
    >>> fp = file_fingerprint(path)
    >>> fp["method"], fp["bytes"] == os.path.getsize(path), len(fp["sha256"])
    ('zip-directory', True, 64)
    """
    size = os.path.getsize(path)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        start = _zip_directory_start(fh)
        if start is not None:
            method, spans = "zip-directory", [(start, size - start)]
        else:
            head = min(size, _FINGERPRINT_SPAN)
            tail_start = max(head, size - _FINGERPRINT_SPAN)
            method, spans = "head-tail", [(0, head), (tail_start, size - tail_start)]
        for offset, length in spans:
            fh.seek(offset)
            while length > 0 and (block := fh.read(min(length, _HASH_BLOCK))):
                digest.update(block)
                length -= len(block)
    return {"method": method, "bytes": size, "sha256": digest.hexdigest()}


def _zip_directory_start(fh: Any) -> int | None:
    """Offset of a zip archive's central directory, or None for a file that is not a zip."""
    import zipfile

    try:
        with zipfile.ZipFile(fh) as archive:
            return int(archive.start_dir)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None


def content_digest(array: np.ndarray) -> str:
    """Return the SHA-256 of an array's dtype, shape and values.

    The digest covers ``"<dtype>;<shape>;"`` (little-endian dtype string,
    comma-separated shape) followed by the values as little-endian C-order
    bytes. Unlike the file hash, it does not depend on how the NPZ was
    zipped, so it is stable across numpy and zlib versions and tells which
    key changed.

    Parameters
    ----------
    array : numpy.ndarray
        Any numeric array.

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6, dtype="<f4").reshape(2, 3)
    >>> content_digest(a) == content_digest(np.asfortranarray(a).astype(">f4"))
    True
    >>> content_digest(a) == content_digest(a.reshape(3, 2))
    False
    """
    arr = np.asarray(array)
    little = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    header = f"{little.dtype.str};{','.join(str(s) for s in arr.shape)};"
    digest = hashlib.sha256(header.encode("ascii"))
    digest.update(little.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def sidecar_json(sidecar: Mapping[str, Any]) -> str:
    """Return the sidecar as indented JSON text, lists of numbers on one line.

    Examples
    --------
    >>> print(sidecar_json({"indices": [0, 16], "keys": {"x": {"shape": [64]}}}), end="")
    {
      "indices": [0, 16],
      "keys": {
        "x": {
          "shape": [64]
        }
      }
    }
    """
    text = json.dumps(sidecar, indent=2, allow_nan=False)
    # Index lists can hold thousands of entries: one line each would bury the rest.
    return _NUMBER_LIST.sub(lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]", text) + "\n"


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """Read a fixture sidecar and check it has the fields verification needs.

    Parameters
    ----------
    path : str or path
        The JSON sidecar written by ``fixture make``.

    Returns
    -------
    dict
        The sidecar.

    Raises
    ------
    InputError
        If the file is missing, not JSON, lacks a required field or holds a
        field of the wrong type.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        msg = f"sidecar '{path}' does not exist; pass --metadata with the fixture's JSON sidecar"
        raise InputError(msg, path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = f"sidecar '{path}' is not valid JSON ({exc}); it was damaged or is not a sidecar"
        raise InputError(msg, path) from None
    if not isinstance(data, dict):
        msg = f"sidecar '{path}' holds a JSON {type(data).__name__}; expected an object"
        raise InputError(msg, path)
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        msg = (
            f"sidecar '{path}' lacks required field(s) {', '.join(repr(m) for m in missing)}; "
            "it is incomplete or was not written by 'ptyevidence fixture make'"
        )
        raise InputError(msg, path)
    _check_types(data, path)
    return data


def _check_types(data: dict[str, Any], path: str) -> None:
    def fail(name: str, expected: str) -> None:
        msg = f"sidecar '{path}': field '{name}' is {data[name]!r:.60}; expected {expected}"
        raise InputError(msg, path)

    if not _is_int(data["version"]) or not 1 <= data["version"] <= SIDECAR_VERSION:
        fail("version", f"1 to {SIDECAR_VERSION} (a newer ptyevidence wrote it? upgrade to read it)")
    if not _is_int(data["subset_size"]):
        fail("subset_size", "an integer")
    indices = data["indices"]
    if not isinstance(indices, list) or not all(_is_int(i) for i in indices):
        fail("indices", "a list of integers")
    if not isinstance(data["sha256_checksum"], str):
        fail("sha256_checksum", "a hex string")
    digests = data["content_digests"]
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        fail("content_digests", "an object mapping keys to hex strings")
    if not isinstance(data["coverage"], dict):
        fail("coverage", "an object of coverage metrics")
    contract = data["contract"]
    if not isinstance(contract, dict) or not isinstance(contract.get("name"), str):
        fail("contract", "an object with 'name' and 'verdict'")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# -- notes ---------------------------------------------------------------------


def fixture_notes_markdown(sidecar: Mapping[str, Any]) -> str:
    """Render the fixture notes reviewers read, from the sidecar alone.

    Sections: acceptance properties (value, criterion, PASS/FAIL), NPZ keys,
    sampling, transformations, coverage, regeneration command, checksums,
    sizes. The ``created`` timestamp is left out so the notes are
    deterministic.

    Parameters
    ----------
    sidecar : mapping
        As written by ``fixture make``.

    Returns
    -------
    str
        Markdown text.
    """
    from ._contract import load_contract

    contract = load_contract(sidecar["contract"]["name"])
    purposes = {f.name: f.description for f in contract.fields}
    purposes["diff3d"] = "Copy of `diffraction` under the legacy key, for older readers (--legacy-alias)"
    out = [
        f"# Fixture notes: `{sidecar['fixture']}`",
        "",
        (f"Cut from `{sidecar['source_dataset']}` by {sidecar['tool']} {sidecar['tool_version']} "
        f"(numpy {sidecar['numpy_version']}). Generated from the same record as the sidecar; "
        "do not edit by hand, regenerate instead."),
        "",
        "## Properties",
        "",
        markdown_table(["Property", "Value", "Criterion", "Result"], _property_rows(sidecar, contract)),
        "",
        "## NPZ keys",
        "",
        markdown_table(
            ["Key", "Shape", "dtype", "Purpose"],
            [
                [f"`{key}`", _shape_text(spec["shape"]), spec["dtype"], purposes.get(key, "-")]
                for key, spec in sidecar["keys"].items()
            ],
        ),
        "",
        "## Sampling",
        "",
        *_sampling_lines(sidecar),
        "",
        "## Transformations",
        "",
        *[f"- {line}" for line in sidecar["transformations"]],
        "",
        "## Coverage",
        "",
        markdown_table(["Metric", "Value"], [[f"`{k}`", _fmt(v)] for k, v in sidecar["coverage"].items()]),
        "",
        "## Regeneration",
        "",
        "```bash",
        sidecar["regenerate"],
        "```",
        "",
        "## Checksums",
        "",
        f"File SHA-256: `{sidecar['sha256_checksum']}`",
        "",
        *_source_identity_lines(sidecar),
        ("Content digests (SHA-256 of dtype, shape and little-endian C-order values; "
        "stable across numpy/zlib versions):"),
        "",
        markdown_table(["Key", "SHA-256"], [[f"`{k}`", f"`{v}`"] for k, v in sidecar["content_digests"].items()]),
        "",
        "## Size",
        "",
        *_size_lines(sidecar),
    ]
    return "\n".join(out).rstrip() + "\n"


def _source_identity_lines(sidecar: Mapping[str, Any]) -> list[str]:
    """Source SHA-256 (or why it was not computed) and the source fingerprint."""
    sha = sidecar.get("source_sha256")
    if sha:
        lines = [f"Source SHA-256: `{sha}`", ""]
    else:
        mode = sidecar.get("source_hash", "none")
        why = (
            f"hashing and CRC-checking the source means processing more than the "
            f"{_size_text(sidecar.get('full_hash_limit'))} limit of `--source-hash auto`; "
            "`--source-hash full` hashes it"
            if mode == "auto" else "`--source-hash none`"
        )
        lines = [f"Source SHA-256: not computed ({why})", ""]
    fp = sidecar.get("source_fingerprint")
    if isinstance(fp, Mapping):
        what = ("the zip central directory, which lists every member's name, size and CRC-32"
                if fp.get("method") == "zip-directory" else "the first and last MiB")
        lines += [(f"Source fingerprint: `{fp.get('sha256')}`, SHA-256 of {what} "
                  f"(source: {fp.get('bytes')} bytes)"), ""]
    return lines


def _size_text(nbytes: Any) -> str:
    if not isinstance(nbytes, int) or nbytes <= 0:
        return "size"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale and nbytes % scale == 0:
            return f"{nbytes // scale} {unit}"
    return f"{nbytes} byte"


def _dtype_from_name(name: str) -> np.dtype:
    """Invert ``numpy.dtype.name``; text names (``str1984``) give their bit width."""
    if name.startswith("str") and name[3:].isdigit():
        return np.dtype(f"U{int(name[3:]) // 32}")
    return np.dtype(name)


def _property_rows(sidecar: Mapping[str, Any], contract: Any) -> list[list[str]]:
    keys = sidecar["keys"]
    n = sidecar["subset_size"]
    n_rows = keys.get("diffraction", {}).get("shape", [None])[0]
    rows = [[
        "Positions N", f"{n_rows} of {sidecar['source_positions']}",
        f"= subset size {n}, >= 16", _verdict(n_rows == n and n >= 16),
    ]]
    frames = keys.get("diffraction", {}).get("shape", [None, None, None])[1:]
    source_frames = sidecar.get("source_frame_shape")
    rows.append([
        "Frame size H x W", _size(frames), f"= source frames {_size(source_frames)}",
        _verdict(list(frames) == list(source_frames or [])),
    ])
    for key, spec in keys.items():
        field = contract.field_named(key)
        if field is not None and field.dtypes:
            accepted = field.dtype_severity(_dtype_from_name(spec["dtype"])) is None
            rows.append([f"dtype `{key}`", spec["dtype"], " or ".join(field.dtypes), _verdict(accepted)])
    obj = keys.get("objectGuess", {}).get("shape")
    rows.append([
        "Object size", _size(obj) if obj else "absent", f"both sides >= {OBJECT_MIN_SIDE}",
        _verdict(bool(obj) and min(obj) >= OBJECT_MIN_SIDE),
    ])
    probe = keys.get("probeGuess", {}).get("shape")
    rows.append([
        "Probe matches frames", _size(probe) if probe else "absent", f"= frames {_size(frames)}",
        _verdict(bool(probe) and list(probe) == list(frames)),
    ])
    stats = sidecar.get("stats", {}).get("diffraction", {})
    hi, lo = stats.get("max"), stats.get("min")
    rows.append(["Max amplitude", _fmt(hi), f"< {AMPLITUDE_MAX:g}", _verdict(hi is not None and hi < AMPLITUDE_MAX)])
    rows.append(["Min amplitude", _fmt(lo), ">= 0", _verdict(lo is not None and lo >= 0)])
    coverage = sidecar["coverage"]
    for axis in ("x", "y"):
        ratio = coverage.get(f"{axis}_range_ratio")
        rows.append([
            f"{axis} range coverage", _fmt(ratio), f"> {RANGE_RATIO_MIN:g} of source range",
            _verdict(ratio is not None and ratio > RANGE_RATIO_MIN),
        ])
    verdict = sidecar["contract"].get("verdict")
    rows.append([f"Contract `{sidecar['contract']['name']}`", str(verdict), "PASS", _verdict(verdict == "PASS")])
    return rows


def _sampling_lines(sidecar: Mapping[str, Any]) -> list[str]:
    idx = np.asarray(sidecar["indices"], dtype=np.int64)
    seed_note = " (seed of the start position)" if sidecar["subset_strategy"] == "farthest-point" else " (unused by this strategy)"
    lines = [
        (f"Strategy `{sidecar['subset_strategy']}`, seed {sidecar['seed']}{seed_note}: "
        f"{idx.size} of {sidecar['source_positions']} source positions "
        f"({100 * idx.size / sidecar['source_positions']:.1f}%)."),
    ]
    if idx.size:
        steps = np.diff(np.sort(idx))
        spacing = (
            f"; steps between consecutive indices: min {steps.min()}, median {np.median(steps):g}, max {steps.max()}"
            if steps.size else ""
        )
        lines += ["", (f"Indices from {idx.min()} to {idx.max()}{spacing}. Row i of every per-scan "
                  "array is source position `indices[i]`:"), "", "```"]
        shown = idx if idx.size <= _NOTES_MAX_LISTED else np.r_[idx[:32], idx[-32:]]
        text = [str(int(i)) for i in shown]
        if idx.size > _NOTES_MAX_LISTED:
            text.insert(32, f"... ({idx.size - 64} more; all in the sidecar) ...")
        lines += [" ".join(text[k : k + 16]) for k in range(0, len(text), 16)]
        lines.append("```")
    return lines


def _size_lines(sidecar: Mapping[str, Any]) -> list[str]:
    src, fix = sidecar.get("source_size"), sidecar.get("fixture_size")
    if not src or not fix:
        return ["-"]
    return [markdown_table(
        ["File", "Bytes", "MiB"],
        [["source", src, f"{src / 2**20:.2f}"], ["fixture", fix, f"{fix / 2**20:.2f}"],
         ["ratio fixture/source", f"{fix / src:.4f}", f"1 : {src / fix:.1f}"]],
    )]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _size(shape: Sequence[int] | None) -> str:
    return " x ".join(str(s) for s in shape) if shape else "-"


def _shape_text(shape: Sequence[int]) -> str:
    inner = ", ".join(str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
