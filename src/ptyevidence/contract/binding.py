"""The one binding of a file's keys to a contract's fields.

Validation, fixtures, the PyTorch check and tensor-dump parity all ask a file
the same questions before they read a value: which key holds each field (its
name or an alias), which sizes the symbolic dimensions take, in which order
the stack is stored, how many scan positions there are, and which fields hold
one entry per position. :func:`bind` answers them once, from the headers
alone, and records every problem it meets as a :class:`Finding`.

A field is *per-scan* when its shape starts with the positions dimension: the
leading canonical dimension of the contract's layout field (``N`` of
``diffraction`` (N, H, W) in ``data001``). Other fields are *whole*.

Dataset contracts bind a file: each dimension takes the size of the first
field (in contract order) that names it. Pipeline contracts bind a tensor
dump, which is often partial: each dimension takes the size most fields agree
on, so the one wrongly laid out array is the one reported.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

import numpy as np

from .._format import shape_text
from ..exceptions import InputError
from ..readers.base import Source
from ..readers.layout import canonical_shape, source_layout
from ..readers.memory import ArraySource
from .model import DatasetContract, FieldSpec, load_contract

__all__ = ["ArraySource", "Binding", "BoundField", "Finding", "bind", "shape_fits"]


@dataclass(frozen=True)
class Finding:
    """One observation about a dataset.

    Attributes
    ----------
    rule : str
        Rule identifier (``required``, ``dtype``, ``shape``, or a contract rule id).
    field : str
        Field (or ``*`` for the whole file).
    severity : {"error", "warning", "info"}
        Errors fail validation.
    message : str
        What was found and, where useful, what to do.
    """

    rule: str
    field: str
    severity: str
    message: str


@dataclass(frozen=True)
class BoundField:
    """One contract field found in a file.

    Attributes
    ----------
    name : str
        Contract field name.
    key : str
        Key in the file (the name, or the alias used).
    alias_severity : str or None
        Severity the contract gives the alias used; None for the canonical name.
    dtype : numpy.dtype
        Stored dtype.
    stored_shape : tuple of int
        Shape as stored.
    shape : tuple of int
        Shape in canonical order (the stack's legacy (H, W, N) becomes (N, H, W)).
    readable : bool
        False for Python objects or named fields, which are never loaded.
    fits : bool
        The shape matches the contract (canonical or a tolerated alternative).
    per_scan : bool
        The field holds one entry per scan position (leading dimension N).
    """

    name: str
    key: str
    alias_severity: str | None
    dtype: np.dtype
    stored_shape: tuple[int, ...]
    shape: tuple[int, ...]
    readable: bool = True
    fits: bool = True
    per_scan: bool = False


@dataclass(frozen=True)
class Binding:
    """A file's keys bound to a contract's fields.

    Attributes
    ----------
    contract : DatasetContract
        The contract bound to.
    path : str
        The file (``<mapping>`` for in-memory arrays).
    fields : dict
        Field name -> :class:`BoundField`, in contract order, for every field found.
    dims : dict
        Symbolic dimension -> size.
    dim_fields : dict
        Symbolic dimension -> the field that bound it.
    layout : str or None
        Stored order of the layout field's stack (``canonical`` or ``legacy``);
        None when the contract has no layout or the stack is not a readable 3-D array.
    positions_dim : str or None
        The positions dimension (``N``), from the contract's layout.
    unknown : tuple of str
        Keys of the file that no field took, in file order.
    alias_copies : dict
        Field name -> alias keys stored *beside* the field's own key (e.g.
        ``diff3d`` next to ``diffraction``): copies kept for readers of the
        alias, which the contract's ``alias_copy_equal`` rules compare.
    findings : tuple of Finding
        Alias, required, unknown-key, object-array, dtype, layout, shape and
        dimension findings, in the order they were met.
    """

    contract: DatasetContract
    path: str
    fields: Mapping[str, BoundField]
    dims: Mapping[str, int]
    dim_fields: Mapping[str, str]
    layout: str | None
    positions_dim: str | None
    unknown: tuple[str, ...]
    findings: tuple[Finding, ...]
    alias_copies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def keys(self) -> dict[str, str]:
        """Field name -> key in the file."""
        return {name: f.key for name, f in self.fields.items()}

    @property
    def aliases(self) -> dict[str, tuple[str, str]]:
        """Field name -> (alias key used, its severity), for fields found under an alias."""
        return {n: (f.key, f.alias_severity) for n, f in self.fields.items() if f.alias_severity}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Field name -> shape in canonical order."""
        return {name: f.shape for name, f in self.fields.items()}

    @property
    def n_positions(self) -> int | None:
        """Number of scan positions (the size of the positions dimension), if bound."""
        return self.dims.get(self.positions_dim) if self.positions_dim else None

    @property
    def per_scan(self) -> tuple[str, ...]:
        """Fields found that hold one entry per scan position, in contract order."""
        return tuple(name for name, f in self.fields.items() if f.per_scan)

    @property
    def whole(self) -> tuple[str, ...]:
        """Fields found that are not per scan position, in contract order."""
        return tuple(name for name, f in self.fields.items() if not f.per_scan)

    @property
    def missing(self) -> tuple[str, ...]:
        """Stored contract fields the file lacks, in contract order."""
        return tuple(s.name for s in self.contract.fields if s.presence == "stored" and s.name not in self.fields)

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.severity == "error" for f in self.findings)


