"""Cut a small, contract-compliant regression fixture out of a large scan, and verify one.

One index set selects every per-scan array, so row ``i`` of ``diffraction``,
``xcoords``, ``ycoords``, ``xcoords_start``, ``ycoords_start``, ``scan_index``
and ``Y`` always comes from the same source position. Only the chosen frames
are read where the storage allows it (see :mod:`ptyevidence._npz`). The
fixture is written canonical and deterministic; a JSON sidecar and Markdown
notes record how it was made, and :func:`verify_fixture` checks a fixture
against that record (and, optionally, against its source).
"""

from __future__ import annotations

import datetime
import os
import shlex
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._atomic import atomic_output, check_output_path
from ._layout import canonical_shape, read_frames, source_layout
from ._metadata import METADATA_KEY, metadata_array, read_metadata_member
from ._npzwrite import write_npz
from ._sidecar import (
    RANGE_RATIO_MIN,
    SIDECAR_VERSION,
    content_digest,
    default_metadata_path,
    default_notes_path,
    file_fingerprint,
    file_sha256,
    fixture_notes_markdown,
    read_sidecar,
    sidecar_json,
)
from ._sources import default_contract_for, open_source
from ._subset import STRATEGIES, select_indices
from ._validate import ValidationReport, validate_dataset
from ._version import __version__
from .exceptions import ContractError, InputError, PtyEvidenceError, UsageError

__all__ = [
    "CANONICAL_DTYPES",
    "FULL_HASH_LIMIT",
    "MIN_SUBSET_SIZE",
    "SOURCE_HASH_MODES",
    "FixtureResult",
    "VerifyCheck",
    "VerifyReport",
    "make_fixture",
    "verify_fixture",
]

