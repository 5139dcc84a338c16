"""What changed between two contracts, and whether it can fail a dataset that passed the old one.

A change is *breaking* when some dataset that validates against OLD without
errors can get an error from NEW (a new required field, a dtype or shape no
longer accepted, a tighter rule of severity ``error``...), and *compatible*
otherwise (a relaxed rule, a new optional field, a new warning, a reworded
description).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._format import markdown_table, number_text, shape_text, text_table
from ..contract.model import DatasetContract, FieldSpec, Rule, load_contract

__all__ = ["ContractChange", "ContractDiff", "diff_contracts"]

BREAKING = "breaking"
COMPATIBLE = "compatible"
#: Severity ranks; ``None`` is "accepted without a finding".
_RANK = {None: 0, "info": 1, "warning": 2, "error": 3}
#: For each comparison check, the direction in which a new value is stricter.
_STRICTER = {"min_at_least": 1, "max_below": -1, "max_mean_ratio_below": -1}


@dataclass(frozen=True)
class ContractChange:
    """One difference between two contracts.

    Attributes
    ----------
    impact : {"breaking", "compatible"}
        Breaking: a dataset that passed OLD can fail NEW.
    where : str
        ``contract``, ``field 'x'``, ``dim 'N'``, ``rule 'id'`` or ``layout``.
    change : str
        What changed, with the old and new values.
    """

    impact: str
    where: str
    change: str

    def to_dict(self) -> dict[str, str]:
        """Return the change as JSON-ready data."""
        return asdict(self)


@dataclass
class ContractDiff:
    """Result of :func:`diff_contracts`.

    Attributes
    ----------
    old, new : str
        Names (with origin) of the two contracts.
    changes : list of ContractChange
        Breaking changes first, each group in contract order.
    """

    old: str
    new: str
    changes: list[ContractChange] = field(default_factory=list)

    @property
    def breaking(self) -> list[ContractChange]:
        """The changes that can fail a dataset that passed OLD."""
        return [c for c in self.changes if c.impact == BREAKING]

    @property
    def same(self) -> bool:
        """True when the contracts do not differ."""
        return not self.changes

    @property
    def verdict(self) -> str:
        """One line: SAME, COMPATIBLE or BREAKING, with counts."""
        if self.same:
            return f"SAME: {self.old} and {self.new} do not differ"
        n, k = len(self.changes), len(self.breaking)
        if k:
            return f"BREAKING: {k} of {n} changes can fail a dataset that passed {self.old}"
        return f"COMPATIBLE: {n} changes, none can fail a dataset that passed {self.old}"

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-ready data."""
        return {
            "old": self.old,
            "new": self.new,
            "same": self.same,
            "breaking": len(self.breaking),
            "verdict": self.verdict,
            "changes": [c.to_dict() for c in self.changes],
        }

    def to_text(self) -> str:
        """Return one line per change (breaking first) and the verdict."""
        if self.same:
            return self.verdict
        rows = [[c.impact, c.where, c.change] for c in self.changes]
        return text_table(["IMPACT", "WHERE", "CHANGE"], rows) + "\n" + self.verdict

    def to_markdown(self) -> str:
        """Return the changes as a Markdown table and the verdict."""
        rows = [[c.impact, c.where, c.change] for c in self.changes]
        table = markdown_table(["Impact", "Where", "Change"], rows) + "\n\n" if rows else ""
        return f"{table}**{self.verdict}**\n"


def diff_contracts(old: str | os.PathLike | DatasetContract, new: str | os.PathLike | DatasetContract) -> ContractDiff:
    """List the differences between two contracts, each classed breaking or compatible.

    Compares fields (presence, required, dtypes with their severities,
    shapes and alternative shapes, aliases), dimensions (``min``,
    ``equals``), value rules (check, fields, severity, threshold) and the
    stack layout. A change is breaking when a dataset that passed OLD (no
    finding of severity ``error``) can get an error from NEW.

    Parameters
    ----------
    old, new : str, path or DatasetContract
        Built-in names or contract files, as :func:`ptyevidence.load_contract` takes.

    Returns
    -------
    ContractDiff

    Raises
    ------
    InputError
        If either contract cannot be loaded.

    Examples
    --------
    >>> d = diff_contracts("data001", "legacy")
    >>> d.breaking == [], d.verdict.split(":")[0]
    (True, 'COMPATIBLE')
    >>> diff_contracts("legacy", "data001").verdict.split(":")[0]
    'BREAKING'
    """
    a, b = load_contract(old), load_contract(new)
    changes: list[ContractChange] = []
    changes += _top_level(a, b)
    changes += _fields(a, b)
    changes += _dims(a, b)
    changes += _rules(a, b)
    changes += _layout(a.layout, b.layout)
    ordered = [c for c in changes if c.impact == BREAKING] + [c for c in changes if c.impact != BREAKING]
    return ContractDiff(_label(a), _label(b), ordered)


