"""Contracts as data: what a dataset or a pipeline's output must hold (fields, shapes, dtypes, rules).

A contract is a JSON file. Built-ins ship in ``contract/builtin`` (dataset
contracts such as ``data001``) and ``gap/pipelines`` (pipeline output
contracts); users pass their own file by path. The package reads every
contract through :func:`load_contract`.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NoReturn

import numpy as np

from .._json import parse_json, read_json
from ..exceptions import InputError

__all__ = [
    "CHECKS",
    "DERIVE_OPS",
    "HEADER_CHECKS",
    "PRESENCES",
    "SEVERITIES",
    "VALUE_CHECKS",
    "DatasetContract",
    "FieldSpec",
    "Rule",
    "contract_from_dict",
    "list_contracts",
    "load_contract",
]

#: Finding severities, most serious first.
SEVERITIES = ("error", "warning", "info")
#: Checks the binding makes from the fields' own specs (presence, dtype, shape,
#: dimensions, stack order). A rule naming one of them gives those findings its
#: id, severity and citation instead of the generic ``required``/``dtype``/
#: ``shape``/``dims``/``layout``: ``rank`` is a shape whose number of axes fits
#: no accepted shape, ``size`` one whose axes fit but whose sizes conflict.
HEADER_CHECKS = ("required", "dtype", "rank", "size", "dims", "layout")
#: Value checks a rule may name, implemented in ``contract/checks.py``;
#: their thresholds and parameters come from the rule (``value``, ``params``).
VALUE_CHECKS = (
    "finite",
    "index_range",
    "max_abs_below",
    "min_at_least",
    "max_below",
    "max_mean_ratio_below",
    "not_all_zero",
    "positive",
    "positions_not_all_identical",
    "positions_unique",
    "alias_copy_equal",
    "counting_lattice",
    "peak_centred",
    "integer_squares_fit",
    "json_object",
    "scale_pair",
    "canvas_fits",
    "positions_in_window",
    "layout_declared",
    "record_matches_dims",
    "record_above",
    "unique",
)
#: Every check a rule may name.
CHECKS = HEADER_CHECKS + VALUE_CHECKS
#: Checks whose ``value`` is a required numeric threshold.
_THRESHOLD_CHECKS = (
    "min_at_least",
    "max_below",
    "max_mean_ratio_below",
    "max_abs_below",
    "record_above",
    "positions_in_window",
)
#: Parameters each check requires in ``params`` (others are optional, see checks.py).
_REQUIRED_PARAMS = {
    "dims": ("dims",),
    "counting_lattice": ("tolerance", "fraction", "max_quanta"),
    "peak_centred": ("box_fraction", "ratio"),
    "scale_pair": ("keys", "pairs"),
    "positions_in_window": ("window",),
    "record_matches_dims": ("key", "dims"),
    "record_above": ("key",),
}
#: What a rule parameter must hold, checked when the contract is read (a check never meets one it
#: cannot use); parameters not named here are not read by any check.
_PARAM_KINDS = {
    **dict.fromkeys(
        ("tolerance", "fraction", "max_quanta", "min_values", "min_share", "sample_frames", "box_fraction", "ratio"),
        "a number",
    ),
    "window": "two numbers",
    "key": "a name",
    **dict.fromkeys(("keys", "dims", "frame_dims", "problems"), "a list of names"),
    "pairs": "a list of lists of names",
}
#: How a pipeline-contract field exists: a stored array, a value computed from
#: stored arrays, a behaviour (no tensor), or an explicit absence with notes.
PRESENCES = ("stored", "derived", "behaviour", "absent")
#: Operations a derived field may use (implemented in ``_parity``).
DERIVE_OPS = ("copy", "product", "ratio")
#: Package folders holding built-in contracts, searched in this order.
_BUILTIN_DIRS = (("ptyevidence.contract", "builtin"), ("ptyevidence.gap", "pipelines"))
#: Largest contract file read, in bytes (the built-ins are about 15 KiB).
_CONTRACT_MAX_BYTES = 4 * 2**20


@dataclass(frozen=True)
class FieldSpec:
    """One field of a contract.

    Attributes
    ----------
    name : str
        Canonical key (NPZ member, dict key or attribute name).
    role : str
        What the field means, independent of its name (e.g. ``diffraction``,
        ``coords.relative``); pipeline contracts are aligned by role.
    required : bool
        Whether the field must be present.
    dtypes : tuple of str
        Accepted dtypes (numpy names); the first is canonical.
    shape : tuple of (str or int)
        Symbolic shape: a name binds a dimension across fields, an int fixes it.
    tolerated_dtypes : dict
        Other dtypes that are accepted with a finding of the given severity.
    aliases : dict
        Other keys accepted for the field, with the severity of using them.
    written_by : dict
        Alias -> the writer (and version) known to write it, e.g.
        ``"ptychodus 1.7.0"``: using the alias is reported as that writer's
        drift from the field's name (rule ``version-drift``). In JSON an alias
        maps to ``{"severity": ..., "written_by": ...}``.
    alt_shapes : tuple of (shape, severity)
        Non-canonical shapes accepted with a finding of that severity.
    description : str
        What the field holds, with units.
    framework, semantics, source
        Pipeline contracts only: framework of the stored object, named notes
        (normalization, sign convention, index space...) and citations.
    label : str
        Pipeline contracts only: human name of the role (``Relative offsets``).
    presence : {"stored", "derived", "behaviour", "absent"}
        Pipeline contracts only: a stored array; a value computed from stored
        fields (see ``derive``); a behaviour with no tensor; or a documented
        absence (the row still appears, with its notes and citations).
    derive : dict or None
        For ``presence == "derived"``: ``{"op": "copy"|"product"|"ratio",
        "of": [field names]}``.
    """

    name: str
    role: str
    required: bool = True
    dtypes: tuple[str, ...] = ()
    shape: tuple[str | int, ...] | None = None
    tolerated_dtypes: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    written_by: Mapping[str, str] = field(default_factory=dict)
    alt_shapes: tuple[tuple[tuple[str | int, ...], str], ...] = ()
    description: str = ""
    framework: str | None = None
    semantics: Mapping[str, str] = field(default_factory=dict)
    source: tuple[str, ...] = ()
    label: str = ""
    presence: str = "stored"
    derive: Mapping[str, Any] | None = None

    @property
    def is_array(self) -> bool:
        """True for fields that hold values (stored or derived), not behaviours."""
        return self.presence in ("stored", "derived")

    def dtype_severity(self, dtype: np.dtype) -> str | None:
        """Return None if ``dtype`` is accepted, else the severity of the finding."""
        dtype = np.dtype(dtype)
        name = dtype.newbyteorder("=").name if dtype.names is None else "structured"
        # "unicode" takes text of any length (e.g. the JSON ``_metadata`` record), "bytes" any byte string.
        kinds = {"unicode": "U", "bytes": "S"}
        if not self.dtypes or {name, "any"} & set(self.dtypes) or any(kinds.get(d) == dtype.kind for d in self.dtypes):
            return None
        return self.tolerated_dtypes.get(name, "error")


@dataclass(frozen=True)
class Rule:
    """A rule over one or more fields.

    Attributes
    ----------
    id : str
        Stable identifier shown in findings.
    check : str
        One of :data:`CHECKS`: a value check, or a header check of
        :data:`HEADER_CHECKS` whose findings the rule names.
    fields : tuple of str
        Fields the rule looks at (absent optional fields are skipped).
    severity : str
        One of :data:`SEVERITIES`.
    value : float or None
        Threshold for the comparison checks; for ``index_range``, the number
        of entries when ``dim`` is not bound.
    description : str
        The rule in words.
    source : tuple of str
        Where the rule comes from: ``file:line`` of the consumer code or
        specification it states.
    params : dict
        Further parameters of the check (``dims`` of a ``dims`` rule, the
        tolerances of ``counting_lattice``...).
    dim : str or None
        ``index_range`` only: the dimension whose size bounds the values,
        which must lie in ``[0, size - 1]``.
    """

    id: str
    check: str
    fields: tuple[str, ...]
    severity: str = "error"
    value: float | None = None
    description: str = ""
    source: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    dim: str | None = None

    @property
    def is_header(self) -> bool:
        """True for rules that name a check the binding makes."""
        return self.check in HEADER_CHECKS

    def claims(self, check: str, name: str) -> bool:
        """Return True when the binding's ``check`` finding about field or dimension ``name`` is this rule's."""
        if self.check != check:
            return False
        return name in (self.params.get("dims", ()) if check == "dims" else self.fields)

    def cited(self, message: str) -> str:
        """Return ``message`` followed by the rule's meaning and citation."""
        why = self.description
        if self.source:
            why += f" ({'; '.join(self.source)})"
        return f"{message}; {why}" if why else message


