"""Align two pipeline contracts by role and classify every difference.

A gap matrix has one row per role (``coords.relative``, ``probe``...). Each
row lists the fields both pipelines use for that role and the kinds of
difference between them (:data:`KINDS`); a row can carry several kinds.
Axis-order differences come with the permutation that maps the left layout
to the right one, computed from the named axes of the symbolic shapes.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any

from .._format import markdown_table, shape_text
from .._json import dumps_strict
from ..contract.model import DatasetContract, FieldSpec, load_contract

__all__ = [
    "DEFAULT_LEFT",
    "DEFAULT_RIGHT",
    "KINDS",
    "GapMatrix",
    "GapRow",
    "axis_permutation",
    "build_gap_matrix",
    "format_axes",
    "upstream_text",
]

#: Kinds of difference, in the order they are reported.
KINDS = (
    "same",
    "rename",
    "axis-order",
    "rank/shape",
    "dtype",
    "semantics",
    "missing-left",
    "missing-right",
)
#: Pipelines compared when none are named.
DEFAULT_LEFT = "ptychopinn-tf-grouped"
DEFAULT_RIGHT = "ptychopinn-torch-mmap"

_OPERATORS = {"product": " × ", "ratio": " ÷ "}
#: Columns of :meth:`GapMatrix.to_csv` before the extra ones.
_CSV_COLUMNS = (
    *("role", "label", "left", "left_shape", "left_dtype", "right", "right_shape", "right_dtype"),
    *("kinds", "permutation", "details", "left_source", "right_source", "observed", "left_upstream", "right_upstream"),
)


def axis_permutation(left_axes: Sequence[str | int], right_axes: Sequence[str | int]) -> tuple[int, ...] | None:
    """Return the permutation that reorders left axes into the right order.

    Axes are matched by name (integers match equal integers); repeated
    names are matched in order, so the first ``N`` on the left maps to the
    first ``N`` on the right. The result ``perm`` satisfies
    ``numpy.transpose(left, perm).shape == right.shape`` and is what
    ``torch.Tensor.permute`` takes.

    Parameters
    ----------
    left_axes, right_axes : sequence of str or int
        Canonical axis names of the two layouts (see
        :meth:`DatasetContract.canonical_axes`).

    Returns
    -------
    tuple of int or None
        None when the two are not reorderings of the same axes (different
        rank or different axis names): a rank/shape difference.

    Examples
    --------
    >>> axis_permutation(("B", "N", "N", "C"), ("B", "C", "N", "N"))
    (0, 3, 1, 2)
    >>> axis_permutation(("B", 1, "xy", 1), ("B", 1, 1, "xy"))
    (0, 1, 3, 2)
    >>> axis_permutation(("N", "N"), ("B", "C", "P", "N", "N")) is None
    True
    """
    if len(left_axes) != len(right_axes):
        return None
    used: set[int] = set()
    perm = []
    for axis in right_axes:
        match = next((i for i, a in enumerate(left_axes) if i not in used and _same_axis(a, axis)), None)
        if match is None:
            return None
        used.add(match)
        perm.append(match)
    return tuple(perm)


def _same_axis(a: str | int, b: str | int) -> bool:
    return type(a) is type(b) and a == b


def format_axes(axes: Sequence[str | int] | None) -> str:
    """Return a compact shape text: ``(B,N,N,C)``, ``(M,)``, ``()`` or ``any``.

    Examples
    --------
    >>> format_axes(("B", 1, "xy", "C")), format_axes(("M",)), format_axes(())
    ('(B,1,xy,C)', '(M,)', '()')
    """
    return shape_text(axes, sep=",")


def _format_permutation(perm: Sequence[int]) -> str:
    return "permute(" + ",".join(str(p) for p in perm) + ")"


def _primary(fields: Sequence[FieldSpec]) -> FieldSpec | None:
    """Return the field a side is compared by: its first array field, else its first."""
    arrays = [f for f in fields if f.is_array]
    return arrays[0] if arrays else (fields[0] if fields else None)


def _effective_name(spec: FieldSpec) -> str:
    """Return the key a reader of this pipeline looks up (a copy reads its source)."""
    if spec.presence == "derived" and spec.derive["op"] == "copy":
        return spec.derive["of"][0]
    return spec.name


def _computed(spec: FieldSpec) -> bool:
    """Return True for a derived field whose value is computed, not a copy of a stored one."""
    return spec.presence == "derived" and spec.derive["op"] != "copy"


def _field_text(spec: FieldSpec) -> str:
    """One field as shown in a matrix cell: name, shape, dtype, presence."""
    if spec.presence == "absent":
        return "— (absent)"
    if spec.presence == "behaviour":
        return f"`{spec.name}` (behaviour)"
    dtype = _dtype_name(spec) or "any dtype"
    text = f"`{spec.name}` {format_axes(spec.shape)} {dtype}"
    if spec.presence == "derived":
        expr = _OPERATORS.get(spec.derive["op"], "").join(f"`{n}`" for n in spec.derive["of"])
        text += f" = {expr}" + (" (not stored)" if _computed(spec) else "")
    return text


@dataclass(frozen=True)
class GapRow:
    """One role of a gap matrix.

    Attributes
    ----------
    role : str
        The role both sides were aligned on (``coords.relative``).
    label : str
        Human name of the role (``Relative offsets``).
    left, right : tuple of FieldSpec
        Every field of each contract with this role (behaviours and
        documented absences included); empty when the contract is silent.
    kinds : tuple of str
        Kinds of difference, a subset of :data:`KINDS` in that order.
    details : tuple of str
        One sentence per observation (permutation, dtype pair, differing
        notes...).
    permutation : tuple of int or None
        For ``axis-order``: ``numpy.transpose``/``permute`` order mapping the
        left layout onto the right one; identity when the layouts agree.
    left_axes, right_axes : tuple or None
        Canonical axis names of the compared fields (None without shape).
    observed : str
        Result of the parity check on tensor dumps, empty without dumps.
    """

    role: str
    label: str
    left: tuple[FieldSpec, ...]
    right: tuple[FieldSpec, ...]
    kinds: tuple[str, ...]
    details: tuple[str, ...] = ()
    permutation: tuple[int, ...] | None = None
    left_axes: tuple[str | int, ...] | None = None
    right_axes: tuple[str | int, ...] | None = None
    observed: str = ""

    @property
    def left_primary(self) -> FieldSpec | None:
        """The left field the row compares (first array field)."""
        return _primary(self.left)

    @property
    def right_primary(self) -> FieldSpec | None:
        """The right field the row compares (first array field)."""
        return _primary(self.right)

    @property
    def left_sources(self) -> tuple[str, ...]:
        """Citations of every left field, in order, without repeats."""
        return tuple(dict.fromkeys(chain.from_iterable(f.source for f in self.left)))

    @property
    def right_sources(self) -> tuple[str, ...]:
        """Citations of every right field, in order, without repeats."""
        return tuple(dict.fromkeys(chain.from_iterable(f.source for f in self.right)))

    def side_text(self, side: str) -> str:
        """Return the matrix cell for ``side`` ("left" or "right")."""
        fields = self.left if side == "left" else self.right
        return "; ".join(_field_text(f) for f in fields) if fields else "— (not described)"

    def to_dict(self) -> dict[str, Any]:
        """Return the row as JSON-serializable data."""

        def side(fields: tuple[FieldSpec, ...], axes, sources) -> dict[str, Any]:
            return {
                "fields": [
                    {
                        "name": f.name,
                        "presence": f.presence,
                        "shape": list(f.shape) if f.shape is not None else None,
                        "dtype": f.dtypes[0] if f.dtypes else None,
                        "required": f.required,
                        **({"derive": dict(f.derive)} if f.derive else {}),
                        "semantics": dict(f.semantics),
                    }
                    for f in fields
                ],
                "axes": list(axes) if axes is not None else None,
                "source": list(sources),
            }

        return {
            "role": self.role,
            "label": self.label,
            "kinds": list(self.kinds),
            "permutation": list(self.permutation) if self.permutation is not None else None,
            "details": list(self.details),
            "left": side(self.left, self.left_axes, self.left_sources),
            "right": side(self.right, self.right_axes, self.right_sources),
            "observed": self.observed,
        }


@dataclass(frozen=True)
class GapMatrix:
    """Two pipeline contracts aligned by role, with every difference classified.

    Attributes
    ----------
    left, right : DatasetContract
        The compared contracts.
    rows : tuple of GapRow
        One row per role, left contract order first, then roles only the
        right contract has.
    parity : object or None
        A :class:`ptyevidence.gap.ParityReport` when tensor dumps were
        compared (see :meth:`with_parity`).
    """

    left: DatasetContract
    right: DatasetContract
    rows: tuple[GapRow, ...]
    parity: Any = field(default=None, compare=False)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in self.summary().items() if n)
        return f"<GapMatrix {self.left.name} vs {self.right.name}: {len(self.rows)} roles ({kinds})>"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def row(self, role: str) -> GapRow:
        """Return the row of ``role``.

        Raises
        ------
        KeyError
            If no row has that role.
        """
        for row in self.rows:
            if row.role == role:
                return row
        msg = f"no row with role '{role}'; roles: {', '.join(r.role for r in self.rows)}"
        raise KeyError(msg)

    def summary(self) -> dict[str, int]:
        """Return the number of rows carrying each kind (every kind listed)."""
        return {kind: sum(kind in row.kinds for row in self.rows) for kind in KINDS}

    def breaks(self) -> list[str]:
        """Return what breaks when code written for one pipeline gets the other's data.

        One sentence per kind present, naming the rows concerned; derived
        from the rows, so it changes when the contracts change.
        """
        left, right = self.left.name, self.right.name
        groups: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for row in self.rows:
            lp, rp = row.left_primary, row.right_primary
            for kind in row.kinds:
                if kind == "semantics":
                    keys = _differing_keys(row)
                    groups[kind].append(f"{row.label} ({', '.join(keys)})" if keys else row.label)
                elif kind == "axis-order":
                    groups[kind].append(f"{row.label} {_format_permutation(row.permutation)}")
                elif kind == "rank/shape":
                    groups[kind].append(f"{row.label} {format_axes(row.left_axes)} vs {format_axes(row.right_axes)}")
                elif kind == "dtype":
                    groups[kind].append(f"{row.label} {_dtype_name(lp)} → {_dtype_name(rp)}")
                elif kind == "rename":
                    groups[kind].append(f"`{_names(row.left)}` → `{_names(row.right)}`")
                elif kind in ("missing-left", "missing-right"):
                    groups[kind].append(row.label)
        lead = {
            "semantics": "Same role, different meaning; nothing raises, results change silently",
            "axis-order": "Axes arrive in another order; permute them, or a shape error (or, "
            "with equal sizes, silently wrong data) follows",
            "rank/shape": "Shapes differ beyond a permutation; reshape, expand or squeeze first",
            "dtype": "Dtypes differ; cast, or expect precision loss and framework type errors",
            "rename": "Lookups by name fail (KeyError/AttributeError)",
            "missing-right": f"Only {left} provides these; code that needs them fails or "
            f"falls back to defaults on {right}",
            "missing-left": f"Only {right} provides these; code that needs them fails or "
            f"falls back to defaults on {left}",
        }
        return [f"{text}: " + "; ".join(groups[kind]) + "." for kind, text in lead.items() if groups[kind]]

    def with_parity(self, parity: Any) -> GapMatrix:
        """Return a copy whose rows carry the observed parity results.

        Parameters
        ----------
        parity : ParityReport
            From :func:`ptyevidence.gap.compare_dumps` on this matrix.
        """
        rows = tuple(replace(r, observed=parity.observed_text(r.role)) for r in self.rows)
        return replace(self, rows=rows, parity=parity)

    def to_dict(self) -> dict[str, Any]:
        """Return the matrix as JSON-serializable data (same rows as the tables)."""

        def contract(c: DatasetContract) -> dict[str, Any]:
            described = {key: getattr(c, key) for key in ("name", "title", "origin", "framework")}
            return {**described, "upstream": c.extra.get("upstream")}

        return {
            "left": contract(self.left),
            "right": contract(self.right),
            "kinds": list(KINDS),
            "rows": [row.to_dict() for row in self.rows],
            "summary": self.summary(),
            "breaks": self.breaks(),
            "parity": self.parity.to_dict() if self.parity is not None else None,
        }

    def to_json(self) -> str:
        """Return :meth:`to_dict` as indented JSON text ending in a newline."""
        return dumps_strict(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_csv(self, columns: Mapping[str, Mapping[str, str]] | None = None) -> str:
        """Return one CSV line per row (``;`` joins lists inside a cell).

        Parameters
        ----------
        columns : mapping, optional
            Extra columns after the matrix's own: column name -> role -> cell
            (a role without a cell gets an empty one), e.g.
            :meth:`ptyevidence.gap.observe.ObserveReport.csv_columns`.
        """
        extra = dict(columns or {})
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*_CSV_COLUMNS, *extra])
        for row in self.rows:
            writer.writerow(
                [
                    row.role,
                    row.label,
                    *_csv_side(row.left, row.left_primary),
                    *_csv_side(row.right, row.right_primary),
                    ";".join(row.kinds),
                    _format_permutation(row.permutation) if "axis-order" in row.kinds else "",
                    "; ".join(row.details),
                    "; ".join(row.left_sources),
                    "; ".join(row.right_sources),
                    row.observed,
                    upstream_text(self.left),
                    upstream_text(self.right),
                    *(cells.get(row.role, "") for cells in extra.values()),
                ]
            )
        return buffer.getvalue()

    def to_markdown(self, heading_level: int = 1) -> str:
        """Return the matrix document: table, summary by kind, what breaks.

        Parameters
        ----------
        heading_level : int
            Level of the top heading (2 to nest it in a larger document).
        """
        h = "#" * heading_level
        with_observed = self.parity is not None
        header = ["Role", f"Left: {self.left.name}", f"Right: {self.right.name}", "Kinds", "Details"]
        header += ["Observed"] if with_observed else []
        header += ["Citations"]
        rows = []
        for row in self.rows:
            cites = [f"{side}: {', '.join(c)}" for side, c in (("L", row.left_sources), ("R", row.right_sources)) if c]
            cells = [
                f"{row.label} (`{row.role}`)",
                row.side_text("left"),
                row.side_text("right"),
                ", ".join(row.kinds),
                "; ".join(row.details) or "-",
            ]
            cells += [row.observed or "-"] if with_observed else []
            cells += ["; ".join(cites) or "-"]
            rows.append(cells)
        out = [
            f"{h} Gap matrix: `{self.left.name}` vs `{self.right.name}`",
            "",
            f"- Left: {self.left.title} ({self.left.origin}){_cited_at(self.left)}",
            f"- Right: {self.right.title} ({self.right.origin}){_cited_at(self.right)}",
            (
                "- Rows are aligned by role; shapes use each contract's own axis names, and the "
                "details give permutations in canonical axis names."
            ),
            "",
            markdown_table(header, rows),
            "",
            f"{h}# Summary by kind",
            "",
            markdown_table(
                ["Kind", "Rows"], [[k, n] for k, n in self.summary().items()] + [["(rows in total)", len(self.rows)]]
            ),
            "",
            f"{h}# What breaks if you swap pipelines",
            "",
        ]
        out += [f"- {line}" for line in self.breaks()] or ["- Nothing: every row is the same."]
        if with_observed:
            out += ["", f"{h}# Parity of the tensor dumps", "", self.parity.to_markdown()]
        return "\n".join(out).rstrip() + "\n"

    def render(self, fmt: str = "markdown") -> str:
        """Return the matrix as ``markdown``, ``csv`` or ``json`` text."""
        renderers = {"markdown": self.to_markdown, "csv": self.to_csv, "json": self.to_json}
        if fmt not in renderers:
            msg = f"format '{fmt}' is not one of {', '.join(renderers)}"
            raise ValueError(msg)
        return renderers[fmt]()


def upstream_text(contract: DatasetContract) -> str:
    """Return ``repository@commit`` of the contract's citations, or an empty string.

    Examples
    --------
    >>> from ptyevidence.contract import load_contract
    >>> upstream_text(load_contract("ptychopinn-torch-mmap"))
    'hoidn/PtychoPINN@712c23f3bb6581ee4300c5572e3817a3d931165e'
    """
    upstream = contract.extra.get("upstream")
    if not isinstance(upstream, dict) or not upstream.get("commit"):
        return ""
    repository = upstream.get("repository")
    return f"{repository}@{upstream['commit']}" if repository else str(upstream["commit"])


def _cited_at(contract: DatasetContract) -> str:
    text = upstream_text(contract)
    return f"; citations at {text}" if text else ""


def _dtype_name(spec: FieldSpec) -> str:
    """Canonical dtype of a field for display; ``any`` reads "as stored"."""
    if not spec.dtypes:
        return ""
    return "as stored" if spec.dtypes[0] == "any" else spec.dtypes[0]


def _csv_side(fields: Sequence[FieldSpec], spec: FieldSpec | None) -> list[str]:
    """Field names, shape and dtype cells of one side of a CSV row (shape and dtype of arrays only)."""
    array = spec is not None and spec.is_array
    return [
        "; ".join(f.name for f in fields),
        format_axes(spec.shape) if array else "",
        _dtype_name(spec) if array else "",
    ]


def _names(fields: Iterable[FieldSpec]) -> str:
    return ", ".join(_effective_name(f) for f in fields if f.is_array)


def _merged_semantics(fields: Sequence[FieldSpec]) -> dict[str, str]:
    notes: dict[str, str] = {}
    for spec in fields:
        for key, value in spec.semantics.items():
            notes.setdefault(key, value)
    return notes


def _differing_keys(row: GapRow) -> list[str]:
    left, right = _merged_semantics(row.left), _merged_semantics(row.right)
    return [k for k in left if k in right and left[k] != right[k]]


def build_gap_matrix(
    left: str | os.PathLike | DatasetContract = DEFAULT_LEFT,
    right: str | os.PathLike | DatasetContract = DEFAULT_RIGHT,
) -> GapMatrix:
    """Align two pipeline contracts by role and classify each difference.

    Roles present in only one contract, or documented there as absent,
    give ``missing-left``/``missing-right``. Otherwise the first array
    field of each side is compared: effective names (aliases count as the
    same name), canonical axes (permutation or rank/shape), canonical
    dtypes, and the named semantic notes both sides state.

    Parameters
    ----------
    left, right : str, path or DatasetContract
        Built-in names (``ptychopinn-tf-grouped``, ``ptychopinn-tf-container``,
        ``ptychopinn-torch-mmap``, ``ptychopinn-torch-bridge``) or contract
        files.

    Returns
    -------
    GapMatrix

    Raises
    ------
    InputError
        If a contract cannot be loaded.

    Examples
    --------
    >>> matrix = build_gap_matrix("ptychopinn-tf-grouped", "ptychopinn-torch-mmap")
    >>> row = matrix.row("diffraction.grouped")
    >>> row.kinds
    ('rename', 'axis-order')
    >>> row.details[0]
    '(B,N,N,C) → (B,C,N,N) = permute(0,3,1,2)'
    """
    lc, rc = load_contract(left), load_contract(right)
    roles = list(dict.fromkeys([f.role for f in lc.fields] + [f.role for f in rc.fields]))
    rows = tuple(_build_row(role, lc, rc) for role in roles)
    return GapMatrix(lc, rc, rows)


def _build_row(role: str, lc: DatasetContract, rc: DatasetContract) -> GapRow:
    left, right = lc.fields_with_role(role), rc.fields_with_role(role)
    label = next((f.label for f in chain(left, right) if f.label), role)
    left_present = any(f.presence != "absent" for f in left)
    right_present = any(f.presence != "absent" for f in right)
    details: list[str] = []
    kinds: list[str] = []
    perm = left_axes = right_axes = None
    if not left_present or not right_present:
        if left_present:
            kinds.append("missing-right")
        elif right_present:
            kinds.append("missing-left")
        else:
            details.append("absent from both pipelines")
        details += [
            f"{side}: {v}" for side, fs in (("left", left), ("right", right)) for f in fs for v in f.semantics.values()
        ]
    else:
        lp, rp = _primary(left), _primary(right)
        if lp.is_array and rp.is_array:
            left_axes = lc.canonical_axes(lp.shape) if lp.shape is not None else None
            right_axes = rc.canonical_axes(rp.shape) if rp.shape is not None else None
            perm = _compare_arrays(lp, rp, left, right, left_axes, right_axes, kinds, details)
        elif lp.is_array != rp.is_array:
            kinds.append("semantics")
            stored, behaviour = ("left", "right") if lp.is_array else ("right", "left")
            details.append(f"{stored} holds a tensor; {behaviour} only has a behaviour")
        _compare_notes(left, right, kinds, details)
    ordered = tuple(k for k in KINDS if k in kinds) or ("same",)
    return GapRow(role, label, left, right, ordered, tuple(details), perm, left_axes, right_axes)


def _compare_arrays(
    lp: FieldSpec, rp: FieldSpec, left, right, left_axes, right_axes, kinds, details
) -> tuple[int, ...] | None:
    if not _same_name(lp, rp):
        kinds.append("rename")
        details.append(f"`{_effective_name(lp)}` → `{_effective_name(rp)}`")
    n_left = sum(f.is_array for f in left)
    n_right = sum(f.is_array for f in right)
    if n_left != n_right:
        kinds.append("rename")
        details.append(
            f"held in {n_left} field(s) on the left, {n_right} on the right ({_names(left)} vs {_names(right)})"
        )
    for spec, side in ((lp, "left"), (rp, "right")):
        if _computed(spec) and not (_computed(lp) and _computed(rp)):
            kinds.append("semantics")
            details.append(
                f"{side} is not stored; it is computed as "
                + _field_text(spec).split(" = ", 1)[1].replace(" (not stored)", "")
            )
    perm = None
    if left_axes is None or right_axes is None:
        details.append("shape not specified on " + ("the left" if left_axes is None else "the right"))
    else:
        perm = axis_permutation(left_axes, right_axes)
        if perm is None:
            kinds.append("rank/shape")
            details.append(f"{format_axes(left_axes)} vs {format_axes(right_axes)}")
        elif perm != tuple(range(len(perm))):
            kinds.append("axis-order")
            details.insert(0, f"{format_axes(left_axes)} → {format_axes(right_axes)} = {_format_permutation(perm)}")
    if lp.dtypes and rp.dtypes and lp.dtypes[0] != rp.dtypes[0]:
        kinds.append("dtype")
        details.append(f"{_dtype_name(lp)} → {_dtype_name(rp)}")
    elif not lp.dtypes or not rp.dtypes:
        details.append("dtype not specified on " + ("the left" if not lp.dtypes else "the right"))
    return perm


def _same_name(lp: FieldSpec, rp: FieldSpec) -> bool:
    if _computed(lp) or _computed(rp):
        return True  # a computed value has no key to rename
    a, b = _effective_name(lp), _effective_name(rp)
    return a == b or a in rp.aliases or b in lp.aliases


def _compare_notes(left, right, kinds: list[str], details: list[str]) -> None:
    notes_left, notes_right = _merged_semantics(left), _merged_semantics(right)
    for key in dict.fromkeys(list(notes_left) + list(notes_right)):
        a, b = notes_left.get(key), notes_right.get(key)
        if a is not None and b is not None:
            if a != b:
                kinds.append("semantics")
                details.append(f"{key}: left '{a}'; right '{b}'")
        elif a is not None:
            details.append(f"{key} (left only): {a}")
        else:
            details.append(f"{key} (right only): {b}")