def _label(c: DatasetContract) -> str:
    origin = c.origin.removeprefix("builtin:")
    return f"'{c.name}'" if origin == c.name else f"'{c.name}' ({origin})"


def _impact(breaking: bool) -> str:
    return BREAKING if breaking else COMPATIBLE


def _sev(value: str | None) -> str:
    return "accepted" if value is None else value


def _pairs(old: Sequence[Any], new: Sequence[Any], key: str) -> Iterator[tuple[Any, Any]]:
    """Yield ``(old item, new item)`` matched by attribute ``key``: OLD's order, then NEW's additions.

    The missing side is None.
    """
    by_key = {getattr(item, key): item for item in new}
    seen = {getattr(item, key) for item in old}
    yield from ((item, by_key.get(getattr(item, key))) for item in old)
    yield from ((None, item) for item in new if getattr(item, key) not in seen)


def _top_level(a: DatasetContract, b: DatasetContract) -> list[ContractChange]:
    out = []
    if a.kind != b.kind:
        out.append(ContractChange(BREAKING, "contract", f"kind {a.kind} -> {b.kind}"))
    for name in ("name", "version"):
        if getattr(a, name) != getattr(b, name):
            out.append(ContractChange(COMPATIBLE, "contract", f"{name} {getattr(a, name)!r} -> {getattr(b, name)!r}"))
    docs = [n for n in ("title", "description", "sources") if getattr(a, n) != getattr(b, n)]
    if docs:
        out.append(ContractChange(COMPATIBLE, "contract", f"{', '.join(docs)} changed"))
    return out


def _fields(a: DatasetContract, b: DatasetContract) -> list[ContractChange]:
    out = []
    for before, after in _pairs(a.fields, b.fields, "name"):
        where = f"field '{(before or after).name}'"
        if after is None:
            out.append(ContractChange(COMPATIBLE, where, "removed: its key is no longer checked"))
        elif before is not None:
            out += _field(before, after)
        elif after.required:
            out.append(ContractChange(BREAKING, where, "added, required: a dataset that passed may lack it"))
        else:
            out.append(ContractChange(COMPATIBLE, where, "added, optional: checked only where the key is present"))
    return out


def _field(a: FieldSpec, b: FieldSpec) -> list[ContractChange]:
    where = f"field '{a.name}'"
    out = []
    if a.required != b.required:
        out.append(ContractChange(_impact(b.required), where, "now required" if b.required else "now optional"))
    out += [ContractChange(impact, where, text) for impact, text in _dtype_changes(a, b)]
    out += [ContractChange(impact, where, text) for impact, text in _shape_changes(a, b)]
    out += [ContractChange(impact, where, text) for impact, text in _alias_changes(a, b)]
    docs = [n for n in ("role", "description", "label", "semantics", "source") if getattr(a, n) != getattr(b, n)]
    if docs:
        out.append(ContractChange(COMPATIBLE, where, f"{', '.join(docs)} changed"))
    for name in ("presence", "derive", "framework"):
        if getattr(a, name) != getattr(b, name):
            change = f"{name} {getattr(a, name)!r} -> {getattr(b, name)!r}"
            text = f"{change} (pipeline contracts: the gap matrix, not validation)"
            out.append(ContractChange(COMPATIBLE, where, text))
    return out