def bind(contract: str | os.PathLike | DatasetContract, source: Source | ArraySource, layout: str = "auto") -> Binding:
    """Bind the keys of an open source to the fields of a contract.

    Only headers are read (``keys()`` and ``info(key)``): no value is loaded.

    Parameters
    ----------
    contract : str, path or DatasetContract
        A dataset contract (binding a file) or a pipeline contract (binding
        a tensor dump).
    source : Source
        An open reader (:func:`ptyevidence.open_source`), an
        :class:`ArraySource`, or anything with ``path``, ``keys()`` and
        ``info(key)`` returning an :class:`~ptyevidence.readers.ArrayInfo`.
    layout : {"auto", "canonical", "legacy"}
        Stored order of the layout field's stack; ``auto`` decides from the
        evidence and refuses when it is ambiguous.

    Returns
    -------
    Binding

    Raises
    ------
    InputError
        If the stack's layout is ambiguous under ``auto``.

    Examples
    --------
    >>> import numpy as np
    >>> arrays = {"diff3d": np.zeros((8, 8, 20), np.float32), "xcoords": np.arange(20.0),
    ...           "ycoords": np.zeros(20)}
    >>> binding = bind("legacy", ArraySource(arrays, "scan.npz"))
    >>> binding.keys["diffraction"], binding.layout, binding.n_positions
    ('diff3d', 'legacy', 20)
    >>> binding.per_scan
    ('diffraction', 'xcoords', 'ycoords')
    """
    spec = load_contract(contract)
    binder = _DumpBinder if spec.kind == "pipeline" else _FileBinder
    return binder(spec, source, layout).run()


def shape_fits(symbolic: Sequence[str | int], shape: Sequence[int], dims: Mapping[str, int]) -> bool:
    """Return True when ``shape`` fits ``symbolic`` given the sizes already in ``dims``.

    A name must take one size throughout (and the size in ``dims`` if bound);
    an integer must match exactly.

    Examples
    --------
    >>> shape_fits(("N", "H", "H"), (5, 8, 8), {}), shape_fits(("N", 2), (5, 3), {"N": 5})
    (True, False)
    """
    if len(symbolic) != len(shape):
        return False
    local: dict[str, int] = {}
    for sym, size in zip(symbolic, shape):
        want = sym if isinstance(sym, int) else dims.get(sym, local.get(sym))
        if want is not None and want != size:
            return False
        if isinstance(sym, str):
            local[sym] = size
    return True


