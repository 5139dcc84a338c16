"""The testable parts of a pipeline contract: upstream, profiles and claims.

Three optional top-level entries of a pipeline contract (kept by
:func:`ptyevidence.contract.load_contract` in ``contract.extra``):

``upstream``
    ``{"repository": "hoidn/PtychoPINN", "commit": "712c23f..."}``: the
    commit every ``file:line`` citation of the contract refers to.
``profiles``
    Configurations that change which fields exist, e.g. the Torch CI
    profile: ``{"name", "when": EXPRESSION, "required": [...], "absent":
    [...], "source": [...]}``. The first profile whose ``when`` holds for a
    run applies: its ``required`` fields must be in the dump, its
    ``absent`` fields must not be, and the gap matrix of that run leaves
    them out.
``observations``
    Claims an observed run can test: ``{"id", "role", "check", "field" or
    "of", "expect", "when", "claim", "source"}`` where ``check`` is one of
    :data:`CHECKS` and ``field``/``of``/``expect``/``when`` are expressions
    (:mod:`.expressions`) over the dumped fields, the fixture (``file.KEY``),
    the run's configuration and the bound dimensions (``dims.C``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...contract.model import DatasetContract, contract_from_dict
from ...exceptions import InputError
from .expressions import ExpressionError, MissingName, evaluate

__all__ = [
    "CHECKS",
    "Claim",
    "ClaimResult",
    "Profile",
    "active_profile",
    "check_claim",
    "claims_of",
    "profile_view",
    "profiles_of",
    "upstream_of",
]

#: What a claim can assert about its value and its expected value.
CHECKS = ("equal", "close", "subset", "all_zero")


@dataclass(frozen=True)
class Claim:
    """One testable claim of a contract.

    Attributes
    ----------
    id : str
        Stable identifier (``group-count``).
    check : str
        One of :data:`CHECKS`.
    role : str
        Role of the gap matrix the claim belongs to.
    field : str or None
        The dumped field the claim is about; without it in the dump the
        claim cannot be tested.
    of : str or None
        Expression of the tested value (default: the field itself).
    expect : str
        Expression of the expected value (unused by ``all_zero``).
    when : str or None
        Expression; the claim applies only when it is true.
    text : str
        The claim in words, as the report shows it.
    source : tuple of str
        Upstream ``file:line`` citations.
    rtol, atol : float
        Tolerances of ``close``.
    """

    id: str
    check: str
    role: str = ""
    field: str | None = None
    of: str | None = None
    expect: str = ""
    when: str | None = None
    text: str = ""
    source: tuple[str, ...] = ()
    rtol: float = 1e-5
    atol: float = 0.0

    @property
    def statement(self) -> str:
        """The claim in words, or its expressions when no words were given."""
        if self.text:
            return self.text
        value = self.of or self.field or "?"
        return f"{value} is all zeros" if self.check == "all_zero" else f"{value} {self.check} {self.expect}"


@dataclass(frozen=True)
class Profile:
    """A configuration under which a pipeline holds other fields.

    Attributes
    ----------
    name : str
        Short name (``ci``).
    when : str
        Expression over the run's configuration.
    required, absent : tuple of str
        Field names that must / must not be in the dump.
    source : tuple of str
        Upstream citations.
    """

    name: str
    when: str
    required: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    source: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of one claim on one run.

    Attributes
    ----------
    claim : Claim
        The claim.
    status : {"holds", "drift", "untestable", "skipped"}
        ``skipped``: its ``when`` is false for this run; ``untestable``: the
        dump or the fixture lacks what it needs.
    observed : str
        What the run showed (or why it could not be tested).
    """

    claim: Claim
    status: str
    observed: str

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-serializable data."""
        return {
            "id": self.claim.id,
            "role": self.claim.role,
            "check": self.claim.check,
            "claim": self.claim.statement,
            "status": self.status,
            "observed": self.observed,
            "source": list(self.claim.source),
        }


def upstream_of(contract: DatasetContract) -> dict[str, str] | None:
    """Return the contract's ``upstream`` entry (repository, commit), or None."""
    upstream = contract.extra.get("upstream")
    if upstream is None:
        return None
    if not (isinstance(upstream, Mapping) and isinstance(upstream.get("commit"), str)):
        msg = (
            f"contract '{contract.origin}': 'upstream' must be an object with a 'commit' "
            'string, e.g. {"repository": "hoidn/PtychoPINN", "commit": "712c23f..."}'
        )
        raise InputError(msg, contract.origin)
    return {str(k): str(v) for k, v in upstream.items()}


