"""Contract drift: where an observed dump contradicts what its contract claims.

Every difference becomes one :class:`Drift` item naming the field, what the
contract claims, what the run showed and the upstream ``file:line`` the
claim cites. The checks come from the binding of the dump
(:func:`ptyevidence.gap.bind_dump`: presence, dtype, shape and axis order),
from the frameworks the runner recorded for each value, from the active
profile (fields it requires or rules out) and from the contract's claims
(:mod:`.claims`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import permutations
from typing import Any

from ..._format import shape_text
from ...contract.binding import shape_fits
from ...contract.model import DatasetContract, FieldSpec
from ..matrix import format_axes
from ..parity import _MAX_PERMUTED_RANK, BoundDump
from .claims import ClaimResult, Profile

__all__ = ["Drift", "binding_drift", "claim_drift"]


@dataclass(frozen=True)
class Drift:
    """One contract claim the observation contradicts.

    Attributes
    ----------
    contract : str
        Name of the contract.
    field : str
        Field (or claim id) concerned.
    check : str
        ``presence``, ``dtype``, ``shape``, ``axes``, ``framework``,
        ``undescribed``, ``unreadable``, ``derive`` or ``claim``.
    claim : str
        What the contract says.
    observed : str
        What the run showed.
    source : tuple of str
        Upstream ``file:line`` citations of the claim.
    gridsize : int or None
        The run it was seen in.
    """

    contract: str
    field: str
    check: str
    claim: str
    observed: str
    source: tuple[str, ...] = ()
    gridsize: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the item as JSON-serializable data."""
        return {**asdict(self), "source": list(self.source)}


def binding_drift(
    bound: BoundDump,
    contract: DatasetContract,
    layout: Mapping[str, tuple[tuple[int, ...], str]],
    frameworks: Mapping[str, str],
    profile: Profile | None = None,
    full: DatasetContract | None = None,
    gridsize: int | None = None,
) -> list[Drift]:
    """Return the drift a binding shows.

    Parameters
    ----------
    bound : BoundDump
        The dump bound to ``contract`` (the profile's view of the contract).
    contract : DatasetContract
        The contract it was bound to.
    layout : mapping
        Dump key -> (shape, dtype name) of every array in the dump.
    frameworks : mapping
        Dump key -> framework of the value the pipeline held (``numpy``,
        ``tensorflow``, ``torch``).
    profile : Profile or None
        The active profile.
    full : DatasetContract or None
        The contract before the profile removed fields (default: ``contract``).
    gridsize : int or None
        Recorded on every item.

    Returns
    -------
    list of Drift

    Examples
    --------
    >>> import numpy as np
    >>> from ptyevidence.gap import bind_dump
    >>> from ptyevidence.contract import load_contract
    >>> contract = load_contract("ptychopinn-torch-mmap")
    >>> dump = {"nn_indices": np.zeros((4, 2), np.int32)}
    >>> items = binding_drift(bind_dump(dump, contract), contract, {"nn_indices": ((4, 2), "int32")}, {})
    >>> [(d.field, d.check, d.claim, d.observed) for d in items if d.check == "dtype"]
    [('nn_indices', 'dtype', 'int64', 'int32')]
    """
    full = full or contract
    out: list[Drift] = []
    required = set(profile.required) if profile else set()
    absent = set(profile.absent) if profile else set()
    described = {k for f in full.fields for k in (f.name, *f.aliases)}

    def add(field: str, check: str, claim: str, observed: str, source: Sequence[str]) -> None:
        out.append(Drift(full.name, field, check, claim, observed, tuple(source), gridsize))

    for finding in bound.findings:
        spec = contract.field_named(finding.field)
        key = _key_of(spec, layout) if spec is not None else finding.field
        if finding.rule == "missing" and spec is not None and (spec.required or spec.name in required):
            # ``required`` is empty without a profile.
            under, cites = (f" under profile '{profile.name}'", profile.source) if spec.name in required else ("", ())
            claim = f"required{under}: {_claim_text(spec)}"
            add(spec.name, "presence", claim, "not in the dump", (*cites, *spec.source))
        elif finding.rule == "dtype" and finding.severity == "error" and spec is not None:
            add(spec.name, "dtype", " or ".join(spec.dtypes), layout[key][1], spec.source)
        elif finding.rule == "shape" and spec is not None:
            add(spec.name, *_shape_drift(spec, layout[key][0], bound.dims), spec.source)
        elif finding.rule == "unknown-key" and finding.field in absent and profile is not None:
            cited = full.field_named(finding.field)
            held = f"in the dump {_layout_text(layout.get(finding.field))}"
            cites = (*profile.source, *(cited.source if cited else ()))
            add(finding.field, "presence", f"absent under profile '{profile.name}'", held, cites)
        elif finding.rule == "unknown-key" and finding.field not in described:
            held = f"key '{finding.field}' {_layout_text(layout.get(finding.field))}"
            add(finding.field, "undescribed", "no field of the contract describes it", held, full.sources[:1])
        elif finding.rule in ("no-match", "unreadable"):
            add(finding.field, "unreadable", "a dump of this pipeline", finding.message, ())
        elif finding.rule == "derive" and spec is not None:
            add(spec.name, "derive", _claim_text(spec), finding.message, spec.source)
    for field_name, key in bound.keys.items():
        spec = contract.field_named(field_name)
        claimed = (spec.framework if spec is not None else None) or contract.framework
        observed = frameworks.get(key)
        if spec is None or key == "derived" or not claimed or observed is None:
            continue
        if observed not in [c.strip() for c in claimed.split(" or ")]:
            add(spec.name, "framework", claimed, f"{observed} ('{key}')", spec.source)
    return out


def _key_of(spec: FieldSpec, layout: Mapping[str, Any]) -> str:
    return next((k for k in (spec.name, *spec.aliases) if k in layout), spec.name)


def _layout_text(info: tuple[tuple[int, ...], str] | None) -> str:
    return "" if info is None else f"{shape_text(info[0])} {info[1]}"


def _shape_drift(spec: FieldSpec, shape: Sequence[int], dims: Mapping[str, int]) -> tuple[str, str, str]:
    """Classify a shape mismatch as an axis-order or a shape difference."""
    shape = tuple(shape)
    claim = format_axes(spec.shape)
    if len(shape) == len(spec.shape) and len(shape) <= _MAX_PERMUTED_RANK:
        for perm in permutations(range(len(shape))):
            moved = tuple(shape[i] for i in perm)
            if perm != tuple(range(len(shape))) and shape_fits(spec.shape, moved, dims):
                order = ",".join(map(str, perm))
                return "axes", claim, f"{shape}: the claimed order only after permute({order})"
    return "shape", claim, str(shape)


def _claim_text(spec: FieldSpec) -> str:
    if spec.presence == "derived":
        return f"{spec.name} = {spec.derive['op']}({', '.join(spec.derive['of'])})"
    dtype = spec.dtypes[0] if spec.dtypes else "any dtype"
    return f"{spec.name} {format_axes(spec.shape)} {dtype}"


def claim_drift(results: Sequence[ClaimResult], contract: str, gridsize: int | None = None) -> list[Drift]:
    """Return one drift item per claim that does not hold."""
    claims = [(r.claim, r.observed) for r in results if r.status == "drift"]
    return [
        Drift(contract, c.field or c.id, f"claim {c.id}", c.statement, seen, c.source, gridsize) for c, seen in claims
    ]
