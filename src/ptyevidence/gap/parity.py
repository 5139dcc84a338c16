"""Empirical parity: bind tensor dumps to their contracts and compare values by role.

A dump is a plain NPZ of the arrays a pipeline produced for one fixture
(written with :func:`capture` or ``numpy.savez``). Binding matches keys to
fields, binds the symbolic dimensions and records every mismatch as a
finding. Comparison then uses the gap matrix's permutation for each role,
checks it against the data, and names what it sees: equality, a sign flip,
a constant ratio, or plain differences.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from itertools import permutations
from typing import Any

import numpy as np

from .._format import dims_text, markdown_table
from .._memory import check_budget
from ..contract.binding import Finding, bind
from ..contract.model import DatasetContract, load_contract
from ..exceptions import UsageError
from ..readers.memory import ArraySource
from ..readers.registry import open_source
from ..writers.npz import write_npz
from .matrix import GapMatrix, GapRow, _computed

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "BoundDump",
    "ParityReport",
    "RoleParity",
    "bind_dump",
    "capture",
    "compare_dumps",
]

#: Default tolerances of the value comparison (``numpy.allclose`` semantics).
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-8
#: A derived ratio counts as one constant when every element agrees this well.
_RATIO_TOLERANCE = 1e-4
#: Permutation checks try every axis order only up to this rank.
_MAX_PERMUTED_RANK = 6


@dataclass
class BoundDump:
    """A tensor dump matched against a pipeline contract.

    Attributes
    ----------
    path : str
        The dump file (``<mapping>`` for in-memory dumps).
    contract : DatasetContract
        The contract it was bound to.
    arrays : dict
        Field name -> array, for stored fields found in the dump and for
        derived fields computed from them; fields that break the contract
        are left out.
    keys : dict
        Field name -> dump key it was read from (or ``derived``).
    dims : dict
        Symbolic dimension -> size, by majority over the fields.
    findings : list of Finding
        Missing keys, dtype and shape mismatches, unreadable members.
    """

    path: str
    contract: DatasetContract
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no finding has severity ``error``."""
        return not any(f.severity == "error" for f in self.findings)

    def breaks(self, name: str) -> bool:
        """Return True when a finding of severity ``error`` concerns field ``name``."""
        return any(f.field == name and f.severity == "error" for f in self.findings)

    def add(self, rule: str, name: str, severity: str, message: str) -> None:
        """Record a finding."""
        self.findings.append(Finding(rule, name, severity, message))

    def to_dict(self) -> dict[str, Any]:
        """Return the binding as JSON-serializable data."""
        return {
            "path": self.path,
            "contract": self.contract.name,
            "ok": self.ok,
            "dims": dict(self.dims),
            "fields": {
                name: {"key": self.keys[name], "dtype": str(arr.dtype), "shape": list(arr.shape)}
                for name, arr in self.arrays.items()
            },
            "findings": [asdict(f) for f in self.findings],
        }


def bind_dump(dump: str | os.PathLike | Mapping[str, Any], contract: str | os.PathLike | DatasetContract) -> BoundDump:
    """Match a tensor dump to a pipeline contract.

    Keys are matched to fields by :func:`ptyevidence.contract.binding.bind`:
    by name or alias, dimensions bound by majority over the fields (so one
    wrongly laid out array is the one reported), dtypes and shapes checked.
    Fields that fit are read; derived fields are computed. Problems become
    findings, never exceptions.

    Parameters
    ----------
    dump : str, path or mapping
        An NPZ file (read without unpickling) or a mapping of arrays.
    contract : str, path or DatasetContract
        The pipeline contract the dump claims to follow.

    Returns
    -------
    BoundDump

    Raises
    ------
    InputError
        If the dump file cannot be opened at all (missing, not an NPZ).

    Examples
    --------
    >>> import numpy as np
    >>> bound = bind_dump({"nn_indices": np.zeros((4, 2), np.int64),
    ...                    "coords_relative": np.zeros((4, 2, 1, 2), np.float32),
    ...                    "images": np.zeros((4, 8, 8, 2), np.float32)},
    ...                   "ptychopinn-torch-mmap")
    >>> bound.dims["L"], [f.field for f in bound.findings if f.severity == "error"]
    (4, ['images'])
    """
    spec = load_contract(contract)
    if isinstance(dump, Mapping):
        return _read_bound(ArraySource(_arrays_from_mapping(dump)), spec)
    with open_source(dump) as source:
        return _read_bound(source, spec)