def _entries(contract: DatasetContract, key: str) -> list[Mapping[str, Any]]:
    entries = contract.extra.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        msg = f"contract '{contract.origin}': '{key}' must be a list of objects"
        raise InputError(msg, contract.origin)
    return entries


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value or ())


def _claim_problem(entry: Mapping[str, Any], names: set[str]) -> str | None:
    """Return what is wrong with an ``observations`` entry, or None."""
    field = entry.get("field")
    if "id" not in entry:
        return "has no 'id'"
    if entry.get("check") not in CHECKS:
        return f"has check {entry.get('check')!r}; expected one of {', '.join(CHECKS)}"
    if field is not None and field not in names:
        return f"names field '{field}', which the contract does not have"
    if field is None and entry.get("of") is None:
        return "needs a 'field' or an 'of' expression"
    if entry["check"] != "all_zero" and not entry.get("expect"):
        return "needs an 'expect' expression"
    return None


def claims_of(contract: DatasetContract) -> list[Claim]:
    """Return the contract's ``observations`` as claims, checking each entry.

    Raises
    ------
    InputError
        Naming the entry that lacks an ``id``, has an unknown ``check``,
        names an unknown field or has no expected value.
    """
    names = {f.name for f in contract.fields}
    claims = []
    for i, entry in enumerate(_entries(contract, "observations")):
        problem = _claim_problem(entry, names)
        if problem:
            label = f"'{entry['id']}'" if "id" in entry else f"#{i + 1}"
            msg = f"contract '{contract.origin}': observation {label} {problem}"
            raise InputError(msg, contract.origin)
        field = entry.get("field")
        claims.append(
            Claim(
                id=str(entry["id"]),
                check=entry["check"],
                role=str(entry.get("role", "")),
                field=field,
                of=entry.get("of"),
                expect=str(entry.get("expect", "")),
                when=entry.get("when"),
                text=str(entry.get("claim", "")),
                source=_strings(entry.get("source")),
                rtol=float(entry.get("rtol", 1e-5)),
                atol=float(entry.get("atol", 0.0)),
            )
        )
    return claims


def profiles_of(contract: DatasetContract) -> list[Profile]:
    """Return the contract's ``profiles``, checking that they name its fields.

    Raises
    ------
    InputError
        For a profile without ``name``/``when`` or naming unknown fields.
    """
    names = {f.name for f in contract.fields}
    profiles = []
    for i, entry in enumerate(_entries(contract, "profiles")):
        if "name" not in entry or "when" not in entry:
            msg = f"contract '{contract.origin}': profile #{i + 1} needs a 'name' and a 'when' expression"
            raise InputError(msg, contract.origin)
        required, absent = _strings(entry.get("required")), _strings(entry.get("absent"))
        unknown = [n for n in required + absent if n not in names]
        if unknown:
            msg = (
                f"contract '{contract.origin}': profile '{entry['name']}' names "
                f"{', '.join(unknown)}, not fields of the contract"
            )
            raise InputError(msg, contract.origin)
        profiles.append(
            Profile(str(entry["name"]), str(entry["when"]), required, absent, _strings(entry.get("source")))
        )
    return profiles


def active_profile(contract: DatasetContract, names: Mapping[str, Any]) -> Profile | None:
    """Return the first profile whose ``when`` holds for a run's configuration.

    Raises
    ------
    InputError
        If a ``when`` expression cannot be evaluated with ``names``.
    """
    for profile in profiles_of(contract):
        try:
            if evaluate(profile.when, names):
                return profile
        except ExpressionError as exc:
            msg = f"contract '{contract.origin}': profile '{profile.name}': {exc}"
            raise InputError(msg, contract.origin) from None
    return None