class _Binder:
    """What binding a file and binding a dump share: keys, headers, the result."""

    def __init__(self, contract: DatasetContract, source: Any, layout: str) -> None:
        self.contract = contract
        self.source = source
        self.requested_layout = layout
        self.path = str(source.path)
        self.findings: list[Finding] = []
        self.fields: dict[str, BoundField] = {}
        self.dims: dict[str, int] = {}
        self.dim_fields: dict[str, str] = {}
        self.layout: str | None = None
        lay = contract.layout or {}
        self.layout_field = lay.get("field")
        self.positions_dim = (lay.get("canonical") or [None])[0]
        self.alias_copies: dict[str, tuple[str, ...]] = {}

    def add(self, rule: str, fld: str, severity: str, message: str) -> None:
        self.findings.append(Finding(rule, fld, severity, message))

    def header(
        self, check: str, name: str, severity: str, message: str, generic: str | None = None, fld: str | None = None
    ) -> None:
        """Record a header finding under the contract rule that names it, else under ``generic`` (default ``check``).

        ``check`` is one of :data:`~ptyevidence.contract.model.HEADER_CHECKS`
        and ``name`` the field (or, for ``dims``, the dimension) it concerns;
        the finding is about field ``fld`` (default ``name``).
        """
        fld = name if fld is None else fld
        rule = self.contract.claim(check, name)
        if rule is None:
            self.add(generic or check, fld, severity, message)
        else:
            self.add(rule.id, fld, rule.severity, rule.cited(message))

    def match(self, present: Sequence[str]) -> dict[str, tuple[FieldSpec, str, str | None]]:
        """Field name -> (spec, key, alias severity) for each stored field found."""
        matched = {}
        for spec in self.contract.fields:
            if spec.presence != "stored":
                continue
            if spec.name in present:
                matched[spec.name] = (spec, spec.name, None)
                copies = tuple(a for a in spec.aliases if a in present)
                if copies:
                    self.alias_copies[spec.name] = copies
                continue
            alias = next((a for a in spec.aliases if a in present), None)
            if alias is None:
                self.missing(spec)
            else:
                matched[spec.name] = (spec, alias, spec.aliases[alias])
                self.found_alias(spec, alias)
        return matched

    def missing(self, spec: FieldSpec) -> None:
        """Record a field the file lacks."""

    def found_alias(self, spec: FieldSpec, alias: str) -> None:
        """Record a field found under an alias."""

    def per_scan(self, spec: FieldSpec) -> bool:
        return bool(spec.shape) and self.positions_dim is not None and spec.shape[0] == self.positions_dim

    def bound(self, spec: FieldSpec, key: str, alias_severity: str | None, **facts: Any) -> BoundField:
        info = self.source.info(key)
        stored = tuple(int(s) for s in info.shape)
        values = {"shape": stored, "readable": not (info.has_objects or info.is_structured), **facts}
        bound = BoundField(spec.name, key, alias_severity, info.dtype, stored, per_scan=self.per_scan(spec), **values)
        self.fields[spec.name] = bound
        return bound

    def result(self, unknown: Sequence[str]) -> Binding:
        return Binding(
            contract=self.contract,
            path=self.path,
            fields=dict(self.fields),
            dims=dict(self.dims),
            dim_fields=dict(self.dim_fields),
            layout=self.layout,
            positions_dim=self.positions_dim,
            unknown=tuple(unknown),
            findings=tuple(self.findings),
            alias_copies=dict(self.alias_copies),
        )


