"""Compare two datasets or fixtures key by key, streaming both files (:func:`diff_datasets`).

Values are read in bounded blocks from both files at once, so two multi-GB
scans are compared in O(block) memory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from .._digest import content_digest
from .._format import markdown_table, number_text, shape_text, text_table
from .._memory import check_budget
from .._progress import progress_bar
from ..exceptions import InputError, UsageError
from ..readers.base import Source
from ..readers.layout import canonical_shape, read_frames, source_layout
from ..readers.metadata import read_metadata_member
from ..readers.registry import open_source
from .streaming import BackgroundDigest, StreamDigest, aligned_blocks, member_digest
from .values import ValueDifferences, comparable

__all__ = ["ArraySide", "DatasetDiff", "KeyDiff", "MetadataChange", "diff_datasets", "flatten_record"]

#: Keys that may hold a diffraction stack in either (N, H, W) or (H, W, N) order.
STACK_KEYS = ("diffraction", "diff3d")
#: Key statuses that count as "no difference".
SAME_STATUSES = ("same", "close")


@dataclass(frozen=True)
class ArraySide:
    """What one file holds under a key.

    Attributes
    ----------
    dtype : str
        numpy name in native byte order (``float32``).
    shape : tuple of int
        Stored shape.
    order : {"C", "F"}
        Storage order.
    byteorder : {"little", "big", "-"}
        Stored byte order (``-`` for single-byte dtypes).
    compressed : bool
        Whether the member is compressed.
    digest : str or None
        :func:`ptyevidence.fixture.content_digest` of the values.
    """

    dtype: str
    shape: tuple[int, ...]
    order: str
    byteorder: str
    compressed: bool
    digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the side as JSON-ready data."""
        return {**asdict(self), "shape": list(self.shape)}

    def label(self) -> str:
        """Return ``dtype (shape)``, e.g. ``float32 (20, 8, 8)``."""
        return f"{self.dtype} {shape_text(self.shape)}"


@dataclass
class KeyDiff:
    """How one key differs between the two files.

    Attributes
    ----------
    key : str
    status : {"same", "close", "changed", "added", "removed"}
        ``close``: the values agree within the tolerance but the content
        digests differ.
    a, b : ArraySide or None
        The key in A and B (None where absent).
    changes : list of str
        Differences that make the files differ (shape, dtype, layout, values).
    notes : list of str
        Storage differences that leave the content alone (byte order,
        storage order, compression).
    values : ValueDifferences or None
        Value comparison, when the two arrays could be compared.
    """

    key: str
    status: str
    a: ArraySide | None = None
    b: ArraySide | None = None
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    values: ValueDifferences | None = None

    @property
    def same(self) -> bool:
        """True for ``same`` and ``close``."""
        return self.status in SAME_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Return the key's comparison as JSON-ready data."""
        v = self.values
        return {
            **asdict(self),
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
            "values": None
            if v is None
            else {
                "rows": v.n_rows,
                "differing_rows": v.rows,
                "first_differing_row": v.first_row,
                "differing_values": v.values,
                "max_abs": v.max_abs,
                "max_rel": v.max_rel,
                "nonfinite": v.nonfinite,
            },
        }

    def detail(self) -> str:
        """Return the changes (or the digest, when same) in one line."""
        parts = list(self.changes)
        v = self.values
        if v is not None and v.values:
            parts.append(_value_text(v))
        if not parts:
            side = self.b or self.a
            digest = side.digest if side else None
            parts.append(f"digest {digest[:16]}" if digest else "equal")
        return "; ".join(parts + self.notes)


@dataclass(frozen=True)
class MetadataChange:
    """One entry of the embedded metadata that differs (dotted path, A's value, B's value)."""

    path: str
    a: Any
    b: Any

    def text(self) -> str:
        """Return ``path: A -> B`` with long values cut."""
        return f"{self.path}: {_short(self.a)} -> {_short(self.b)}"