def profile_view(contract: DatasetContract, profile: Profile | None) -> DatasetContract:
    """Return the contract without the fields ``profile`` says are absent.

    Derived fields computed from an absent field go too; with no profile the
    contract is returned unchanged.
    """
    if profile is None or not profile.absent:
        return contract
    data = contract.to_dict()
    gone = set(profile.absent)
    data["fields"] = [
        f for f in data["fields"] if f["name"] not in gone and not set((f.get("derive") or {}).get("of", [])) & gone
    ]
    return contract_from_dict(data, origin=f"{contract.origin} (profile {profile.name})")


def check_claim(claim: Claim, names: Mapping[str, Any], contract_fields: Sequence[str]) -> ClaimResult:
    """Test one claim against a run.

    Parameters
    ----------
    claim : Claim
        The claim.
    names : mapping
        Expression variables: the dump's fields, ``file``, the configuration
        namespaces, ``dims`` and scalars such as ``M`` and ``gridsize``.
    contract_fields : sequence of str
        Field names of the contract: a claim needing one that the dump lacks
        is untestable rather than drift.

    Returns
    -------
    ClaimResult
    """
    try:
        if claim.when is not None and not evaluate(claim.when, names):
            return ClaimResult(claim, "skipped", f"not applicable: {claim.when} is false")
        if claim.field is not None and claim.field not in names:
            return ClaimResult(claim, "untestable", f"'{claim.field}' is not in the dump")
        value = evaluate(claim.of, names) if claim.of else names[claim.field]
        expected = None if claim.check == "all_zero" else evaluate(claim.expect, names)
    except MissingName as exc:
        if exc.namespace == "file" or exc.name in contract_fields:
            return ClaimResult(claim, "untestable", f"{exc}, so the claim cannot be tested")
        return ClaimResult(claim, "drift", f"cannot be evaluated: {exc}")
    except ExpressionError as exc:
        return ClaimResult(claim, "drift", f"cannot be evaluated: {exc}")
    holds, observed = _compare(claim, value, expected)
    return ClaimResult(claim, "holds" if holds else "drift", observed)


def _compare(claim: Claim, value: Any, expected: Any) -> tuple[bool, str]:
    a = np.asarray(value)
    if claim.check == "all_zero":
        nonzero = int(np.count_nonzero(a))
        return nonzero == 0, (
            f"all {a.size} values are zero"
            if nonzero == 0
            else f"{nonzero} of {a.size} values are non-zero (max |x| = {float(np.max(np.abs(a))):.4g})"
        )
    b = np.asarray(expected)
    if claim.check == "subset":
        outside = np.setdiff1d(np.unique(a), np.unique(b))
        if outside.size == 0:
            return True, f"all {np.unique(a).size} distinct values are among the {np.unique(b).size} expected"
        shown = ", ".join(map(str, outside[:8].tolist())) + (", ..." if outside.size > 8 else "")
        return False, f"{outside.size} distinct values are outside the expected set: {shown}"
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return False, f"shape {a.shape} does not match the expected {b.shape}"
    if a.dtype.kind in "biufc" and b.dtype.kind in "biufc":
        a64, b64 = (
            np.broadcast_to(x.astype(np.complex128 if x.dtype.kind == "c" else np.float64), shape) for x in (a, b)
        )
        equal = claim.check == "equal"
        holds = bool(np.array_equal(a64, b64) if equal else np.allclose(a64, b64, rtol=claim.rtol, atol=claim.atol))
        if a.size == 1 and b.size == 1:
            return holds, f"{_number(a)} (expected {_number(b)})"
        diff = float(np.max(np.abs(a64 - b64))) if a64.size else 0.0
        scale = float(np.max(np.abs(b64))) if b64.size else 0.0
        rel = diff / scale if scale else (0.0 if diff == 0 else float("inf"))
        verdict = "equal" if diff == 0 else f"max |difference| {diff:.3g} (relative {rel:.3g})"
        return holds, f"{a.shape} {verdict}"
    holds = bool(np.array_equal(a, b))
    return holds, f"{_number(a)} (expected {_number(b)})"


def _number(x: np.ndarray) -> str:
    value = x.reshape(-1)[0].item() if x.size == 1 else x.tolist()
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)