def _dtype_candidates(a: FieldSpec, b: FieldSpec) -> dict[str, np.dtype]:
    """Real dtypes standing for every dtype either field names, plus one neither names."""
    names: dict[str, np.dtype] = {}
    for spec in (a, b):
        for name in list(spec.dtypes) + list(spec.tolerated_dtypes):
            if name == "any":
                continue
            if name == "structured":
                names[name] = np.dtype([("a", "f4")])
            elif name == "unicode":
                names["text"] = np.dtype("U1")
            else:
                names[name] = np.dtype(name)
    # A dtype neither field lists: stands for "anything else" (relevant when one says "any").
    for other in ("float16", "uint16", "int8", "bool"):
        if other not in names:
            names[f"other dtypes (e.g. {other})"] = np.dtype(other)
            break
    return names


def _dtype_changes(a: FieldSpec, b: FieldSpec) -> list[tuple[str, str]]:
    if a.dtypes == b.dtypes and dict(a.tolerated_dtypes) == dict(b.tolerated_dtypes):
        return []
    moves: dict[tuple[str | None, str | None], list[str]] = {}
    for name, dtype in _dtype_candidates(a, b).items():
        before, after = a.dtype_severity(dtype), b.dtype_severity(dtype)
        if before != after:
            moves.setdefault((before, after), []).append(name)
    out = []
    for (before, after), names in moves.items():
        breaking = before != "error" and after == "error"
        label = "dtype" if len(names) == 1 else "dtypes"
        out.append((_impact(breaking), f"{label} {', '.join(names)}: {_sev(before)} -> {_sev(after)}"))
    if a.dtypes[:1] != b.dtypes[:1] and b.dtypes:
        out.append((COMPATIBLE, f"canonical dtype {a.dtypes[0] if a.dtypes else '-'} -> {b.dtypes[0]}"))
    return out


def _accepted_shapes(spec: FieldSpec) -> dict[tuple, str | None] | None:
    """Symbolic shape -> severity of a dataset holding it; None when any shape is accepted."""
    if spec.shape is None:
        return None
    shapes: dict[tuple, str | None] = {tuple(s): sev for s, sev in spec.alt_shapes}
    shapes[tuple(spec.shape)] = None
    return shapes


def _shape_changes(a: FieldSpec, b: FieldSpec) -> list[tuple[str, str]]:
    old, new = _accepted_shapes(a), _accepted_shapes(b)
    if old == new:
        return []
    if new is None:
        return [(COMPATIBLE, "shape no longer checked")]
    if old is None:
        return [(BREAKING, f"shape now checked: {shape_text(b.shape)}")]
    out = []
    for shape, before in old.items():
        after = new.get(shape, "error")
        if before == after:
            continue
        breaking = before != "error" and after == "error"
        what = "no longer accepted" if after == "error" else f"{_sev(before)} -> {_sev(after)}"
        out.append((_impact(breaking), f"shape {shape_text(shape)} {what}"))
    for shape, after in new.items():
        if shape not in old:
            out.append((COMPATIBLE, f"shape {shape_text(shape)} now accepted ({_sev(after)})"))
    return out


def _alias_changes(a: FieldSpec, b: FieldSpec) -> list[tuple[str, str]]:
    out = []
    for alias, before in a.aliases.items():
        after = b.aliases.get(alias)
        if after == before:
            continue
        if after is None:
            # The key is no longer read as this field: a required field is then missing.
            breaking = before != "error" and b.required
            why = " (the field is required: files using it now miss it)" if breaking else ""
            out.append((_impact(breaking), f"alias '{alias}' removed{why}"))
        else:
            breaking = before != "error" and after == "error"
            out.append((_impact(breaking), f"alias '{alias}': {before} -> {after}"))
    for alias, after in b.aliases.items():
        if alias not in a.aliases:
            out.append((COMPATIBLE, f"alias '{alias}' added ({after})"))
    return out


def _dims(a: DatasetContract, b: DatasetContract) -> list[ContractChange]:
    out = []
    for name in list(a.dims) + [n for n in b.dims if n not in a.dims]:
        where = f"dim '{name}'"
        if name not in b.dims:
            out.append(ContractChange(COMPATIBLE, where, "removed: no minimum or equality checked"))
            continue
        before, after = a.dims.get(name, {}), b.dims[name]
        changes = _min_change(before, after) + _equals_change(before, after)
        if name not in a.dims and not changes:
            changes = [(COMPATIBLE, "added")]
        if name in a.dims and before.get("description") != after.get("description"):
            changes.append((COMPATIBLE, "description changed"))
        out += [ContractChange(impact, where, text) for impact, text in changes]
    return out