@dataclass
class DatasetDiff:
    """Result of :func:`diff_datasets`.

    Attributes
    ----------
    a, b : str
        The two files.
    formats : tuple of str
        Reader of each file (``npz``, ``cxi``).
    rtol, atol : float
        Tolerances the values were compared with.
    keys : list of KeyDiff
        In A's key order, then B's new keys.
    positions : dict or None
        Scan-position comparison: ``compared``, ``moved``, ``first_moved``,
        ``max_shift`` (object pixels); None when not comparable.
    metadata : list of MetadataChange
    notes : list of str
        Differences of the files that are not differences of content.
    """

    a: str
    b: str
    formats: tuple[str, str]
    rtol: float = 0.0
    atol: float = 0.0
    keys: list[KeyDiff] = field(default_factory=list)
    positions: dict[str, Any] | None = None
    metadata: list[MetadataChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        """True when every key is the same (within the tolerance) and the metadata agree."""
        return all(k.same for k in self.keys) and not self.metadata

    def _counts(self) -> dict[str, int]:
        counts = {"same": 0, "close": 0, "changed": 0, "added": 0, "removed": 0}
        for k in self.keys:
            counts[k.status] += 1
        return counts

    @property
    def verdict(self) -> str:
        """One line: SAME or DIFFERENT, with counts."""
        c = self._counts()
        if self.same:
            within = f", {c['close']} within the tolerance" if c["close"] else ""
            return f"SAME: '{self.a}' and '{self.b}' hold the same {len(self.keys)} keys{within}"
        parts = [f"{c[s]} {s}" for s in ("changed", "added", "removed") if c[s]]
        if self.metadata:
            parts.append(f"{len(self.metadata)} metadata entries differ")
        return f"DIFFERENT: '{self.a}' vs '{self.b}': " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-ready data."""
        return {
            "a": self.a,
            "b": self.b,
            "formats": list(self.formats),
            "rtol": self.rtol,
            "atol": self.atol,
            "same": self.same,
            "verdict": self.verdict,
            "counts": self._counts(),
            "keys": [k.to_dict() for k in self.keys],
            "positions": self.positions,
            "metadata": [asdict(m) for m in self.metadata],
            "notes": list(self.notes),
        }

    def _rows(self, key: str) -> list[list[str]]:
        """One table row per key, the key written as ``key.format(name)``."""
        return [
            [key.format(k.key), k.status, k.a.label() if k.a else "-", k.b.label() if k.b else "-", k.detail()]
            for k in self.keys
        ]

    def _summary_lines(self) -> list[tuple[str, str]]:
        lines = []
        if self.positions is not None:
            lines.append(("positions", _positions_text(self.positions)))
        if self.metadata:
            shown = "; ".join(m.text() for m in self.metadata[:5])
            more = f"; ... ({len(self.metadata) - 5} more)" if len(self.metadata) > 5 else ""
            lines.append(("metadata", f"{len(self.metadata)} entries differ: {shown}{more}"))
        else:
            lines.append(("metadata", "same"))
        lines += [("note", n) for n in self.notes]
        return lines

    def to_text(self) -> str:
        """Return the key table, the positions, metadata and notes, and the verdict."""
        tol = "exact" if not (self.rtol or self.atol) else f"rtol {self.rtol:g}, atol {self.atol:g}"
        head = f"A {self.a} ({self.formats[0]})\nB {self.b} ({self.formats[1]})\ntolerance {tol}"
        table = text_table(["KEY", "STATUS", "A", "B", "DETAIL"], self._rows("{}"))
        summary = [f"{name:<9s} {text}" for name, text in self._summary_lines()]
        return "\n".join([head, "", table, "", *summary, self.verdict])

    def to_markdown(self) -> str:
        """Return the comparison as a Markdown table with the summary below."""
        table = markdown_table(["Key", "Status", "A", "B", "Detail"], self._rows("`{}`"))
        summary = [f"- {name}: {text}" for name, text in self._summary_lines()]
        return "\n".join([f"A `{self.a}`, B `{self.b}`", "", table, "", *summary, "", f"**{self.verdict}**"]) + "\n"


def diff_datasets(
    a: str | os.PathLike,
    b: str | os.PathLike,
    rtol: float = 0.0,
    atol: float = 0.0,
    progress: bool | None = None,
) -> DatasetDiff:
    """Compare two datasets or fixtures key by key.

    Reports keys added and removed; shape, dtype and stack-layout changes;
    the content digest of every key in each file; for arrays of one shape,
    the number of differing values and rows and the largest absolute and
    relative difference; scan positions that moved; and changed entries of
    the embedded metadata record. Differences of storage alone (member
    order, byte order, C or Fortran order, compression) are notes.

    Both files are read once, in bounded blocks and in step. Two cases read
    an array whole, within the memory budget: a stack stored (N, H, W) in one
    file and (H, W, N) in the other, and C order against Fortran order.

    Parameters
    ----------
    a, b : str or path
        The two files (NPZ, CXI, or any format with a registered reader).
    rtol, atol : float
        A value differs when ``|b - a| > atol + rtol * max(|a|, |b|)``;
        both 0 (default) asks for equality. NaN equals NaN.
    progress : bool or None
        Progress bar for the pass (None: on a terminal).

    Returns
    -------
    DatasetDiff
        ``.same`` tells whether the two hold the same data.

    Raises
    ------
    InputError
        If either file cannot be read (missing, corrupt, unknown format).
    UsageError
        For a negative or non-finite tolerance.
    MemoryBudgetError
        If one of the in-memory comparisons above would exceed the budget.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> x = np.arange(6.0)
    >>> np.savez(os.path.join(folder, "a.npz"), xcoords=x, ycoords=x)
    >>> x[4] += 0.25
    >>> np.savez(os.path.join(folder, "b.npz"), xcoords=x, ycoords=np.arange(6.0))
    >>> d = diff_datasets(os.path.join(folder, "a.npz"), os.path.join(folder, "b.npz"))
    >>> d.same, [(k.key, k.status) for k in d.keys]
    (False, [('xcoords', 'changed'), ('ycoords', 'same')])
    >>> d.positions["moved"], d.positions["max_shift"]
    (1, 0.25)
    """
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
            msg = f"{name} {value!r} must be a finite number >= 0"
            raise UsageError(msg)
    path_a, path_b = os.fspath(a), os.fspath(b)
    with open_source(path_a) as src_a, open_source(path_b) as src_b:
        result = DatasetDiff(path_a, path_b, (src_a.format, src_b.format), float(rtol), float(atol))
        keys_a, keys_b = list(src_a.keys()), list(src_b.keys())
        if sorted(keys_a) == sorted(keys_b) and keys_a != keys_b:
            result.notes.append("member order differs (content unaffected)")
        total = sum(src.info(k).nbytes for src, keys in ((src_a, keys_a), (src_b, keys_b)) for k in keys)
        with progress_bar(total, f"diff {os.path.basename(path_a)}", progress) as bar:
            for key in keys_a + [k for k in keys_b if k not in keys_a]:
                result.keys.append(_diff_key(src_a, src_b, key, result, bar))
        result.positions = _diff_positions(src_a, src_b, result.rtol, result.atol)
        result.metadata = _diff_metadata(src_a, src_b)
    return result


def _side(source: Any, key: str, digest: str | None) -> ArraySide:
    info = source.info(key)
    dtype = np.dtype(info.dtype)
    byteorder = {"<": "little", ">": "big", "=": sys.byteorder, "|": "-"}[dtype.byteorder]
    if dtype.names is not None:
        name = str(dtype)
    elif dtype.kind in "US":
        name = dtype.str.lstrip("<>|=")  # "U62", not numpy's "str1984" (bits)
    else:
        name = dtype.newbyteorder("=").name
    return ArraySide(
        name,
        tuple(int(s) for s in info.shape),
        "F" if info.fortran_order and len(info.shape) > 1 else "C",
        byteorder,
        info.compressed,
        digest,
    )


def _diff_key(src_a: Any, src_b: Any, key: str, result: DatasetDiff, bar: Any) -> KeyDiff:
    in_a, in_b = key in src_a, key in src_b
    if not (in_a and in_b):
        src = src_a if in_a else src_b
        side = _side(src, key, member_digest(src, key))
        bar.update(src.info(key).nbytes)
        return KeyDiff(key, "removed" if in_a else "added", side if in_a else None, None if in_a else side)
    a, b = _side(src_a, key, None), _side(src_b, key, None)
    out = KeyDiff(key, "same", a, b)
    if a.dtype != b.dtype:
        out.changes.append(f"dtype {a.dtype} -> {b.dtype}")
    out.notes += _storage_notes(a, b)
    info_a, info_b = src_a.info(key), src_b.info(key)
    digests = None
    if not comparable(info_a.dtype, info_b.dtype):
        out.changes.append("values not compared (text against numbers, or records)")
    elif a.shape == b.shape:
        digests = _compare_same_shape(src_a, src_b, key, a, b, out, result)
    elif not _compare_layouts(src_a, src_b, key, out, result):
        out.changes.insert(0, f"shape {shape_text(a.shape)} -> {shape_text(b.shape)}")
    if digests is None:
        digests = (member_digest(src_a, key), member_digest(src_b, key))
    out.a, out.b = replace(a, digest=digests[0]), replace(b, digest=digests[1])
    bar.update(info_a.nbytes + info_b.nbytes)
    if out.changes or (out.values is not None and out.values.values):
        out.status = "changed"
    elif digests[0] != digests[1]:
        out.status = "close"
    return out


def _storage_notes(a: ArraySide, b: ArraySide) -> list[str]:
    notes = []
    if a.order != b.order:
        notes.append(f"storage order {a.order} -> {b.order}")
    if "-" not in (a.byteorder, b.byteorder) and a.byteorder != b.byteorder:
        notes.append(f"byte order {a.byteorder} -> {b.byteorder}")
    if a.compressed != b.compressed:
        notes.append("compressed -> stored" if a.compressed else "stored -> compressed")
    return notes


def _compare_same_shape(
    src_a: Any, src_b: Any, key: str, a: ArraySide, b: ArraySide, out: KeyDiff, result: DatasetDiff
) -> tuple[str, str] | None:
    """Compare values of one shape; return both digests when this pass could compute them."""
    diffs = ValueDifferences(a.shape, a.order == b.order == "F", result.rtol, result.atol)
    if a.order != b.order:
        # C order on one side, Fortran on the other: element orders differ, so read both whole.
        nbytes = src_a.info(key).nbytes + src_b.info(key).nbytes
        check_budget(2 * nbytes, f"comparing '{key}' stored in C order in one file and Fortran in the other")
        x, y = src_a.read(key), src_b.read(key)
        out.values = _whole_differences(diffs, x, y)
        return content_digest(x), content_digest(y)
    pairs = aligned_blocks(src_a.iter_blocks(key), src_b.iter_blocks(key))
    if a.order == "F":
        for x, y in pairs:
            diffs.update(x, y)
        out.values = diffs.finish()
        return None
    dig_a = StreamDigest(src_a.info(key).dtype, a.shape)
    with BackgroundDigest(src_b.info(key).dtype, b.shape) as dig_b:
        for x, y in pairs:
            dig_b.update(y)
            dig_a.update(x)
            diffs.update(x, y)
        out.values = diffs.finish()
        return dig_a.hexdigest(), dig_b.hexdigest()


def _whole_differences(diffs: ValueDifferences, x: np.ndarray, y: np.ndarray) -> ValueDifferences:
    diffs.update(x.reshape(-1), y.reshape(-1))
    return diffs.finish()


def _compare_layouts(src_a: Any, src_b: Any, key: str, out: KeyDiff, result: DatasetDiff) -> bool:
    """Compare a stack stored (N, H, W) in one file and (H, W, N) in the other; False if not that."""
    if key not in STACK_KEYS:
        return False
    layouts = []
    for src in (src_a, src_b):
        shape = src.info(key).shape
        if len(shape) != 3:
            return False
        try:
            layouts.append(source_layout(src, key, _n_positions(src)))
        except InputError:
            return False  # ambiguous: only the shapes can be compared
    shapes = [canonical_shape(src.info(key).shape, lay) for src, lay in zip((src_a, src_b), layouts)]
    if layouts[0] == layouts[1] or shapes[0] != shapes[1]:
        return False
    nbytes = src_a.info(key).nbytes + src_b.info(key).nbytes
    # read_frames may hold a gathered copy beside the result.
    check_budget(2 * nbytes, f"comparing '{key}' frame by frame across layouts")
    n = shapes[0][0]
    frames = [read_frames(src, key, np.arange(n), lay) for src, lay in zip((src_a, src_b), layouts)]
    out.changes.append(
        f"layout {layouts[0]} -> {layouts[1]}: shape {shape_text(src_a.info(key).shape)} -> "
        f"{shape_text(src_b.info(key).shape)}, frames compared in (N, H, W) order"
    )
    out.values = _whole_differences(ValueDifferences(shapes[0], False, result.rtol, result.atol), *frames)
    return True


def _n_positions(src: Any) -> int | None:
    if "xcoords" in src:
        shape = src.info("xcoords").shape
        if len(shape) == 1:
            return int(shape[0])
    return None


def _diff_positions(src_a: Any, src_b: Any, rtol: float, atol: float) -> dict[str, Any] | None:
    """Compare scan positions point by point; None unless both files hold N of them."""
    xy = []
    for src in (src_a, src_b):
        if "xcoords" not in src or "ycoords" not in src:
            return None
        infos = [src.info(k) for k in ("xcoords", "ycoords")]
        if any(len(i.shape) != 1 or np.dtype(i.dtype).kind not in "iuf" for i in infos):
            return None
        xy.append(infos)
    n = xy[0][0].shape[0]
    if any(i.shape[0] != n for pair in xy for i in pair):
        return None
    check_budget(8 * 8 * n, "comparing scan positions")
    xa, ya = (src_a.read(k).astype(np.float64) for k in ("xcoords", "ycoords"))
    xb, yb = (src_b.read(k).astype(np.float64) for k in ("xcoords", "ycoords"))
    moved = np.zeros(n, bool)
    for p, q in ((xa, xb), (ya, yb)):
        with np.errstate(invalid="ignore"):
            off = ~(np.abs(q - p) <= atol + rtol * np.maximum(np.abs(p), np.abs(q)))
        moved |= off & (p != q) & ~(np.isnan(p) & np.isnan(q))
    shift = np.hypot(xb - xa, yb - ya)[moved]
    finite = shift[np.isfinite(shift)]
    first = np.flatnonzero(moved)
    return {
        "compared": int(n),
        "moved": int(moved.sum()),
        "first_moved": int(first[0]) if first.size else None,
        "max_shift": float(finite.max()) if finite.size else 0.0,
    }


def _diff_metadata(src_a: Any, src_b: Any) -> list[MetadataChange]:
    flat_a, flat_b = (flatten_record(_metadata_of(src)) for src in (src_a, src_b))
    paths = list(flat_a) + [p for p in flat_b if p not in flat_a]
    # An entry that is absent differs from one that holds None.
    return [
        MetadataChange(p, flat_a.get(p), flat_b.get(p))
        for p in paths
        if (p in flat_a, flat_a.get(p)) != (p in flat_b, flat_b.get(p))
    ]


def _metadata_of(src: Source) -> dict[str, Any]:
    """Return the file's own record: the reader's record of it, else the ``_metadata`` member."""
    meta = src.reader_record()
    if meta is not None:
        # The reader's note of the file's own name is not content.
        return {k: v for k, v in meta.items() if k != "file"}
    return read_metadata_member(src) or {}


def flatten_record(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return nested mappings as one level of dotted paths (lists and empty mappings stay values).

    Examples
    --------
    >>> flatten_record({"a": {"b": 1, "c": {}}, "d": [2]})
    {'a.b': 1, 'a.c': {}, 'd': [2]}
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten_record(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _value_text(v: ValueDifferences) -> str:
    rows = f"{v.rows} of {v.n_rows} rows differ (first: row {v.first_row})"
    parts = [rows, f"max abs {number_text(v.max_abs)}", f"max rel {number_text(v.max_rel)}"]
    if v.nonfinite:
        parts.append(f"{v.nonfinite} NaN/Inf mismatches")
    return ", ".join(parts)


def _positions_text(p: Mapping[str, Any]) -> str:
    if not p["moved"]:
        return f"{p['compared']} compared, none moved"
    return (
        f"{p['compared']} compared, {p['moved']} moved (first: index {p['first_moved']}), "
        f"largest shift {number_text(p['max_shift'])}"
    )


def _short(value: Any, width: int = 60) -> str:
    text = "(absent)" if value is None else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