class _FileBinder(_Binder):
    """A dataset file: the first field that names a dimension binds it."""

    def missing(self, spec: FieldSpec) -> None:
        if spec.required:
            self.header("required", spec.name, "error", f"required key '{spec.name}' is missing ({spec.description})")

    def found_alias(self, spec: FieldSpec, alias: str) -> None:
        writer = spec.written_by.get(alias)
        cited = f" ({'; '.join(spec.source)})" if spec.source else ""
        if writer:
            message = f"written by {writer}: {alias}; the spec names {spec.name}{cited}"
            self.add("version-drift", spec.name, spec.aliases[alias], message)
        else:
            message = f"key '{alias}' used for '{spec.name}'; rename it to '{spec.name}'"
            self.add("alias", spec.name, spec.aliases[alias], message)

    def run(self) -> Binding:
        present = list(self.source.keys())
        matched = self.match(present)
        used = {key for _, key, _ in matched.values()}
        for name, copies in self.alias_copies.items():
            for key in copies:
                message = (
                    f"key '{key}' is {self.contract.name}'s declared alias of '{name}', stored beside "
                    f"it as a copy for readers of '{key}'"
                )
                self.add("alias", key, "info", message)
            used.update(copies)
        for key in sorted(set(present) - used):
            if not self.source.info(key).has_objects:
                self.add("unknown-key", key, "info", f"key '{key}' is not part of {self.contract.name}")
                continue
            message = (
                f"key '{key}' holds Python objects (dtype object) that only unpickling "
                "could read; it was not loaded. Store text as a string array, e.g. "
                "numpy.array(json.dumps(meta))"
            )
            self.add("object-array", key, "error", message)
        for member in self.source.ignored_members:
            self.add("foreign-member", member, "warning", f"member '{member}' is not a .npy array; ignored")
        hint = self._positions_hint(matched)
        for spec, key, alias_severity in matched.values():
            self._header(spec, key, alias_severity, hint)
        self._check_dims()
        return self.result([k for k in present if k not in used])

    def _positions_hint(self, matched) -> int | None:
        """Length of the first 1-D per-position field (the coordinates), to settle the layout."""
        for spec, key, _ in matched.values():
            shape = self.source.info(key).shape
            if tuple(spec.shape or ()) == (self.positions_dim,) and len(shape) == 1:
                return int(shape[0])
        return None

    def _header(self, spec: FieldSpec, key: str, alias_severity: str | None, hint: int | None) -> None:
        info = self.source.info(key)
        if info.has_objects and "object" in spec.dtypes:
            # Only the field's own rules read it, through the restricted unpickler.
            self.bound(spec, key, alias_severity)
            return
        if info.has_objects or info.is_structured:
            kind = "Python objects (would need unpickling)" if info.has_objects else "named fields"
            expected = " or ".join(spec.dtypes)
            message = f"key '{key}' has dtype {info.dtype} with {kind}; expected {expected}; it was not loaded"
            self.header("dtype", spec.name, "error", message)
            self.bound(spec, key, alias_severity, fits=False)
            return
        sev = spec.dtype_severity(info.dtype)
        if sev is not None:
            expected = " or ".join(spec.dtypes)
            message = f"key '{key}' has dtype {info.dtype.newbyteorder('=').name}; expected {expected}"
            self.header("dtype", spec.name, sev, message)
        shape = tuple(int(s) for s in info.shape)
        if spec.name == self.layout_field and len(shape) == len(self.contract.layout["canonical"]):
            where = f"'{self.path}' key '{key}'"
            try:
                self.layout = source_layout(self.source, key, hint, self.requested_layout, where)
            except InputError:
                # A consumer that reads ambiguous stacks one way is described as doing so.
                fallback = self.contract.layout.get("ambiguous")
                if self.requested_layout != "auto" or fallback is None:
                    raise
                self.layout = fallback
            if self.layout == "legacy":
                message = (
                    f"key '{key}' is stored in legacy (H, W, N) order {shape}; "
                    "the canonical order is (N, H, W): numpy.moveaxis(stack, -1, 0)"
                )
                self.header("layout", spec.name, self.contract.layout.get("legacy_severity", "error"), message)
            shape = canonical_shape(shape, self.layout)
        self.bound(spec, key, alias_severity, shape=shape, fits=self._bind_shape(spec, key, shape))

    def _bind_shape(self, spec: FieldSpec, key: str, shape: tuple[int, ...]) -> bool:
        if spec.shape is None:
            return True
        for symbolic, sev in [(spec.shape, None), *spec.alt_shapes]:
            if shape_fits(symbolic, shape, self.dims):
                if sev is not None:
                    canonical = ", ".join(map(str, spec.shape))
                    self.add(
                        "shape",
                        spec.name,
                        sev,
                        f"key '{key}' has non-canonical shape {shape}; canonical is ({canonical})",
                    )
                for sym, size in zip(symbolic, shape):
                    if isinstance(sym, str) and sym not in self.dims:
                        self.dims[sym] = size
                        self.dim_fields[sym] = spec.name
                return True
        bound = [
            f"{sym} = {self.dims[sym]} from {self.dim_fields[sym]}"
            for sym in spec.shape
            if isinstance(sym, str) and sym in self.dims
        ]
        detail = f" with {', '.join(bound)}" if bound else ""
        ranks = {len(symbolic) for symbolic, _ in [(spec.shape, None), *spec.alt_shapes]}
        check = "size" if len(shape) in ranks else "rank"
        message = f"key '{key}' has shape {shape}; expected {shape_text(spec.shape)}{detail}"
        self.header(check, spec.name, "error", message, generic="shape")
        return False

    def _bound_by(self, dim: str) -> str:
        field = self.fields.get(self.dim_fields.get(dim, ""))
        return f" (key '{field.key}')" if field is not None else ""

    def _check_dims(self) -> None:
        dims = self.dims
        for name, rule in self.contract.dims.items():
            if name not in dims:
                continue
            why = f" ({rule.get('description', '')})"
            where = self.dim_fields.get(name, name)
            offset = rule.get("offset", 0)
            if rule.get("equals") in dims and dims[name] != dims[rule["equals"]] + offset:
                other = rule["equals"]
                shifted = f"{other} {'+' if offset > 0 else '-'} {abs(offset)}" if offset else other
                message = (
                    f"dimension {name} = {dims[name]}{self._bound_by(name)} differs from {shifted} = "
                    f"{dims[other] + offset}{self._bound_by(other)}; they must be equal{why}"
                )
                self.header("dims", name, "error", message, fld=where)
            if "one_of" in rule and dims[name] not in rule["one_of"]:
                message = f"dimension {name} = {dims[name]} is not one of {', '.join(map(str, rule['one_of']))}{why}"
                self.header("dims", name, "error", message, fld=where)
            lower = rule.get("min")
            least = dims.get(lower) if isinstance(lower, str) else lower
            if least is not None and dims[name] < least:
                label = f"{lower} = {least}" if isinstance(lower, str) else str(least)
                message = f"dimension {name} = {dims[name]} is below its minimum {label}{why}"
                self.header("dims", name, "error", message, fld=where)