def _equals_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, str]]:
    eq_a, eq_b = before.get("equals"), after.get("equals")
    if eq_a == eq_b:
        return []
    if eq_b is None:
        return [(COMPATIBLE, f"no longer has to equal {eq_a}")]
    return [(BREAKING, f"must equal {eq_b}" + (f", not {eq_a}" if eq_a is not None else ""))]


def _min_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, str]]:
    lo_a, lo_b = before.get("min"), after.get("min")
    if lo_a == lo_b:
        return []
    if lo_b is None:
        return [(COMPATIBLE, f"minimum {lo_a} dropped")]
    if lo_a is None:
        return [(BREAKING, f"minimum {lo_b} added")]
    if isinstance(lo_a, int) and isinstance(lo_b, int):
        return [(_impact(lo_b > lo_a), f"minimum {lo_a} -> {lo_b}")]
    return [(BREAKING, f"minimum {lo_a} -> {lo_b} (another dimension: cannot be ordered)")]


def _rules(a: DatasetContract, b: DatasetContract) -> list[ContractChange]:
    out = []
    for before, after in _pairs(a.rules, b.rules, "id"):
        where = f"rule '{(before or after).id}'"
        if after is None:
            out.append(ContractChange(COMPATIBLE, where, f"removed ({before.severity})"))
        elif before is not None:
            out += _rule(before, after)
        else:
            value = f" (value {number_text(after.value, 6)})" if after.value is not None else ""
            text = f"added: {after.check} on {', '.join(after.fields)}{value}, severity {after.severity}"
            out.append(ContractChange(_impact(after.severity == "error"), where, text))
    return out


def _rule(a: Rule, b: Rule) -> list[ContractChange]:
    where = f"rule '{a.id}'"
    errors = b.severity == "error"
    out = []
    if a.check != b.check:
        out.append(ContractChange(_impact(errors), where, f"check {a.check} -> {b.check}"))
    if a.severity != b.severity:
        breaking = _RANK[b.severity] > _RANK[a.severity] and errors
        out.append(ContractChange(_impact(breaking), where, f"severity {a.severity} -> {b.severity}"))
    added = [f for f in b.fields if f not in a.fields]
    removed = [f for f in a.fields if f not in b.fields]
    if added:
        out.append(ContractChange(_impact(errors), where, f"now also checks {', '.join(added)}"))
    if removed:
        out.append(ContractChange(COMPATIBLE, where, f"no longer checks {', '.join(removed)}"))
    if a.value != b.value and a.check == b.check:
        direction = _STRICTER.get(b.check)
        if a.value is None or b.value is None or direction is None:
            stricter = True
        else:
            stricter = (b.value - a.value) * direction > 0
        text = f"value {number_text(a.value, 6)} -> {number_text(b.value, 6)} ({'stricter' if stricter else 'looser'})"
        out.append(ContractChange(_impact(stricter and errors), where, text))
    if a.description != b.description:
        out.append(ContractChange(COMPATIBLE, where, "description changed"))
    return out


def _layout(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[ContractChange]:
    if a == b:
        return []
    if b is None:
        return [ContractChange(COMPATIBLE, "layout", "no longer checked")]
    severity = b.get("legacy_severity", "error")
    if a is None:
        text = f"now checked: legacy (H, W, N) stacks get {severity}"
        return [ContractChange(_impact(severity == "error"), "layout", text)]
    out = []
    for key in ("field", "canonical", "legacy"):
        if a.get(key) != b.get(key):
            out.append(ContractChange(BREAKING, "layout", f"{key} {a.get(key)} -> {b.get(key)}"))
    before = a.get("legacy_severity", "error")
    if before != severity:
        breaking = _RANK[severity] > _RANK[before] and severity == "error"
        out.append(ContractChange(_impact(breaking), "layout", f"legacy (H, W, N) stacks: {before} -> {severity}"))
    if a.get("note") != b.get("note"):
        out.append(ContractChange(COMPATIBLE, "layout", "note changed"))
    return out