@dataclass(frozen=True)
class DatasetContract:
    """A named set of fields, dimensions and rules.

    Attributes
    ----------
    name : str
        Short name (``data001``).
    title : str
        One-line title.
    kind : {"dataset", "pipeline"}
        A dataset file contract or a pipeline-output contract.
    fields : tuple of FieldSpec
        In display order.
    rules : tuple of Rule
        Value rules.
    dims : dict
        Symbolic dimension name -> ``{"min": int or dim name, "equals": dim name,
        "offset": int, "description": str}`` (``equals``: the two sizes must
        match, e.g. square frames; ``offset`` is added to the other size first,
        e.g. ``-1`` for one layer spacing fewer than layers).
    layout : dict or None
        Stack-order description for dataset contracts (``field``, ``canonical``,
        ``legacy``, ``legacy_severity``, ``note``, and ``ambiguous``: the order a
        consumer reads when the shape cannot tell, instead of refusing).
    origin : str
        Where the contract was read from (``builtin:NAME`` or a path).
    axis_aliases : dict
        Pipeline contracts: axis name -> canonical axis name shared with
        other contracts (``{"L": "B", "H": "N"}``), used to align layouts.
    """

    name: str
    title: str = ""
    kind: str = "dataset"
    version: str = "1"
    description: str = ""
    fields: tuple[FieldSpec, ...] = ()
    rules: tuple[Rule, ...] = ()
    dims: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    layout: Mapping[str, Any] | None = None
    sources: tuple[str, ...] = ()
    framework: str | None = None
    origin: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    axis_aliases: Mapping[str, str] = field(default_factory=dict)

    def canonical_axes(self, shape: tuple[str | int, ...]) -> tuple[str | int, ...]:
        """Return ``shape`` with axis names replaced by their canonical aliases.

        Examples
        --------
        >>> contract = DatasetContract("demo", axis_aliases={"L": "B", "H": "N", "W": "N"})
        >>> contract.canonical_axes(("L", "C", "H", "W"))
        ('B', 'C', 'N', 'N')
        """
        return tuple(self.axis_aliases.get(a, a) if isinstance(a, str) else a for a in shape)

    def claim(self, check: str, name: str) -> Rule | None:
        """Return the rule that names the binding's ``check`` finding about ``name``, if any."""
        return next((r for r in self.rules if r.claims(check, name)), None)

    def fields_with_role(self, role: str) -> tuple[FieldSpec, ...]:
        """Return the fields that carry ``role``, in contract order."""
        return tuple(f for f in self.fields if f.role == role)

    def field_named(self, name: str) -> FieldSpec | None:
        """Return the field called ``name`` (or with alias ``name``), else None."""
        for spec in self.fields:
            if spec.name == name or name in spec.aliases:
                return spec
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the contract as plain JSON-serializable data."""
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "version": self.version,
            "description": self.description,
            "framework": self.framework,
            "sources": list(self.sources),
            "layout": dict(self.layout) if self.layout else None,
            "dims": {k: dict(v) for k, v in self.dims.items()},
            "fields": [_field_to_dict(f) for f in self.fields],
            "rules": [_rule_to_dict(r) for r in self.rules],
            **({"axis_aliases": dict(self.axis_aliases)} if self.axis_aliases else {}),
            **dict(self.extra),
        }


def _rule_to_dict(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule.id,
        "check": rule.check,
        "fields": list(rule.fields),
        "severity": rule.severity,
        "value": rule.value,
        "description": rule.description,
    }
    optional = {"dim": rule.dim, "params": dict(rule.params), "source": list(rule.source)}
    return {**out, **{k: v for k, v in optional.items() if v}}


def _field_to_dict(spec: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": spec.name,
        "role": spec.role,
        "required": spec.required,
        "dtypes": list(spec.dtypes),
        "shape": list(spec.shape) if spec.shape is not None else None,
        "description": spec.description,
    }
    optional = {
        "tolerated_dtypes": dict(spec.tolerated_dtypes),
        "aliases": {
            a: {"severity": sev, "written_by": spec.written_by[a]} if a in spec.written_by else sev
            for a, sev in spec.aliases.items()
        },
        "alt_shapes": [{"shape": list(s), "severity": sev} for s, sev in spec.alt_shapes],
        "framework": spec.framework,
        "semantics": dict(spec.semantics),
        "source": list(spec.source),
        "label": spec.label,
        "presence": None if spec.presence == "stored" else spec.presence,
        "derive": dict(spec.derive or {}),
    }
    return {**out, **{k: v for k, v in optional.items() if v}}


def list_contracts(kind: str | None = None) -> list[str]:
    """Return the names of the built-in contracts.

    Parameters
    ----------
    kind : {"dataset", "pipeline"} or None
        Restrict to one kind.

    Examples
    --------
    >>> "data001" in list_contracts("dataset")
    True
    """
    names = []
    for package, folder in _BUILTIN_DIRS:
        base = resources.files(package) / folder
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                name = entry.name[: -len(".json")]
                if kind is None or load_contract(name).kind == kind:
                    names.append(name)
    return names


def load_contract(name_or_path: str | os.PathLike | DatasetContract) -> DatasetContract:
    """Load a built-in contract by name or a contract file by path.

    Parameters
    ----------
    name_or_path : str, path or DatasetContract
        A built-in name (see :func:`list_contracts`), or a path to a JSON
        contract file. A contract object is returned unchanged.

    Returns
    -------
    DatasetContract

    Raises
    ------
    InputError
        If the name is unknown, the file cannot be read or parsed, or it
        does not describe a valid contract.

    Examples
    --------
    >>> contract = load_contract("data001")
    >>> contract.field_named("diff3d").name
    'diffraction'
    """
    if isinstance(name_or_path, DatasetContract):
        return name_or_path
    text_name = os.fspath(name_or_path)
    if os.sep not in text_name and not text_name.endswith(".json"):
        for package, folder in _BUILTIN_DIRS:
            entry = resources.files(package) / folder / f"{text_name}.json"
            if entry.is_file():
                origin = f"builtin:{text_name}"
                data = parse_json(entry.read_text(encoding="utf-8"), f"contract file '{origin}'", origin)
                return contract_from_dict(data, origin=origin)
        if not os.path.exists(text_name):
            known = ", ".join(list_contracts())
            msg = f"unknown contract '{text_name}'; built-ins are: {known} (or pass a JSON file path)"
            raise InputError(msg)
    if not os.path.isfile(text_name):
        problem = "is a directory" if os.path.isdir(text_name) else "does not exist"
        msg = f"contract file '{text_name}' {problem}"
        raise InputError(msg, text_name)
    data = read_json(text_name, f"contract file '{text_name}'", max_bytes=_CONTRACT_MAX_BYTES)
    return contract_from_dict(data, origin=text_name)


def contract_from_dict(data: Any, origin: str = "<dict>") -> DatasetContract:
    """Build a :class:`DatasetContract` from parsed JSON, checking every entry.

    Parameters
    ----------
    data : dict
        The parsed contract document.
    origin : str
        Where it came from, for messages.

    Returns
    -------
    DatasetContract

    Raises
    ------
    InputError
        Naming the entry that is wrong (unknown dtype, check or severity,
        missing name...).
    """
    try:
        if isinstance(data, dict) and "extends" in data:
            data = _extended(data, origin)
        return _build_contract(data, origin)
    except InputError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, OverflowError) as exc:
        # A list where an object belongs (or similar) in a hand-written file.
        msg = (
            f"contract '{origin}' has an entry of the wrong type ({type(exc).__name__}: "
            f"{exc}); compare it with 'ptyevidence contract show data001 --format json'"
        )
        raise InputError(msg, origin) from None


def _extended(data: dict[str, Any], origin: str) -> dict[str, Any]:
    """Merge a contract with the built-in it ``extends``.

    Fields replace the base's fields of the same name (others are appended),
    rules replace the base's rules of the same id, dimensions replace the
    base's dimensions of the same name; other entries replace the base's.
    """
    base_name = data["extends"]
    if not isinstance(base_name, str) or base_name == data.get("name"):
        msg = f"contract '{origin}': 'extends' must name another built-in contract"
        raise InputError(msg, origin)
    base = load_contract(base_name).to_dict()
    merged = {**base, **{k: v for k, v in data.items() if k not in ("fields", "rules", "dims")}}
    for key, ident in (("fields", "name"), ("rules", "id")):
        own = {item[ident]: item for item in data.get(key, [])}
        items = [own.pop(item[ident], item) for item in base[key]]
        merged[key] = items + list(own.values())
    merged["dims"] = {**base["dims"], **data.get("dims", {})}
    return merged


def _build_contract(data: Any, origin: str) -> DatasetContract:
    def fail(what: str) -> NoReturn:
        msg = f"contract '{origin}': {what}"
        raise InputError(msg, origin)

    if not isinstance(data, dict):
        fail("top level must be a JSON object")
    for key in ("name", "fields"):
        if key not in data:
            fail(f"missing required entry '{key}'")
    if not isinstance(data["fields"], list) or not data["fields"]:
        fail("'fields' must be a non-empty list")
    fields = tuple(_field_from_dict(item, i, fail) for i, item in enumerate(data["fields"]))
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        fail(f"field names repeat: {', '.join(duplicates)}")
    _check_derivations(fields, fail)
    rules = tuple(
        _rule_from_dict(item, i, fields, data.get("dims", {}), fail) for i, item in enumerate(data.get("rules", []))
    )
    kind = data.get("kind", "dataset")
    if kind not in ("dataset", "pipeline"):
        fail(f"kind '{kind}' is not 'dataset' or 'pipeline'")
    dims = data.get("dims", {})
    if not isinstance(dims, dict):
        fail("'dims' must be an object")
    layout = data.get("layout")
    if layout is not None:
        if not isinstance(layout, dict) or layout.get("field") not in names:
            fail(f"'layout' must be an object whose 'field' is one of: {', '.join(names)}")
        for key in ("field", "canonical", "legacy"):
            if key not in layout:
                fail(f"layout is missing '{key}'")
        for key in ("canonical", "legacy"):
            axes = layout[key]
            if not (isinstance(axes, list) and axes and all(isinstance(a, str) for a in axes)):
                fail(f'layout \'{key}\' must be a non-empty list of dimension names, e.g. ["N", "H", "W"]')
        if sorted(layout["canonical"]) != sorted(layout["legacy"]):
            fail("layout 'canonical' and 'legacy' must order the same dimension names")
        _check_severity(layout.get("legacy_severity", "error"), "layout", fail)
        if layout.get("ambiguous", "canonical") not in ("canonical", "legacy"):
            fail("layout 'ambiguous' must be 'canonical' or 'legacy'")
        if not isinstance(layout.get("note", ""), str):
            fail("layout 'note' must be text")
    for name, spec in dims.items():
        if not isinstance(spec, dict):
            fail(f"dimension '{name}' must be an object")
        if "size" in spec and not (isinstance(spec["size"], int) and spec["size"] >= 0):
            fail(f"dimension '{name}' has size {spec['size']!r}; expected a non-negative integer")
        lower = spec.get("min")
        if lower is not None and not (isinstance(lower, int) or lower in dims):
            fail(f"dimension '{name}' has min {lower!r}; expected an integer or a dimension name")
        if "equals" in spec and spec["equals"] not in dims:
            fail(f"dimension '{name}' equals {spec['equals']!r}; expected another dimension name")
        one_of = spec.get("one_of")
        if one_of is not None and not (isinstance(one_of, list) and all(isinstance(v, int) for v in one_of)):
            fail(f"dimension '{name}' has one_of {one_of!r}; expected a list of integers")
        if not isinstance(spec.get("offset", 0), int) or ("offset" in spec and "equals" not in spec):
            fail(f"dimension '{name}' has offset {spec['offset']!r}; expected an integer beside 'equals'")
    aliases = data.get("axis_aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        fail('\'axis_aliases\' must map axis names to axis names, e.g. {"L": "B"}')
    # Every attribute a contract document sets; other entries are kept as ``extra``.
    known = {f.name for f in dataclasses.fields(DatasetContract)} - {"origin", "extra"}
    if rules and any(r.id == other.id for i, r in enumerate(rules) for other in rules[:i]):
        fail("rule ids repeat")
    return DatasetContract(
        name=str(data["name"]),
        title=str(data.get("title", "")),
        kind=kind,
        version=str(data.get("version", "1")),
        description=str(data.get("description", "")),
        fields=fields,
        rules=rules,
        dims=dims,
        layout=layout,
        sources=tuple(data.get("sources", [])),
        framework=data.get("framework"),
        origin=origin,
        extra={k: v for k, v in data.items() if k not in known},
        axis_aliases=dict(aliases),
    )


def _check_dtype(name: Any, where: str, fail) -> str:
    """Return the canonical numpy name of ``name`` (``"f4"`` -> ``"float32"``)."""
    if name in ("structured", "any", "unicode", "bytes"):
        return name
    if not isinstance(name, str):
        fail(f"{where} lists dtype {name!r}; expected a numpy dtype name such as 'float32'")
    try:
        # Files are compared by canonical name, so "f4" must become "float32". A deprecated
        # alias ("a") is refused rather than warned about.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return np.dtype(name).name
    except (TypeError, ValueError, SyntaxError, Warning):
        fail(f"{where} lists unknown dtype '{name}'")


def _listed(value: Any) -> Any:
    """Return ``value`` as a list: a name given alone stands for a list of one."""
    return [value] if isinstance(value, str) else value


def _check_severity(value: str, where: str, fail) -> None:
    if value not in SEVERITIES:
        fail(f"{where} has severity '{value}'; expected one of {', '.join(SEVERITIES)}")


def _check_shape(shape: Any, where: str, fail) -> tuple[str | int, ...]:
    if not isinstance(shape, list) or not all(isinstance(s, (str, int)) for s in shape):
        fail(f"{where} shape must be a list of dimension names or integers")
    return tuple(shape)


def _field_from_dict(item: Any, i: int, fail) -> FieldSpec:
    if not isinstance(item, dict) or "name" not in item:
        fail(f"field #{i + 1} must be an object with a 'name'")
    name = item["name"]
    where = f"field '{name}'"
    dtypes = [_check_dtype(dt, where, fail) for dt in _listed(item.get("dtypes", []))]
    tolerated = {_check_dtype(dt, where, fail): sev for dt, sev in item.get("tolerated_dtypes", {}).items()}
    for sev in tolerated.values():
        _check_severity(sev, where, fail)
    aliases, written_by = {}, {}
    for alias, entry in item.get("aliases", {}).items():
        if isinstance(entry, dict):
            written_by[alias] = str(entry.get("written_by", ""))
            entry = entry.get("severity", "warning")
        _check_severity(entry, where, fail)
        aliases[alias] = entry
    shape = item.get("shape")
    if shape is not None:
        shape = _check_shape(shape, where, fail)
    alt = []
    for entry in item.get("alt_shapes", []):
        _check_severity(entry.get("severity", "warning"), where, fail)
        alt.append((_check_shape(entry.get("shape"), where, fail), entry.get("severity", "warning")))
    source = _listed(item.get("source", []))
    presence = item.get("presence", "stored")
    if presence not in PRESENCES:
        fail(f"{where} has presence '{presence}'; expected one of {', '.join(PRESENCES)}")
    semantics = item.get("semantics", {})
    if not isinstance(semantics, dict):
        fail(f"{where} 'semantics' must be an object of named notes")
    derive = item.get("derive")
    if (presence == "derived") != (derive is not None):
        fail(f"{where}: 'derive' is required with presence 'derived' and allowed only there")
    if derive is not None and (
        not isinstance(derive, dict)
        or derive.get("op") not in DERIVE_OPS
        or not isinstance(derive.get("of"), list)
        or len(derive["of"]) != (1 if derive["op"] == "copy" else 2)
    ):
        fail(
            f"{where} 'derive' must be {{\"op\": one of {', '.join(DERIVE_OPS)}, "
            '"of": [field names]}} (one name for copy, two otherwise)'
        )
    return FieldSpec(
        name=str(name),
        role=str(item.get("role", name)),
        required=bool(item.get("required", True)),
        dtypes=tuple(dtypes),
        shape=shape,
        tolerated_dtypes=dict(tolerated),
        aliases=aliases,
        written_by={a: w for a, w in written_by.items() if w},
        alt_shapes=tuple(alt),
        description=str(item.get("description", "")),
        framework=item.get("framework"),
        semantics={str(k): str(v) for k, v in semantics.items()},
        source=tuple(str(s) for s in source),
        label=str(item.get("label", "")),
        presence=presence,
        derive=dict(derive) if derive is not None else None,
    )


def _check_derivations(fields: tuple[FieldSpec, ...], fail) -> None:
    stored = {f.name for f in fields if f.presence == "stored"}
    for spec in fields:
        if spec.derive is None:
            continue
        unknown = [name for name in spec.derive["of"] if name not in stored]
        if unknown:
            fail(f"field '{spec.name}' derives from {', '.join(unknown)}, which is not a stored field of this contract")


def _param_fits(kind: str, value: Any) -> bool:
    """Return whether ``value`` is of ``kind`` (a value of :data:`_PARAM_KINDS`)."""

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def names(v: Any) -> bool:
        return isinstance(v, (list, tuple)) and all(isinstance(n, str) for n in v)

    if kind == "a number":
        return number(value)
    if kind == "two numbers":
        return isinstance(value, (list, tuple)) and len(value) == 2 and all(number(v) for v in value)
    if kind == "a name":
        return isinstance(value, str)
    if kind == "a list of names":
        return names(value)
    return isinstance(value, (list, tuple)) and all(names(v) for v in value)


def _rule_from_dict(item: Any, i: int, specs: tuple[FieldSpec, ...], dims: Any, fail) -> Rule:
    if not isinstance(item, dict) or "id" not in item or "check" not in item:
        fail(f"rule #{i + 1} must be an object with 'id' and 'check'")
    where = f"rule '{item['id']}'"
    check = item["check"]
    if check not in CHECKS:
        fail(f"{where} has unknown check '{check}'; known: {', '.join(CHECKS)}")
    severity = item.get("severity", "error")
    _check_severity(severity, where, fail)
    fields = _listed(item.get("fields", []))
    by_name = {f.name: f for f in specs}
    unknown = [f for f in fields if f not in by_name]
    if unknown:
        fail(f"{where} names unknown field(s) {', '.join(unknown)}")
    value = item.get("value")
    if check in _THRESHOLD_CHECKS and not isinstance(value, (int, float)):
        fail(f"{where} needs a numeric 'value'")
    dim = item.get("dim")
    if check == "index_range" and not (isinstance(dim, str) or isinstance(value, (int, float))):
        fail(f"{where} needs a 'dim' (the dimension whose size bounds the indexes) or a numeric 'value'")
    params = item.get("params", {})
    if not isinstance(params, dict):
        fail(f"{where} 'params' must be an object")
    missing = [p for p in _REQUIRED_PARAMS.get(check, ()) if p not in params]
    if missing:
        fail(f"{where} (check {check}) needs params {', '.join(missing)}")
    wrong = [
        f"'{k}' must be {_PARAM_KINDS[k]}"
        for k, v in params.items()
        if k in _PARAM_KINDS and not _param_fits(_PARAM_KINDS[k], v)
    ]
    if wrong:
        fail(f"{where} (check {check}): param {'; '.join(wrong)}")
    if check == "dims":
        odd = [d for d in params["dims"] if d not in dims]
        if odd:
            fail(f"{where} names unknown dimension(s) {', '.join(map(str, odd))}")
    if check == "required" and any(not by_name[f].required for f in fields):
        fail(f"{where} names optional field(s); a 'required' rule names required fields")
    if check in ("rank", "size") and any(by_name[f].shape is None for f in fields):
        fail(f"{where} names field(s) without a shape")
    source = _listed(item.get("source", []))
    return Rule(
        id=str(item["id"]),
        check=check,
        fields=tuple(fields),
        severity=severity,
        value=None if value is None else float(value),
        description=str(item.get("description", "")),
        source=tuple(str(s) for s in source),
        params=dict(params),
        dim=None if dim is None else str(dim),
    )