class _DumpBinder(_Binder):
    """A tensor dump: each dimension takes the size most fields agree on."""

    def __init__(self, contract: DatasetContract, source: Any, layout: str) -> None:
        super().__init__(contract, source, layout)
        self.where = f"dump '{self.path}'"

    def missing(self, spec: FieldSpec) -> None:
        # Partial dumps of optional fields are normal; a required field is a warning.
        why = "; the contract requires it" if spec.required else "; not compared"
        message = f"{self.where} has no key '{spec.name}' (role {spec.role}){why}"
        self.add("missing", spec.name, "warning" if spec.required else "info", message)

    def run(self) -> Binding:
        present = []
        for key in self.source.keys():  # noqa: SIM118 - readers are not iterable
            info = self.source.info(key)
            if not (info.has_objects or info.is_structured):
                present.append(key)
                continue
            message = f"{self.where}: key '{key}' has dtype {info.dtype} (objects or named fields); it was not loaded"
            self.add("unreadable", key, "error", message)
        matched = self.match(present)
        used = {key for _, key, _ in matched.values()}
        unknown = [key for key in present if key not in used]
        for key in unknown:
            self.add(
                "unknown-key", key, "info", f"{self.where}: key '{key}' is not a field of {self.contract.name}; ignored"
            )
        if present and not matched:
            message = (
                f"{self.where}: none of its keys ({', '.join(present[:6])}) is a field of "
                f"{self.contract.name}; dump the pipeline that contract describes or pass another contract"
            )
            self.add("no-match", "*", "error", message)
        shapes = {name: tuple(self.source.info(key).shape) for name, (_, key, _) in matched.items()}
        voters = self._vote_dims(matched, shapes)
        for spec, key, alias_severity in matched.values():
            self.bound(spec, key, alias_severity, fits=self._check(spec, key, shapes[spec.name], voters))
        # Report only dimensions that a field matching the contract supports.
        usable = {f.key for f in self.fields.values() if f.fits}
        self.dims = {
            sym: size
            for sym, size in self.dims.items()
            if "size" in self.contract.dims.get(sym, {}) or usable & set(voters.get(sym, []))
        }
        name_of = {f.key: f.name for f in self.fields.values()}
        self.dim_fields = {sym: name_of[voters[sym][0]] for sym in self.dims if voters.get(sym)}
        return self.result(unknown)

    def _vote_dims(self, matched, shapes) -> dict[str, list[str]]:
        # (key, dimension, size) of every field whose rank matches its spec's
        pairs = [
            (key, sym, size)
            for spec, key, _ in matched.values()
            if spec.shape is not None and len(spec.shape) == len(shapes[spec.name])
            for sym, size in zip(spec.shape, shapes[spec.name])
            if isinstance(sym, str)
        ]
        votes: dict[str, Counter] = {}
        for _, sym, size in pairs:
            votes.setdefault(sym, Counter())[size] += 1
        self.dims = {sym: counter.most_common(1)[0][0] for sym, counter in votes.items()}
        self.dims.update({sym: rule["size"] for sym, rule in self.contract.dims.items() if "size" in rule})
        voters: dict[str, list[str]] = {}
        for key, sym, size in pairs:
            if self.dims.get(sym) == size and key not in voters.get(sym, []):
                voters.setdefault(sym, []).append(key)
        return voters

    def _check(self, spec: FieldSpec, key: str, shape: tuple[int, ...], voters) -> bool:
        dtype = self.source.info(key).dtype.newbyteorder("=")
        severity = spec.dtype_severity(dtype)
        if severity is not None:
            # The values are still compared: the observed column shows the dtypes.
            expected = " or ".join(spec.dtypes)
            message = f"{self.where}: key '{key}' has dtype {dtype}; {self.contract.name} expects {expected}"
            self.add("dtype", spec.name, severity, message)
        if spec.shape is None or shape_fits(spec.shape, shape, self.dims):
            return True
        # Judge the array by the dimensions the *other* fields bound.
        others = {s: [k for k in voters.get(s, []) if k != key] for s in self.dims}
        fixed = {s: n for s, n in self.dims.items() if others[s] or "size" in self.contract.dims.get(s, {})}
        expected = tuple(fixed.get(s, s) if isinstance(s, str) else s for s in spec.shape)
        because = [
            f"{s} = {fixed[s]} from {', '.join(others[s][:2])}"
            for s in dict.fromkeys(spec.shape)
            if isinstance(s, str) and others.get(s)
        ]
        because_text = f" ({'; '.join(because)})" if because else ""
        message = (
            f"{self.where}: key '{key}' has shape {shape}; {self.contract.name} expects "
            f"{shape_text(spec.shape, ',')} = {shape_text(expected, ',')}{because_text}; "
            f"{_layout_hint(spec.shape, shape, fixed)}"
        )
        self.add("shape", spec.name, "error", message)
        return False


#: Layout hints try every axis order only up to this rank.
_MAX_PERMUTED_RANK = 6


def _layout_hint(symbolic: Sequence[str | int], shape: tuple[int, ...], dims: Mapping[str, int]) -> str:
    """Say which axis order would make ``shape`` fit, if one does."""
    if len(symbolic) == len(shape) and len(shape) <= _MAX_PERMUTED_RANK:
        for perm in permutations(range(len(shape))):
            if perm != tuple(range(len(shape))) and shape_fits(symbolic, tuple(shape[i] for i in perm), dims):
                order = ",".join(map(str, perm))
                return f"it fits after permute({order}): the pipeline was probably dumped in another axis order"
    return "check the layout and the group/channel counts the pipeline was dumped with"