def _arrays_from_mapping(mapping: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {str(k): _to_numpy(k, v) for k, v in mapping.items() if v is not None}


def _read_bound(source: Any, contract: DatasetContract) -> BoundDump:
    """Bind ``source`` to ``contract``, read the fields that fit, compute the derived ones."""
    binding = bind(contract, source)
    # Every readable member is read, field or not: a damaged dump fails here, not halfway.
    arrays = {
        key: source.read(key)
        for key in source.keys()  # noqa: SIM118 - readers are not iterable
        if not (source.info(key).has_objects or source.info(key).is_structured)
    }
    bound = BoundDump(path=binding.path, contract=contract, dims=dict(binding.dims), findings=list(binding.findings))
    for name, field_ in binding.fields.items():
        if field_.fits:
            bound.arrays[name] = arrays[field_.key]
            bound.keys[name] = field_.key
    _derive(bound)
    return bound


def _derive(bound: BoundDump) -> None:
    where = f"dump '{bound.path}'"
    for spec in bound.contract.fields:
        if spec.presence != "derived":
            continue
        inputs = spec.derive["of"]
        if not all(name in bound.arrays for name in inputs):
            continue
        arrays = [bound.arrays[name] for name in inputs]
        op = spec.derive["op"]
        try:
            value = _derive_value(op, arrays)
        except (ValueError, TypeError) as exc:  # TypeError: non-numeric inputs
            problem = f"cannot compute {spec.name} from {', '.join(inputs)}: {exc}"
            bound.add("derive", spec.name, "warning", f"{where}: {problem}")
            continue
        if op == "ratio" and (spread := _ratio_spread(arrays[0], arrays[1], value)) > _RATIO_TOLERANCE:
            problem = (
                f"{inputs[0]} / {inputs[1]} is not one constant (largest deviation {spread:.2g} of max "
                f"|{inputs[0]}|); {spec.name} is a least-squares fit"
            )
            bound.add("derive", spec.name, "warning", f"{where}: {problem}")
        if spec.dtypes and np.dtype(spec.dtypes[0]).kind in "fc" and op != "copy":
            # Report the dtype the pipeline would hold, not the float64 of the arithmetic.
            value = value.astype(spec.dtypes[0])
        bound.arrays[spec.name] = value
        bound.keys[spec.name] = "derived"


def _derive_value(op: str, arrays: list[np.ndarray]) -> np.ndarray:
    if op == "copy":
        return arrays[0]
    a, b = arrays
    if op == "product":
        np.broadcast_shapes(a.shape, b.shape)
        return a * b
    if a.shape != b.shape:
        msg = f"shapes {a.shape} and {b.shape} differ"
        raise ValueError(msg)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    denominator = float(np.vdot(b64, b64))
    if denominator == 0:
        msg = "the denominator is all zeros"
        raise ValueError(msg)
    return np.asarray(float(np.vdot(b64, a64)) / denominator)


def _ratio_spread(a: np.ndarray, b: np.ndarray, k: np.ndarray) -> float:
    a64 = a.astype(np.float64)
    scale = float(np.max(np.abs(a64))) or 1.0
    return float(np.max(np.abs(a64 - float(k) * b.astype(np.float64)))) / scale


@dataclass(frozen=True)
class RoleParity:
    """What the dumps show for one role.

    Attributes
    ----------
    role : str
        The role compared.
    status : {"compared", "not-compared", "missing"}
        Whether values were compared.
    left_key, right_key : str or None
        Fields used on each side.
    left_dtype, right_dtype : str or None
        Observed dtypes.
    permutation : tuple of int or None
        Axis order applied to the left array (from the contracts).
    permutation_check : {"verified", "ambiguous", "contradicted", None}
        Whether the data agree that this order is the best match.
    best_permutation : tuple of int or None
        The order that fits the data best when it is not the contracts' one.
    relation : {"equal", "allclose", "sign-flip", "ratio", "differ", None}
        What the values show.
    ratio : complex or float or None
        ``right = ratio × left`` for ``relation == "ratio"``.
    max_abs, max_rel : float or None
        ``max |right - left|`` and that divided by ``max |left|``.
    note : str
        Reason when not compared; how the shapes were matched otherwise.
    """

    role: str
    status: str
    left_key: str | None = None
    right_key: str | None = None
    left_dtype: str | None = None
    right_dtype: str | None = None
    permutation: tuple[int, ...] | None = None
    permutation_check: str | None = None
    best_permutation: tuple[int, ...] | None = None
    relation: str | None = None
    ratio: complex | float | None = None
    max_abs: float | None = None
    max_rel: float | None = None
    note: str = ""

    @property
    def text(self) -> str:
        """One-line summary for the ``observed`` column."""
        if self.status != "compared":
            return self.note
        parts = []
        if self.permutation is not None and self.permutation != tuple(range(len(self.permutation))):
            parts.append(f"permute({','.join(map(str, self.permutation))}) {self.permutation_check}")
        if self.permutation_check == "contradicted":
            best = ",".join(map(str, self.best_permutation))
            parts.append(f"data fit permute({best}) better")
        if self.note:
            parts.append(self.note)
        if self.left_dtype != self.right_dtype:
            parts.append(f"{self.left_dtype} → {self.right_dtype}")
        stats = f"max abs {self.max_abs:.3g}, max rel {self.max_rel:.3g}"
        if self.relation == "ratio":
            r = self.ratio
            k = f"({r.real:.3f}{r.imag:+.3f}j)" if isinstance(r, complex) else f"{r:.3f}"
            parts.append(f"constant ratio: right = {k} × left")
        elif self.relation == "sign-flip":
            parts.append("sign flip: right = −left")
        elif self.relation == "equal":
            parts.append("equal")
        else:
            parts.append(f"{'allclose' if self.relation == 'allclose' else 'values differ'} ({stats})")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-serializable data."""
        out = asdict(self)
        del out["note"]  # part of the observed text
        ratio = [self.ratio.real, self.ratio.imag] if isinstance(self.ratio, complex) else self.ratio
        return {
            **out,
            "permutation": list(self.permutation) if self.permutation is not None else None,
            "best_permutation": list(self.best_permutation) if self.best_permutation else None,
            "ratio": ratio,
            "observed": self.text,
        }


@dataclass
class ParityReport:
    """Two dumps bound to their contracts and compared role by role.

    Attributes
    ----------
    left, right : BoundDump
        The bindings (with their findings).
    results : dict
        Role -> :class:`RoleParity`, in matrix row order.
    rtol, atol : float
        Tolerances used.
    """

    left: BoundDump
    right: BoundDump
    results: dict[str, RoleParity]
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    @property
    def ok(self) -> bool:
        """True when both dumps match their contracts (no error findings)."""
        return self.left.ok and self.right.ok

    @property
    def findings(self) -> list[tuple[str, Finding]]:
        """Every binding finding as ``(side, finding)``."""
        return [("left", f) for f in self.left.findings] + [("right", f) for f in self.right.findings]

    def observed_text(self, role: str) -> str:
        """Return the observed-column text of ``role`` (empty if not a tensor role)."""
        result = self.results.get(role)
        return result.text if result is not None else ""

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-serializable data."""
        return {
            "ok": self.ok,
            "rtol": self.rtol,
            "atol": self.atol,
            "left": self.left.to_dict(),
            "right": self.right.to_dict(),
            "results": [r.to_dict() for r in self.results.values()],
        }

    def to_markdown(self) -> str:
        """Return the dumps, tolerances and binding findings as Markdown."""
        lines = [
            f"- {side} dump: `{d.path}` bound to `{d.contract.name}` ({dims_text(d.dims) or 'no dimensions bound'})"
            for side, d in (("Left", self.left), ("Right", self.right))
        ]
        lines += [f"- Tolerances: rtol = {self.rtol:g}, atol = {self.atol:g}", ""]
        rows = [
            [side, f.severity, f.rule, f"`{f.field}`", f.message] for side, f in self.findings if f.severity != "info"
        ]
        lines.append(
            markdown_table(["Dump", "Severity", "Check", "Field", "Message"], rows)
            if rows
            else "Both dumps match their contracts (no warnings or errors)."
        )
        return "\n".join(lines)


def compare_dumps(
    matrix: GapMatrix,
    left_dump: str | os.PathLike | Mapping[str, Any],
    right_dump: str | os.PathLike | Mapping[str, Any],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> ParityReport:
    """Compare two pipelines' tensor dumps role by role.

    Each dump is bound to its side's contract (:func:`bind_dump`). For every
    role both sides hold as arrays, the left array is permuted as the
    matrix says, the permutation is checked against the data (every axis
    order with matching sizes is tried), and the values are compared:
    maximum absolute and relative difference, ``allclose`` at the given
    tolerances, sign flip, and constant ratio (``right = k × left``).

    Parameters
    ----------
    matrix : GapMatrix
        From :func:`build_gap_matrix`; its contracts bind the dumps.
    left_dump, right_dump : str, path or mapping
        NPZ files (plain ``numpy.savez`` dicts) or mappings of arrays.
    rtol, atol : float
        Tolerances of the comparison (``numpy.allclose`` semantics).

    Returns
    -------
    ParityReport
        Add it to the matrix with :meth:`GapMatrix.with_parity`.

    Raises
    ------
    InputError
        If a dump file cannot be opened.
    UsageError
        If a tolerance is negative.

    Examples
    --------
    >>> import numpy as np
    >>> from ptyevidence.gap import build_gap_matrix
    >>> offsets = np.arange(12.0).reshape(3, 1, 2, 2) - 5
    >>> matrix = build_gap_matrix()
    >>> report = compare_dumps(matrix, {"coords_relative": offsets},
    ...                        {"coords_relative": -offsets.transpose(0, 3, 1, 2).astype(np.float32)})
    >>> print(report.results["coords.relative"].text)
    permute(0,3,1,2) verified; float64 → float32; sign flip: right = −left
    """
    if rtol < 0 or atol < 0:
        msg = f"tolerances must be non-negative (rtol = {rtol}, atol = {atol})"
        raise UsageError(msg)
    left = bind_dump(left_dump, matrix.left)
    right = bind_dump(right_dump, matrix.right)
    results = {}
    for row in matrix.rows:
        lp, rp = row.left_primary, row.right_primary
        if lp is None or rp is None or not (lp.is_array and rp.is_array):
            continue
        results[row.role] = _compare_role(row, left, right, rtol, atol)
    _flag_other_groups(matrix, results)
    return ParityReport(left, right, results, rtol, atol)


def _flag_other_groups(matrix: GapMatrix, results: dict[str, RoleParity]) -> None:
    """Say so on per-group roles when the dumps hold different groups (nn_indices differ)."""
    groups = results.get("nn_indices")
    if groups is None or groups.status != "compared" or groups.relation in ("equal", "allclose"):
        return
    for row in matrix.rows:
        result = results.get(row.role)
        if (
            row.role != "nn_indices"
            and result is not None
            and result.status == "compared"
            and "B" in (row.left_axes or ())
            and "B" in (row.right_axes or ())
        ):
            note = "; ".join(n for n in (result.note, "other groups: nn_indices differ") if n)
            results[row.role] = replace(result, note=note)


def _compare_role(row: GapRow, left: BoundDump, right: BoundDump, rtol: float, atol: float) -> RoleParity:
    lname, rname = row.left_primary.name, row.right_primary.name
    sides = (("left", left, lname), ("right", right, rname))
    missing = [side for side, bound, name in sides if name not in bound.arrays]
    if missing:
        broken = [side for side, bound, name in sides if bound.breaks(name)]
        if broken:
            note = f"not compared: the {' and '.join(broken)} dump breaks its contract here"
        else:
            note = f"not in the {missing[0]} dump" if len(missing) == 1 else "in neither dump"
            needs = [", ".join(p.derive["of"]) for p in (row.left_primary, row.right_primary) if _computed(p)]
            if needs:
                note += f" (computed from {'; '.join(needs)})"
        return RoleParity(row.role, "missing", lname, rname, note=note)
    a, b = left.arrays[lname], right.arrays[rname]
    base = {
        "role": row.role,
        "left_key": lname,
        "right_key": rname,
        "left_dtype": str(a.dtype),
        "right_dtype": str(b.dtype),
    }

    def not_compared(why: str, **kw: Any) -> RoleParity:
        return RoleParity(status="not-compared", note=f"not compared: {why}", **base, **kw)

    odd = [
        f"{side} {arr.dtype}"
        for side, arr in (("left", a), ("right", b))
        if arr.dtype.kind not in "biufc" or arr.dtype.names is not None
    ]
    if odd:
        return not_compared(f"{', '.join(odd)} is not numeric")
    if np.iscomplexobj(a) != np.iscomplexobj(b):
        return not_compared("complex and real values")
    check_budget(8 * (a.size + b.size) * (2 if np.iscomplexobj(a) else 1), f"comparing role {row.role}")
    kind = np.complex128 if np.iscomplexobj(a) else np.float64
    a, b = a.astype(kind), b.astype(kind)
    perm = row.permutation
    note = ""
    if perm is not None and a.ndim == len(perm):
        original, a = a, np.transpose(a, perm)
        if a.shape != b.shape:
            return not_compared(f"shapes {a.shape} (left, permuted) and {b.shape} differ", permutation=perm)
        check, best = _check_permutation(original, b, perm)
    else:
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            squeezed = (np.squeeze(a), np.squeeze(b))
            if squeezed[0].shape != squeezed[1].shape:
                return not_compared(f"shapes {a.shape} and {b.shape} do not correspond")
            a, b = squeezed
            shape = a.shape
            note = "compared after dropping singleton axes"
        else:
            if a.shape != b.shape:
                small = a.shape if a.shape != shape else b.shape
                note = f"{'left' if small == a.shape else 'right'} {small} broadcast to {shape}"
        a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
        check = best = None
        perm = None
    relation, ratio, max_abs, max_rel = _relate(a, b, rtol, atol)
    return RoleParity(
        status="compared",
        permutation=perm,
        permutation_check=check,
        best_permutation=best,
        relation=relation,
        ratio=ratio,
        max_abs=max_abs,
        max_rel=max_rel,
        note=note,
        **base,
    )


def _check_permutation(a: np.ndarray, b: np.ndarray, perm: tuple[int, ...]):
    """Check whether ``perm`` is the best fitting axis order of ``a`` onto ``b``."""
    if a.ndim > _MAX_PERMUTED_RANK:
        return "verified", None
    # Orders that differ only in where size-1 axes go move no data: keep one.
    unique: dict[tuple[int, ...], tuple[int, ...]] = {}
    for p in permutations(range(a.ndim)):
        if tuple(a.shape[i] for i in p) == b.shape:
            moved = tuple(i for i in p if a.shape[i] != 1)
            unique.setdefault(moved, p)
    perm_moved = tuple(i for i in perm if a.shape[i] != 1)
    candidates = [perm if moved == perm_moved else p for moved, p in unique.items()]
    if len(candidates) == 1:
        return "verified", None
    scores = {p: _misfit(np.transpose(a, p), b) for p in candidates}
    scores = {p: score for p, score in scores.items() if np.isfinite(score)}
    if not scores:  # non-finite values (an all-NaN dump) cannot tell the orders apart
        return "ambiguous", None
    best = min(scores.values())
    winners = [p for p, s in scores.items() if s <= best + 1e-12]
    if len(winners) == len(candidates):
        return "ambiguous", None
    if tuple(perm) in winners:
        return "verified", None
    return "contradicted", min(winners, key=lambda p: scores[p])


def _misfit(a: np.ndarray, b: np.ndarray) -> float:
    """Relative residual of the best fit ``b ≈ k a`` (0 for a perfect fit); NaN without finite pairs."""
    finite = np.isfinite(a) & np.isfinite(b)
    if not finite.all():
        if not finite.any():
            return float("nan")
        a, b = a[finite], b[finite]
    norm_b = float(np.linalg.norm(b.ravel()))
    aa = float(np.vdot(a, a).real)
    if aa == 0:
        return 1.0 if norm_b else 0.0
    k = np.vdot(a, b) / aa
    return float(np.linalg.norm((b - k * a).ravel())) / (norm_b or 1.0)


def _relate(a: np.ndarray, b: np.ndarray, rtol: float, atol: float):
    finite = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(b - a)[finite]
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(a[finite]).max()) if diff.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    if max_abs == 0 and np.array_equal(np.isnan(a), np.isnan(b)):
        return "equal", None, max_abs, max_rel
    if np.allclose(b, a, rtol=rtol, atol=atol, equal_nan=True):
        return "allclose", None, max_abs, max_rel
    if np.any(a[finite] != 0) and np.allclose(b, -a, rtol=rtol, atol=atol, equal_nan=True):
        return "sign-flip", -1.0, max_abs, max_rel
    aa = float(np.vdot(a[finite], a[finite]).real)
    if aa > 0:
        k = np.vdot(a[finite], b[finite]) / aa
        if np.allclose(b, k * a, rtol=rtol, atol=atol, equal_nan=True):
            value = complex(k) if np.iscomplexobj(k) and abs(k.imag) > 1e-12 * abs(k) else float(np.real(k))
            return "ratio", value, max_abs, max_rel
    return "differ", None, max_abs, max_rel


def _to_numpy(key: Any, value: Any) -> np.ndarray:
    """Convert a numpy array, tensor or scalar to a numpy array without importing a framework."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, Mapping):
        msg = f"value for '{key}' is a nested mapping; pass its arrays at the top level"
        raise UsageError(msg)
    converted = value
    try:
        if hasattr(converted, "detach"):  # torch: leave autograd, move to host
            converted = converted.detach()
            if hasattr(converted, "cpu"):
                converted = converted.cpu()
        if hasattr(converted, "numpy"):  # torch and eager TensorFlow tensors
            converted = converted.numpy()
        array = np.asarray(converted)
    except (TypeError, ValueError, RuntimeError, AttributeError) as exc:
        msg = (
            f"value for '{key}' of type {type(value).__name__} cannot be converted to a numpy "
            f"array ({exc}); pass numpy arrays or tensors"
        )
        raise UsageError(msg) from None
    if array.dtype.hasobject:
        msg = (
            f"value for '{key}' of type {type(value).__name__} is not numeric (dtype object); "
            "pass numpy arrays or tensors"
        )
        raise UsageError(msg)
    return array


def capture(mapping: Mapping[str, Any] | Any, path: str | os.PathLike, *, force: bool = False) -> str:
    """Dump a pipeline's batch or grouped dict to an NPZ for :func:`compare_dumps`.

    Values may be numpy arrays, numbers, or tensors: anything with
    ``.numpy()`` (TensorFlow eager tensors) or ``.detach().cpu().numpy()``
    (PyTorch); no framework is imported here. ``None`` values are skipped,
    so a grouped dict with ``Y=None`` can be passed as it is. The file is
    written deterministically and atomically.

    Parameters
    ----------
    mapping : mapping or object with ``items()``
        Name -> value, e.g. the TF grouped dict or a TensorDict merged with
        the probe and scaling of the batch tuple.
    path : str or path
        Output ``.npz``.
    force : bool
        Replace an existing file.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    UsageError
        If a value cannot be converted to a numeric array, or ``path``
        exists and ``force`` is False.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = capture({"nn_indices": np.arange(8).reshape(4, 2), "Y": None},
    ...                os.path.join(tempfile.mkdtemp(), "dump.npz"))
    >>> sorted(np.load(path).files)
    ['nn_indices']
    """
    if not hasattr(mapping, "items"):
        msg = f"capture needs a mapping of name -> array, got {type(mapping).__name__}"
        raise UsageError(msg)
    return write_npz(path, _arrays_from_mapping(mapping), force=force)