#: Smallest subset: fewer positions cannot exercise neighbour grouping.
MIN_SUBSET_SIZE = 16
#: ``source_hash`` modes of :func:`make_fixture` (``--source-hash``).
SOURCE_HASH_MODES = ("auto", "full", "none")
#: Most bytes the full hash-and-CRC pass may handle under ``source_hash="auto"``
#: (file size plus the inflated size of compressed members): 1 GiB, about a
#: second of reading from page cache here. Larger sources get the fingerprint
#: only, so a cut stays O(subset).
FULL_HASH_LIMIT = 2**30
#: Arrays with one entry per scan position, gathered with the same indices.
PER_SCAN_KEYS = ("diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "Y")
#: Arrays copied whole.
WHOLE_KEYS = ("probeGuess", "objectGuess")
#: Member order of every fixture (keys absent from the source are skipped).
OUTPUT_ORDER = (
    "diffraction", "diff3d", "probeGuess", "objectGuess", "xcoords", "ycoords",
    "xcoords_start", "ycoords_start", "scan_index", "Y",
)
#: dtype of each fixture key (DATA-001 canonical dtypes).
CANONICAL_DTYPES = {
    "diffraction": np.dtype(np.float32),
    "probeGuess": np.dtype(np.complex64),
    "objectGuess": np.dtype(np.complex64),
    "xcoords": np.dtype(np.float64),
    "ycoords": np.dtype(np.float64),
    "xcoords_start": np.dtype(np.float64),
    "ycoords_start": np.dtype(np.float64),
    "scan_index": np.dtype(np.int64),
    "Y": np.dtype(np.complex64),
}
_LEGACY_KEY = "diff3d"


@dataclass
class FixtureResult:
    """What :func:`make_fixture` wrote.

    Attributes
    ----------
    path, metadata_path, notes_path : str
        The fixture NPZ, its JSON sidecar and its Markdown notes, as given.
    indices : numpy.ndarray
        ``(n,)`` int64 source indices, in fixture row order.
    sidecar : dict
        The sidecar's content.
    report : ValidationReport
        Contract validation of the written fixture.
    """

    path: str
    metadata_path: str
    notes_path: str
    indices: np.ndarray
    sidecar: dict[str, Any]
    report: ValidationReport

    def format_summary(self) -> str:
        """Return a short human summary: where, what, checksum, coverage, contract."""
        s = self.sidecar
        cov = s["coverage"]
        metrics = [f"x range {cov['x_range_ratio']:.3f}", f"y range {cov['y_range_ratio']:.3f}"]
        for name, label in (("occupancy", "occupancy"), ("hull_area_ratio", "hull area"),
                            ("largest_gap", "largest gap")):
            if cov.get(name) is not None:
                metrics.append(f"{label} {cov[name]:.3g}")
        contract = s["contract"]
        lines = [
            (f"wrote {self.path}: {s['subset_size']} of {s['source_positions']} positions "
            f"({s['subset_strategy']}, seed {s['seed']}), source layout {s['source_layout']}"),
            f"  sha256    {s['sha256_checksum']}",
            f"  coverage  {', '.join(metrics)}",
            (f"  contract  {contract['name']}: {contract['verdict']} "
            f"({contract['errors']} errors, {contract['warnings']} warnings)"),
            f"  sidecar   {self.metadata_path}",
            f"  notes     {self.notes_path}",
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class VerifyCheck:
    """One check of :func:`verify_fixture`.

    Attributes
    ----------
    name : str
        What was checked: a sidecar field, ``content_digests.<key>``,
        ``rows.<key>``, ``coverage.<metric>``...
    ok : bool
        True when the fixture matches its record.
    detail : str
        The values compared, or what differs.
    """

    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    """Result of :func:`verify_fixture`: every check, passed or not.

    Attributes
    ----------
    fixture, metadata : str
        The fixture and sidecar checked.
    source : str or None
        The source re-read, if any.
    checks : list of VerifyCheck
    """

    fixture: str
    metadata: str
    source: str | None = None
    checks: list[VerifyCheck] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        """Record one check."""
        self.checks.append(VerifyCheck(name, bool(ok), detail))

    @property
    def mismatches(self) -> list[VerifyCheck]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.mismatches

    @property
    def verdict(self) -> str:
        """One line: PASS/FAIL with counts."""
        if self.ok:
            return f"PASS: '{self.fixture}' matches '{self.metadata}' ({len(self.checks)} checks)"
        return (
            f"FAIL: '{self.fixture}' does not match '{self.metadata}': "
            f"{len(self.mismatches)} of {len(self.checks)} checks failed"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "fixture": self.fixture,
            "metadata": self.metadata,
            "source": self.source,
            "ok": self.ok,
            "verdict": self.verdict,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "mismatches": [c.name for c in self.mismatches],
        }

    def format_text(self) -> str:
        """Return one line per check (failures first) and the verdict."""
        ordered = self.mismatches + [c for c in self.checks if c.ok]
        width = max((len(c.name) for c in ordered), default=0)
        lines = [f"{'ok  ' if c.ok else 'FAIL'}  {c.name.ljust(width)}  {c.detail}" for c in ordered]
        return "\n".join(lines + [self.verdict])


# -- reading the source ----------------------------------------------------------


@dataclass
class _Plan:
    """Which source keys feed which fixture keys, and the source's geometry."""

    path: str
    keys: dict[str, str]  # fixture key -> source key
    n_source: int
    layout: str
    stored_shape: tuple[int, ...]
    frame_shape: tuple[int, int]
    skipped: list[str]


def _plan_cut(source: Any, requested_layout: str) -> _Plan:
    """Check the source's keys and shapes; resolve the stack layout."""
    path = source.path
    present = list(source.keys())
    keys: dict[str, str] = {}
    if "diffraction" in present:
        keys["diffraction"] = "diffraction"
    elif _LEGACY_KEY in present:
        keys["diffraction"] = _LEGACY_KEY
    else:
        msg = f"'{path}' has no 'diffraction' (or legacy 'diff3d') stack; keys: {', '.join(present) or 'none'}"
        raise InputError(msg, path)
    for name in ("xcoords", "ycoords"):
        if name not in present:
            msg = f"'{path}' has no '{name}'; a fixture needs scan positions to select from"
            raise InputError(msg, path)
        keys[name] = name
    n_source = _coordinate_length(source)
    dkey = keys["diffraction"]
    stored = tuple(source.info(dkey).shape)
    if len(stored) != 3:
        msg = f"'{path}' key '{dkey}' has shape {stored}; expected a 3-D stack (N, H, W) or (H, W, N)"
        raise InputError(msg, path)
    layout = source_layout(source, dkey, n_source, requested_layout, f"'{path}' key '{dkey}'")
    n_frames, h, w = canonical_shape(stored, layout)
    if n_frames != n_source:
        msg = (
            f"'{path}' key '{dkey}' holds {n_frames} frames ({layout} layout, shape {stored}) but "
            f"'xcoords' has {n_source} positions; every per-scan array needs one entry per position"
        )
        raise InputError(msg, path)
    for name in PER_SCAN_KEYS[3:]:
        if name in present:
            _check_per_scan(source, name, n_source, (h, w))
            keys[name] = name
    for name in WHOLE_KEYS:
        if name in present:
            keys[name] = name
    skipped = [k for k in present if k not in keys.values()]
    return _Plan(path, keys, n_source, layout, stored, (h, w), skipped)


def _coordinate_length(source: Any) -> int:
    xs, ys = source.info("xcoords").shape, source.info("ycoords").shape
    if len(xs) != 1 or xs != ys:
        msg = (
            f"'{source.path}': 'xcoords' has shape {tuple(xs)} and 'ycoords' {tuple(ys)}; "
            "expected two 1-D arrays of equal length N"
        )
        raise InputError(msg, source.path)
    return int(xs[0])


def _check_per_scan(source: Any, name: str, n_source: int, frame: tuple[int, int]) -> None:
    shape = tuple(source.info(name).shape)
    if name == "Y":
        ok = shape in ((n_source, *frame), (n_source, *frame, 1))
        expected = f"({n_source}, {frame[0]}, {frame[1]}) or ({n_source}, {frame[0]}, {frame[1]}, 1)"
    else:
        ok = shape == (n_source,)
        expected = f"({n_source},)"
    if not ok:
        msg = (
            f"'{source.path}' key '{name}' has shape {shape}; expected {expected} to match the "
            f"{n_source} scan positions, so its rows can follow the subset"
        )
        raise InputError(msg, source.path)


def _cut_arrays(
    source: Any, plan: _Plan, indices: np.ndarray, legacy_alias: bool
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Gather the fixture arrays; return them with the transformations done."""
    done: list[str] = []
    got: dict[str, np.ndarray] = {}
    per_scan = [k for k in PER_SCAN_KEYS if k in plan.keys]
    done.append(
        f"subset: {indices.size} of {plan.n_source} positions; {', '.join(per_scan)} "
        "gathered at the same source indices (row i = source position indices[i])"
    )
    dkey = plan.keys["diffraction"]
    if dkey != "diffraction":
        done.append(f"{dkey} -> diffraction: key renamed to the canonical name")
    frames = read_frames(source, dkey, indices, plan.layout)
    if plan.layout == "legacy":
        done.append(
            f"diffraction: legacy (H, W, N) stack {plan.stored_shape} -> canonical (N, H, W); "
            "frames moved from the last axis to the first"
        )
    transform: Callable[[np.ndarray], np.ndarray] | None = getattr(source, "frame_transform", None)
    if transform is not None:
        frames = np.asarray(transform(frames))
        done.extend(getattr(source, "frame_transform_notes", None) or ["diffraction: reader frame transform applied"])
    got["diffraction"] = frames
    for name in per_scan[1:]:
        got[name] = source.take(plan.keys[name], indices, axis=0)
    whole = [name for name in WHOLE_KEYS if name in plan.keys]
    for name in whole:
        got[name] = source.read(plan.keys[name])
    if whole:
        done.append(f"{', '.join(whole)}: copied whole")
    arrays: dict[str, np.ndarray] = {}
    for name in OUTPUT_ORDER:
        if name in got:
            arrays[name] = _canonical_array(source, plan, name, got[name], done)
        elif name == _LEGACY_KEY and legacy_alias:
            arrays[name] = arrays["diffraction"]
    if legacy_alias:
        done.append("diff3d: copy of diffraction written under the legacy key (--legacy-alias)")
    # The layout travels with the file: a cut of 64 frames of 64x64 is
    # otherwise ambiguous for every later reader.
    record: dict[str, Any] = {"layout": "canonical", "written_by": "ptyevidence fixture make"}
    source_record = read_metadata_member(source)
    if source_record is not None:
        record["source_metadata"] = source_record
    arrays[METADATA_KEY] = metadata_array(record)
    if plan.skipped:
        done.append(f"not copied: {', '.join(plan.skipped)} (not part of the fixture layout)")
    return arrays, done


def _canonical_array(source: Any, plan: _Plan, name: str, arr: np.ndarray, done: list[str]) -> np.ndarray:
    """Squeeze, cast and store ``arr`` in C order; log each change made."""
    info = source.info(plan.keys[name])
    target = CANONICAL_DTYPES[name]
    squeezable = {"Y": 4, "probeGuess": 3}
    if arr.ndim == squeezable.get(name) and arr.shape[-1] == 1:
        before = arr.shape
        arr = arr[..., 0]
        # Per-scan shapes show N symbolically: the count is in the subset line.
        if name == "Y":
            before, after = ("N", *before[1:]), ("N", *arr.shape[1:])
        else:
            after = arr.shape
        done.append(f"{name}: trailing axis of length 1 squeezed, {_tuple(before)} -> {_tuple(after)}")
    if info.dtype.byteorder in ("<", ">"):
        endian = "big" if info.dtype.byteorder == ">" else "little"
        done.append(f"{name}: stored {endian}-endian ('{info.dtype.str}'), written in native byte order")
    if info.fortran_order and len(info.shape) > 1:
        done.append(f"{name}: stored in Fortran (column) order, written in C order")
    if arr.dtype != target:
        if arr.dtype.names is not None:
            msg = (
                f"'{plan.path}' key '{plan.keys[name]}' has dtype {arr.dtype} with named fields; "
                f"{name} must be plain {target}: store each field as an array of its own"
            )
            raise InputError(msg, plan.path)
        if np.iscomplexobj(arr) and target.kind != "c":
            msg = (
                f"'{plan.path}' key '{plan.keys[name]}' is complex ({arr.dtype}); {name} must be "
                f"real {target}: store the amplitude, not the complex field"
            )
            raise InputError(msg, plan.path)
        if name == "scan_index" and arr.dtype.kind == "f" and not np.all(np.mod(arr, 1) == 0):
            msg = f"'{plan.path}' key 'scan_index' holds non-integer values; expected integer scan numbers"
            raise InputError(msg, plan.path)
        done.append(f"{name}: {arr.dtype.name} -> {target.name}")
        arr = arr.astype(target)
    return np.ascontiguousarray(arr)


def _tuple(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


# -- make --------------------------------------------------------------------------


def make_fixture(
    source: str | os.PathLike,
    output: str | os.PathLike,
    subset_size: int = 64,
    strategy: str = "stratified-index",
    seed: int = 0,
    metadata_out: str | os.PathLike | None = None,
    notes_out: str | os.PathLike | None = None,
    legacy_alias: bool = False,
    layout: str = "auto",
    force: bool = False,
    source_hash: str = "auto",
    progress: bool | None = None,
) -> FixtureResult:
    """Cut a regression fixture of ``subset_size`` positions out of ``source``.

    Chooses the positions with :func:`ptyevidence.fixture.select_indices`,
    gathers every per-scan array at those indices (reading only the needed
    frames where the storage allows), copies ``objectGuess``/``probeGuess``,
    casts to the canonical dtypes and writes an uncompressed, byte-for-byte
    reproducible NPZ. The fixture is validated against the source format's
    default contract before anything is placed at ``output``; the sidecar
    and notes are written beside it.

    Parameters
    ----------
    source : str or path
        Dataset to cut from (NPZ, or any format with a registered reader).
    output : str or path
        Fixture NPZ to write.
    subset_size : int
        Number of positions, ``16 <= subset_size <= N``.
    strategy : {"stratified-index", "grid", "farthest-point"}
        How positions are chosen.
    seed : int
        Seed for ``farthest-point`` (recorded for every strategy).
    metadata_out : str or path, optional
        JSON sidecar; default ``output`` with a ``.json`` suffix.
    notes_out : str or path, optional
        Markdown notes; default ``output`` with a ``.md`` suffix.
    legacy_alias : bool
        Also write the frames under the legacy key ``diff3d``.
    layout : {"auto", "canonical", "legacy"}
        Stored order of the source's stack; ``auto`` refuses when ambiguous.
    force : bool
        Replace existing output files.
    source_hash : {"auto", "full", "none"}
        Whether to record the source file's SHA-256. ``full`` reads the whole
        source once (and checks every NPZ member's zip CRC in the same pass);
        ``none`` records ``null`` and reads only what the cut needs, so damage
        outside the chosen rows goes unnoticed; ``auto`` (default) hashes
        when that pass handles at most :data:`FULL_HASH_LIMIT` bytes (the
        file, plus the inflated size of compressed members, whose CRCs it
        checks) and skips it above, so cutting from a multi-GB scan costs
        what reading the subset costs.
        Every mode records the cheap :func:`file_fingerprint` of the source.
    progress : bool or None
        Progress bars for long passes (None: on a terminal).

    Returns
    -------
    FixtureResult

    Raises
    ------
    UsageError
        Bad subset size, strategy or seed, or an output that exists
        (without ``force``), is the source, or cannot be written.
    InputError
        The source cannot be read or its arrays do not line up.
    ContractError
        The fixture would break its contract; nothing is written.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> rng = np.random.default_rng(0)
    >>> folder = tempfile.mkdtemp()
    >>> src = os.path.join(folder, "scan.npz")
    >>> gy, gx = np.divmod(np.arange(40), 8)
    >>> np.savez(src, diffraction=rng.random((40, 8, 8), dtype=np.float32),
    ...          probeGuess=np.ones((8, 8), np.complex64),
    ...          objectGuess=np.ones((32, 32), np.complex64),
    ...          xcoords=gx * 2.0, ycoords=gy * 2.0)
    >>> result = make_fixture(src, os.path.join(folder, "fixture.npz"), subset_size=16)
    >>> result.indices[:4].tolist(), result.sidecar["contract"]["verdict"]
    ([0, 2, 5, 7], 'PASS')
    >>> verify_fixture(result.path).ok
    True
    """
    source_path, output_path = os.fspath(source), os.fspath(output)
    strategy, seed = _check_choice(strategy, seed)
    if source_hash not in SOURCE_HASH_MODES:
        msg = f"source hash mode {source_hash!r} is not one of {', '.join(SOURCE_HASH_MODES)}"
        raise UsageError(msg)
    metadata_path = os.fspath(metadata_out) if metadata_out is not None else default_metadata_path(output_path)
    notes_path = os.fspath(notes_out) if notes_out is not None else default_notes_path(output_path)
    check_output_path(output_path, force, inputs=[source_path])
    check_output_path(metadata_path, force, inputs=[source_path, output_path])
    check_output_path(notes_path, force, inputs=[source_path, output_path, metadata_path])
    contract = default_contract_for(source_path)
    with open_source(source_path) as src:
        plan = _plan_cut(src, layout)
        subset_size = _check_subset_size(subset_size, plan)
        x, y = src.read("xcoords"), src.read("ycoords")
        _check_finite_positions(x, y, source_path)
        indices = select_indices(x, y, subset_size, strategy, seed)
        arrays, transformations = _cut_arrays(src, plan, indices, legacy_alias)
        source_sha256 = _hash_source(src, progress) if _hashes_fully(source_hash, src) else None
        fingerprint = file_fingerprint(source_path)
    coverage = _coverage_block(x, y, indices)
    record = {
        "version": SIDECAR_VERSION,
        "created": _created(),
        "tool": "ptyevidence",
        "tool_version": __version__,
        "numpy_version": np.__version__,
        "source_dataset": source_path,
        "source_sha256": source_sha256,
        "source_hash": source_hash,
        "full_hash_limit": FULL_HASH_LIMIT,
        "source_fingerprint": fingerprint,
        "source_layout": plan.layout,
        "subset_strategy": strategy,
        "subset_size": subset_size,
        "seed": seed,
        "indices": [int(i) for i in indices],
        "transformations": transformations,
        "sha256_checksum": None,
        "content_digests": {k: content_digest(v) for k, v in arrays.items()},
        "coverage": coverage,
        "contract": None,
        "regenerate": _regenerate_command(
            source_path, output_path, subset_size, strategy, seed, layout, legacy_alias,
            metadata_out, notes_out, source_hash,
        ),
        "fixture": output_path,
        "legacy_alias": bool(legacy_alias),
        "source_positions": plan.n_source,
        "source_frame_shape": list(plan.frame_shape),
        "source_size": os.path.getsize(source_path),
        "fixture_size": None,
        "keys": {k: {"shape": list(v.shape), "dtype": v.dtype.name} for k, v in arrays.items()},
        "stats": {},
    }
    report = _write_outputs(arrays, record, contract, output_path, metadata_path, notes_path, force)
    return FixtureResult(output_path, metadata_path, notes_path, indices, record, report)


def _check_choice(strategy: str, seed: object) -> tuple[str, int]:
    if strategy not in STRATEGIES:
        msg = f"subset strategy '{strategy}' is not one of {', '.join(STRATEGIES)}"
        raise UsageError(msg)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        msg = f"seed {seed!r} is not a non-negative integer"
        raise UsageError(msg)
    return strategy, int(seed)


def _check_subset_size(size: object, plan: _Plan) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        msg = f"subset size {size!r} is not an integer; give a whole number of positions (>= {MIN_SUBSET_SIZE})"
        raise UsageError(msg)
    if plan.n_source < MIN_SUBSET_SIZE:
        msg = (
            f"'{plan.path}' has only {plan.n_source} positions; a fixture needs at least "
            f"{MIN_SUBSET_SIZE} (fewer cannot exercise neighbour grouping)"
        )
        raise UsageError(msg)
    if not MIN_SUBSET_SIZE <= size <= plan.n_source:
        msg = (
            f"subset size {size} is out of range: use {MIN_SUBSET_SIZE} to {plan.n_source} "
            f"('{plan.path}' has {plan.n_source} positions; fewer than {MIN_SUBSET_SIZE} "
            "cannot exercise neighbour grouping)"
        )
        raise UsageError(msg)
    return int(size)


def _hashes_fully(mode: str, src: Any) -> bool:
    if mode != "auto":
        return mode == "full"
    # The pass also inflates deflated members to check their CRCs: count that work too.
    work = src.full_check_bytes() if hasattr(src, "full_check_bytes") else os.path.getsize(src.path)
    return work <= FULL_HASH_LIMIT


def _hash_source(src: Any, progress: bool | None) -> str:
    """Return the source's SHA-256; for an NPZ, check every member's zip CRC in the same pass.

    The cut reads only the chosen rows, which cannot prove a member intact;
    the hash reads every byte anyway, so a corrupt source is caught here.
    """
    check = src.member_crc_check() if hasattr(src, "member_crc_check") else None
    digest = file_sha256(src.path, progress, on_block=None if check is None else check.feed)
    if check is not None:
        check.finish()
    return digest


def _check_finite_positions(x: np.ndarray, y: np.ndarray, path: str) -> None:
    # Coverage (recorded in every sidecar) needs every source position, selected or not.
    bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
    if bad.size:
        first = int(bad[0])
        msg = (
            f"'{path}': 'xcoords'/'ycoords' hold {bad.size} non-finite position(s), first at "
            f"index {first} ({x[first]}, {y[first]}); a fixture's coverage needs every position "
            "finite: fix or drop those positions"
        )
        raise InputError(msg, path)


def _coverage_block(x: np.ndarray, y: np.ndarray, indices: np.ndarray) -> dict[str, Any]:
    from ._coverage import scan_coverage

    return scan_coverage(x, y, indices).to_dict()


def _created() -> str:
    # SOURCE_DATE_EPOCH pins the one clock-dependent field for reproducible builds.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch and epoch.isdigit()
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return moment.isoformat(timespec="seconds")


def _regenerate_command(
    source: str, output: str, subset_size: int, strategy: str, seed: int, layout: str,
    legacy_alias: bool, metadata_out: Any, notes_out: Any, source_hash: str,
) -> str:
    args = [
        "ptyevidence", "fixture", "make", "--source", source, "--output", output,
        "--subset-size", str(subset_size), "--strategy", strategy, "--seed", str(seed),
    ]
    if layout != "auto":
        args += ["--layout", layout]
    if legacy_alias:
        args.append("--legacy-alias")
    if metadata_out is not None:
        args += ["--metadata-out", os.fspath(metadata_out)]
    if notes_out is not None:
        args += ["--notes-out", os.fspath(notes_out)]
    if source_hash != "auto":
        args += ["--source-hash", source_hash]
    return shlex.join(args)


def _write_outputs(
    arrays: dict[str, np.ndarray], record: dict[str, Any], contract: str,
    output: str, metadata: str, notes: str, force: bool,
) -> ValidationReport:
    """Write the NPZ to a temporary file, validate it, then place all three files.

    The NPZ is renamed into place last; if that fails, the sidecar and notes
    just written are removed, so a failure never leaves a partial set.
    """
    folder = os.path.dirname(os.path.abspath(output))
    fd, staged = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        write_npz(staged, arrays, force=True)
        # Fixtures are canonical by construction; say so, because a 64-frame
        # cut of 64 x 64 frames is N == H == W and would be ambiguous.
        report = validate_dataset(staged, contract, layout="canonical", progress=False)
        if not report.ok:
            details = "; ".join(f"[{f.rule}] {f.field}: {f.message}" for f in report.errors)
            msg = (
                f"the fixture cut from '{record['source_dataset']}' breaks contract {contract} "
                f"({len(report.errors)} error(s): {details}); nothing was written"
            )
            raise ContractError(msg, report.errors, record["source_dataset"])
        record["sha256_checksum"] = file_sha256(staged, progress=False)
        record["fixture_size"] = os.path.getsize(staged)
        record["contract"] = {
            "name": report.contract, "verdict": "PASS" if report.ok else "FAIL",
            "errors": len(report.errors), "warnings": len(report.warnings),
        }
        record["stats"] = {
            name: {k: stats[k] for k in ("min", "max", "mean")} for name, stats in report.stats.items()
        }
        notes_text = fixture_notes_markdown(record)
        with atomic_output(metadata, "w") as fm, atomic_output(notes, "w") as fn:
            fm.write(sidecar_json(record))
            fn.write(notes_text)
        try:
            check_output_path(output, force)
            os.replace(staged, output)
        except BaseException:
            for path in (metadata, notes):
                if os.path.exists(path):
                    os.unlink(path)
            raise
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
    return report


# -- verify ------------------------------------------------------------------------


def verify_fixture(
    fixture: str | os.PathLike,
    metadata: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    min_range_ratio: float = RANGE_RATIO_MIN,
    min_occupancy: float | None = None,
    progress: bool | None = None,
) -> VerifyReport:
    """Check a fixture against its sidecar (and, optionally, its source).

    Recomputes the file hash and every content digest, re-validates the
    recorded contract, checks ``subset_size`` against the indices and the
    fixture's rows, and checks the recorded coverage against the
    thresholds. With ``source``, also re-reads the source rows at the
    recorded indices, applies the same transformations and compares them
    with the fixture, key by key.

    Parameters
    ----------
    fixture : str or path
        The fixture NPZ.
    metadata : str or path, optional
        Its sidecar; default ``fixture`` with a ``.json`` suffix.
    source : str or path, optional
        The dataset the fixture was cut from.
    min_range_ratio : float
        x and y range ratios must exceed this (default 0.5).
    min_occupancy : float, optional
        Occupancy must be at least this; not checked when None.
    progress : bool or None
        Progress bars for long passes (None: on a terminal).

    Returns
    -------
    VerifyReport
        ``.ok`` is False when anything differs; each mismatch is a check.

    Raises
    ------
    InputError
        Unusable input: a missing fixture, sidecar or source, a sidecar
        lacking required fields, an unreadable source.
    """
    fixture_path = os.fspath(fixture)
    metadata_path = os.fspath(metadata) if metadata is not None else default_metadata_path(fixture_path)
    if not os.path.isfile(fixture_path) or os.path.getsize(fixture_path) == 0:
        state = "is empty" if os.path.isfile(fixture_path) else "does not exist"
        msg = f"fixture '{fixture_path}' {state}; check the path"
        raise InputError(msg, fixture_path)
    record = read_sidecar(metadata_path)
    report = VerifyReport(fixture_path, metadata_path, os.fspath(source) if source is not None else None)
    actual = file_sha256(fixture_path, progress)
    report.add(
        "sha256_checksum", actual == record["sha256_checksum"],
        f"file {actual}" if actual == record["sha256_checksum"]
        else f"file {actual} != recorded {record['sha256_checksum']}",
    )
    arrays = _check_contents(report, fixture_path, record)
    if arrays is not None:
        _check_contract(report, fixture_path, record)
        _check_size(report, record, arrays)
    _check_coverage(report, record["coverage"], min_range_ratio, min_occupancy, metadata_path)
    if source is not None and arrays is not None:
        _check_source(report, os.fspath(source), record, arrays, progress)
    return report


def _check_contents(report: VerifyReport, path: str, record: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Compare content digests key by key; return the arrays read, or None."""
    try:
        with open_source(path) as fixture:
            members: dict[str, np.ndarray | str] = {}
            keys = fixture.keys()  # readers are not iterable: ask for the keys
            for key in keys:
                try:
                    members[key] = fixture.read(key)
                except PtyEvidenceError as exc:
                    members[key] = f"cannot be read: {exc}"
    except InputError as exc:
        # A damaged member can stop the archive from opening at all; read the
        # members one by one so the report still names the damaged key.
        members = _read_members_one_by_one(path)
        if members is None:
            report.add("fixture", False, f"cannot be opened: {exc}")
            return None
    arrays = {k: v for k, v in members.items() if isinstance(v, np.ndarray)}
    recorded = record["content_digests"]
    for key, digest in recorded.items():
        name = f"content_digests.{key}"
        if key not in members:
            report.add(name, False, f"key '{key}' is recorded in the sidecar but missing from the fixture")
        elif key not in arrays:
            report.add(name, False, str(members[key]))
        else:
            actual = content_digest(arrays[key])
            report.add(name, actual == digest, actual if actual == digest else f"{actual} != recorded {digest}")
    extra = [k for k in members if k not in recorded]
    report.add(
        "keys", not extra,
        f"{len(members)} keys, as recorded" if not extra
        else f"key(s) {', '.join(extra)} in the fixture are not recorded in the sidecar",
    )
    return arrays


def _read_members_one_by_one(path: str) -> dict[str, np.ndarray | str] | None:
    """Read each ``.npy`` member on its own; a failure is kept as a message."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return None
    members: dict[str, np.ndarray | str] = {}
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            key = info.filename[: -len(".npy")]
            try:
                with archive.open(info) as fp:
                    members[key] = np.lib.format.read_array(fp, allow_pickle=False)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                members[key] = f"member '{info.filename}' cannot be read ({exc})"
    return members


def _check_contract(report: VerifyReport, path: str, record: dict[str, Any]) -> None:
    name = record["contract"]["name"]
    try:
        result = validate_dataset(path, name, layout="canonical", progress=False)
    except PtyEvidenceError as exc:
        report.add("contract", False, f"{name}: cannot validate: {exc}")
        return
    verdict = "PASS" if result.ok else "FAIL"
    recorded = record["contract"].get("verdict")
    errors = "; ".join(f"[{f.rule}] {f.field}: {f.message}" for f in result.errors)
    ok = result.ok and verdict == recorded
    detail = f"{name}: {verdict}" + (f" (recorded {recorded})" if verdict != recorded else "")
    report.add("contract", ok, detail + (f": {errors}" if errors else ""))


def _check_size(report: VerifyReport, record: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    n, indices = record["subset_size"], record["indices"]
    rows = {k: v.shape[0] for k, v in arrays.items() if k in PER_SCAN_KEYS + (_LEGACY_KEY,) and v.ndim}
    odd = {k: r for k, r in rows.items() if r != n}
    detail = f"{n} = len(indices) = rows of {', '.join(rows)}"
    if len(indices) != n:
        detail = f"subset_size {n} but {len(indices)} indices recorded"
    elif odd:
        detail = "; ".join(f"'{k}' has {r} rows" for k, r in odd.items()) + f"; subset_size is {n}"
    report.add("subset_size", len(indices) == n and not odd, detail)
    idx = np.asarray(indices, dtype=np.int64)
    limit = record.get("source_positions")
    problems = []
    if idx.size != np.unique(idx).size:
        problems.append("repeated indices")
    if idx.size and idx.min() < 0:
        problems.append(f"negative index {idx.min()}")
    if idx.size and isinstance(limit, int) and idx.max() >= limit:
        problems.append(f"index {idx.max()} >= source_positions {limit}")
    report.add("indices", not problems, "; ".join(problems) or f"{idx.size} distinct indices in range")


def _check_coverage(
    report: VerifyReport, coverage: dict[str, Any], min_range: float,
    min_occupancy: float | None, metadata: str,
) -> None:
    for axis in ("x", "y"):
        name = f"coverage.{axis}_range_ratio"
        value = coverage.get(f"{axis}_range_ratio")
        if not isinstance(value, (int, float)):
            msg = f"sidecar '{metadata}' lacks {name}; it cannot be checked against --min-range-ratio"
            raise InputError(msg, metadata)
        report.add(name, value > min_range, f"{value:.4g} {'>' if value > min_range else '<='} {min_range:g}")
    if min_occupancy is not None:
        value = coverage.get("occupancy")
        if not isinstance(value, (int, float)):
            msg = f"sidecar '{metadata}' lacks coverage.occupancy; it cannot be checked against --min-occupancy"
            raise InputError(msg, metadata)
        report.add(
            "coverage.occupancy", value >= min_occupancy,
            f"{value:.4g} {'>=' if value >= min_occupancy else '<'} {min_occupancy:g}",
        )


def _check_source(
    report: VerifyReport, source_path: str, record: dict[str, Any],
    arrays: dict[str, np.ndarray], progress: bool | None,
) -> None:
    """Re-cut the recorded rows from the source and compare with the fixture."""
    layout = record.get("source_layout")
    if layout not in ("canonical", "legacy"):
        msg = f"sidecar '{report.metadata}' lacks source_layout; it is needed to re-read '{source_path}'"
        raise InputError(msg, report.metadata)
    fingerprint = record.get("source_fingerprint")
    if isinstance(fingerprint, dict):
        actual_fp = file_fingerprint(source_path)
        same = actual_fp == fingerprint
        report.add(
            "source_fingerprint", same,
            f"{actual_fp['method']} {actual_fp['sha256']}" if same
            else f"source {actual_fp} != recorded {fingerprint}",
        )
    recorded_hash = record.get("source_sha256")
    if recorded_hash:
        actual = file_sha256(source_path, progress)
        report.add(
            "source_sha256", actual == recorded_hash,
            actual if actual == recorded_hash else f"source {actual} != recorded {recorded_hash}",
        )
    indices = np.asarray(record["indices"], dtype=np.int64)
    with open_source(source_path) as src:
        plan = _plan_cut(src, layout)
        if indices.size and (indices.min() < 0 or indices.max() >= plan.n_source):
            report.add("rows", False, f"recorded indices fall outside the source's {plan.n_source} positions")
            return
        x, y = src.read("xcoords"), src.read("ycoords")
        expected, done = _cut_arrays(src, plan, indices, bool(record.get("legacy_alias")))
    for key, want in expected.items():
        name = f"rows.{key}"
        have = arrays.get(key)
        if have is None or key == METADATA_KEY:
            continue  # reported by the digest checks; the record is not a row array
        report.add(name, *_compare(key, have, want, indices))
    recorded = record.get("transformations")
    report.add(
        "transformations", recorded == done,
        f"{len(done)} step(s), as recorded" if recorded == done else f"re-derived {done} != recorded {recorded}",
    )
    fresh = _coverage_block(x, y, indices)
    differ = [
        k for k, v in fresh.items()
        if not _same_number(v, record["coverage"].get(k))
    ]
    report.add(
        "coverage", not differ,
        "recomputed from the source, as recorded" if not differ
        else f"recomputed {', '.join(f'{k}={fresh[k]!r}' for k in differ)} differ from the sidecar",
    )


def _compare(key: str, have: np.ndarray, want: np.ndarray, indices: np.ndarray) -> tuple[bool, str]:
    if have.shape != want.shape or have.dtype != want.dtype:
        return False, f"fixture {have.dtype}{have.shape} but source gives {want.dtype}{want.shape}"
    if key in WHOLE_KEYS:
        same = np.array_equal(have, want, equal_nan=True)
        return same, "equal to the source array" if same else "differs from the source array"
    equal = (have == want) | (_isnan(have) & _isnan(want))
    bad = np.flatnonzero(~equal.reshape(equal.shape[0], -1).all(axis=1))
    if bad.size == 0:
        return True, f"{have.shape[0]} rows equal the source rows at the recorded indices"
    first = int(bad[0])
    return False, (
        f"{bad.size} of {have.shape[0]} rows differ from the source (first: fixture row {first}, "
        f"source index {int(indices[first])})"
    )


def _isnan(a: np.ndarray) -> np.ndarray:
    return np.isnan(a) if a.dtype.kind in "fc" else np.zeros(a.shape, bool)


def _same_number(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(np.isclose(a, b, rtol=1e-12, atol=0.0))
    return a == b
