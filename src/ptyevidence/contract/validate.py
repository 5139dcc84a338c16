"""Validate a dataset file against a contract, streaming over large arrays.

Validation gathers every finding first, so one run lists every gap; callers
choose between :attr:`ValidationReport.ok` and
:meth:`ValidationReport.raise_if_failed`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._format import aligned_rows
from .._json import dumps_strict, read_json
from .._progress import progress_bar
from ..exceptions import ContractError, InputError, UsageError
from ..readers.base import Source
from ..readers.common import map_blocks
from ..readers.registry import open_source
from .binding import Binding, Finding, bind
from .checks import CHECK_TABLE
from .model import DatasetContract, list_contracts, load_contract

__all__ = ["ArrayStats", "Finding", "ValidationReport", "validate_dataset"]


@dataclass
class ArrayStats:
    """Streaming statistics of a numeric array (complex arrays: of the modulus)."""

    count: int = 0
    finite: int = 0
    nan: int = 0
    inf: int = 0
    min: float | None = None
    max: float | None = None
    sum: float = 0.0
    nonzero: int = 0

    def update(self, block: np.ndarray) -> None:
        """Fold one flat block of values into the statistics.

        Blocks whose extremes are finite take a fast path of a few plain
        reductions: NaN propagates through ``min``/``max`` and an infinity
        becomes one of them, so finite extremes prove every value finite and
        no mask is built. Other blocks take the masked path.
        """
        if block.size == 0:
            return
        if self._update_non_negative_floats(block):
            return
        if block.dtype.kind == "c" and block.flags.c_contiguous:
            parts = block.view(block.real.dtype)
            if np.isfinite(parts.min()) and np.isfinite(parts.max()):
                self.count += block.size
                self._fold_finite(np.abs(block))
                return
        elif block.dtype.kind == "f":
            lo, hi = block.min(), block.max()
            if np.isfinite(lo) and np.isfinite(hi):
                self.count += block.size
                self._fold_finite(block, lo, hi)
                return
        if np.iscomplexobj(block):
            finite_mask = np.isfinite(block.real) & np.isfinite(block.imag)
            nan = int(np.count_nonzero(np.isnan(block.real) | np.isnan(block.imag)))
            values = np.abs(block)
        else:
            finite_mask = np.isfinite(block) if block.dtype.kind == "f" else None
            nan = int(np.count_nonzero(np.isnan(block))) if finite_mask is not None else 0
            values = block
        self.count += block.size
        if finite_mask is not None and not finite_mask.all():
            n_finite = int(np.count_nonzero(finite_mask))
            self.nan += nan
            self.inf += block.size - n_finite - nan
            values = values[finite_mask]
        if values.size:
            self._fold_finite(values)

    def _update_non_negative_floats(self, block: np.ndarray) -> bool:
        """Fold a float block in three passes if every value is finite and >= +0.

        Read as same-width unsigned integers, floats with the sign bit clear
        sort like the floats themselves and sit below the bits of +inf; NaNs
        and every value with the sign bit set (negatives, -0.0) sit above. So
        an unsigned maximum below ``bits(+inf)`` proves the block finite and
        non-negative and is its float maximum; a value is then zero exactly
        when its bits are, so "nonzero" is an integer count, and any zero makes
        the minimum 0.0 without a pass of its own. The usual diffraction
        amplitudes (non-negative, with zeros) need three passes instead of the
        float route's four. Returns False, having folded nothing, otherwise.
        """
        dtype = block.dtype
        if dtype.kind != "f" or not dtype.isnative or block.ndim != 1 or dtype.itemsize not in (2, 4, 8):
            return False
        if not block.flags.c_contiguous:
            return False
        bits = block.view(f"u{dtype.itemsize}")
        high = bits.max()
        if high >= np.array(np.inf, dtype).view(bits.dtype):
            return False
        nonzero = int(np.count_nonzero(bits))
        lo = block.min() if nonzero == block.size else dtype.type(0)
        hi = np.array(high, bits.dtype).view(dtype)
        self.count += block.size
        self._fold_finite(block, lo, hi, nonzero=nonzero)
        return True

    def _fold_finite(self, values: np.ndarray, lo: Any = None, hi: Any = None, nonzero: int | None = None) -> None:
        """Fold real finite values, with their extremes and nonzero count if known."""
        if lo is None:
            lo, hi = values.min(), values.max()
        lo, hi = float(lo), float(hi)
        self.finite += values.size
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        self.sum += _sum_as_float64(values, max(abs(lo), abs(hi)))
        if nonzero is None:
            nonzero = values.size if lo > 0 or hi < 0 else int(np.count_nonzero(values))
        self.nonzero += nonzero

    def merge(self, other: ArrayStats) -> None:
        """Fold in the statistics of values that follow these ones.

        Merging the statistics of each block, in storage order, gives exactly
        what :meth:`update` on those blocks gives: counts add, extremes keep
        the first of equal values, and the block sums are added in the same
        order. Merging partials of several blocks each can change ``sum`` by
        float64 rounding only.
        """
        for name in ("count", "finite", "nan", "inf", "nonzero"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.min is not None:
            self.min = other.min if self.min is None else min(self.min, other.min)
            self.max = other.max if self.max is None else max(self.max, other.max)
        self.sum += other.sum

    @property
    def mean(self) -> float | None:
        """Mean of the finite values."""
        return self.sum / self.finite if self.finite else None

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics with the mean and finite fraction added."""
        out = asdict(self)
        out["mean"] = self.mean
        out["finite_fraction"] = self.finite / self.count if self.count else None
        return out


#: Length of the runs summed in float32 before the float64 total.
_SUM_RUN = 4096
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _sum_as_float64(values: np.ndarray, largest: float) -> float:
    """Sum real finite ``values`` with float64 accuracy where it matters.

    float32 data are summed pairwise in runs of :data:`_SUM_RUN` in their own
    width (relative error about 1e-7 per run), then the run totals in float64;
    casting every value to float64 first costs twice the time. Other dtypes,
    and float32 runs that could overflow, are summed in float64 directly.
    """
    if values.dtype != np.float32 or largest * _SUM_RUN >= _FLOAT32_MAX:
        return float(values.sum(dtype=np.float64))
    whole = values.size - values.size % _SUM_RUN
    runs = values[:whole].reshape(-1, _SUM_RUN).sum(axis=1) if whole else values[:0]
    return float(runs.sum(dtype=np.float64)) + float(values[whole:].sum(dtype=np.float64))


@dataclass
class ValidationReport:
    """Everything validation learned about one dataset.

    Attributes
    ----------
    path : str
        The dataset file.
    contract : str
        Contract name.
    format : str
        Reader that opened the file (``npz``, ``cxi``).
    layout : str or None
        Stored stack order, ``canonical`` or ``legacy``.
    fields : dict
        Contract field name -> ``{"key", "dtype", "shape", "canonical_shape"}``.
    dims : dict
        Bound symbolic dimensions (``N``, ``H``, ``W``...).
    stats : dict
        Field name -> :class:`ArrayStats` as a dict.
    findings : list of Finding
    checked : dict
        Rule id -> what the rule measured, for every rule that applied (its
        fields were present); a rule is met when no error finding carries its id.
    """

    path: str
    contract: str
    format: str = "npz"
    layout: str | None = None
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        """Findings of severity ``error``."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings of severity ``warning``."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not self.errors

    @property
    def verdict(self) -> str:
        """One line: PASS/FAIL with counts."""
        word = "PASS" if self.ok else "FAIL"
        return (
            f"{word}: '{self.path}' against {self.contract}: {len(self.errors)} error(s), "
            f"{len(self.warnings)} warning(s)"
        )

    def __repr__(self) -> str:
        return f"<ValidationReport {self.verdict}>"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def raise_if_failed(self) -> None:
        """Raise :class:`ContractError` listing the error findings, if any."""
        if not self.ok:
            raise ContractError(self.verdict, self.errors, self.path)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-serializable data."""
        return {
            "path": self.path,
            "contract": self.contract,
            "format": self.format,
            "layout": self.layout,
            "ok": self.ok,
            "verdict": self.verdict,
            "dims": dict(self.dims),
            "fields": self.fields,
            "stats": self.stats,
            "findings": [asdict(f) for f in self.findings],
            "checked": dict(self.checked),
        }

    def to_json(self) -> str:
        """Return :meth:`to_dict` as indented JSON."""
        return dumps_strict(self.to_dict(), indent=2)

    def to_markdown(self, heading_level: int = 2) -> str:
        """Return the report as Markdown (see :func:`~ptyevidence.contract.validation_markdown`)."""
        from .render import validation_markdown

        return validation_markdown(self, heading_level)

    def to_text(self) -> str:
        """Return the findings as an aligned text table plus the verdict."""
        rows = [("SEVERITY", "RULE", "FIELD", "MESSAGE")]
        order = {"error": 0, "warning": 1, "info": 2}
        for f in sorted(self.findings, key=lambda f: order.get(f.severity, 3)):
            rows.append((f.severity, f.rule, f.field, f.message))
        if len(rows) == 1:
            return f"no findings\n{self.verdict}"
        return "\n".join(aligned_rows(rows) + [self.verdict])


def validate_dataset(
    path: str | os.PathLike,
    contract: str | os.PathLike | DatasetContract = "data001",
    layout: str = "auto",
    progress: bool | None = None,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
    record: str | os.PathLike | dict[str, Any] | None = None,
    jobs: int = 1,
) -> ValidationReport:
    """Check a dataset file against a contract.

    Headers are checked first (presence, dtype, shape with dimensions bound
    across fields); values are then streamed in bounded blocks, so memory
    does not grow with file size.

    Parameters
    ----------
    path : str or path
        Dataset file (``.npz``, or any format with a registered reader).
    contract : str, path or DatasetContract
        Built-in name (``data001``, ``legacy``) or contract file.
    layout : {"auto", "canonical", "legacy"}
        Stored order of the diffraction stack; ``auto`` decides from the
        evidence and refuses when it is ambiguous.
    progress : bool or None
        Show a progress bar for long passes; None shows one on a terminal.
    reader : str or None
        Reader of the file (:func:`ptyevidence.readers.open_source`); None
        recognizes the format.
    positions_from : str, path or None
        File holding the positions of a diffraction-only ``path``.
    geometry, sample_pixel_size : optional
        How a CXI file's translations become pixels (see
        :func:`ptyevidence.readers.open_source`); None: far-field assumed,
        with a ``geometry`` warning saying so.
    record : str, path, dict or None
        The record the contract's ``record_*`` rules read (a fixture's
        sidecar); None reads the ``.json`` file beside ``path`` if there is one.
    jobs : int
        Threads that read and fold the blocks of an array the reader can
        split (uncompressed NPZ members, CXI frame stacks; see
        :func:`ptyevidence.readers.common.map_blocks`), each with one block
        in memory. The report is the same for any ``jobs``.

    Returns
    -------
    ValidationReport

    Raises
    ------
    InputError
        If the file cannot be read at all, or its layout is ambiguous.
    UsageError
        If ``jobs`` is not a whole number >= 1, or ``contract`` is not a
        dataset contract.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.npz")
    >>> np.savez(path, diffraction=rng.random((4, 8, 8), dtype=np.float32),
    ...          probeGuess=np.ones((8, 8), np.complex64),
    ...          objectGuess=np.ones((16, 16), np.complex64),
    ...          xcoords=np.arange(4.0), ycoords=np.zeros(4))
    >>> report = validate_dataset(path)
    >>> report.ok, report.dims["N"]
    (True, 4)
    """
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        msg = f"jobs={jobs!r} is not a positive whole number of threads"
        raise UsageError(msg)
    spec = load_contract(contract)
    if spec.kind != "dataset":
        msg = (
            f"contract '{spec.name}' describes a pipeline's in-memory data (kind "
            f"'{spec.kind}'), not a dataset file; use a dataset contract such as "
            f"{', '.join(list_contracts('dataset'))}"
        )
        raise UsageError(msg)
    source = open_source(path, reader, positions_from, geometry, sample_pixel_size)
    try:
        return _Validator(source, spec, layout, progress, record, int(jobs)).run()
    finally:
        source.close()


class _Validator:
    """One validation run: the binding's findings, then streamed value checks."""

    def __init__(
        self, source: Source, contract: DatasetContract, layout: str, progress: bool | None, record: Any, jobs: int
    ):
        self.source = source
        self.contract = contract
        self.progress = progress
        self.jobs = jobs
        self.binding: Binding = bind(contract, source, layout)
        self.keys = self.binding.keys  # contract field name -> key in file
        needs_record = any(r.check.startswith("record_") for r in contract.rules)
        self.record, self.record_problem = _load_record(record, source.path) if needs_record else (None, None)
        self.stats: dict[str, ArrayStats] = {}
        self.report = ValidationReport(
            path=source.path,
            contract=contract.name,
            format=source.format,
            layout=self.binding.layout,
            dims=dict(self.binding.dims),
            findings=list(self.binding.findings),
        )
        statement = source.position_statement()
        if statement is not None:
            # Positions converted from metres: say how, and warn when the geometry was assumed.
            self.add("geometry", "*", "warning" if source.geometry_assumed else "info", statement)
        for name, bound in self.binding.fields.items():
            entry = {"key": bound.key, "dtype": str(bound.dtype), "shape": list(bound.stored_shape)}
            entry.update({"canonical_shape": list(bound.shape)} if bound.readable else {"unreadable": True})
            self.report.fields[name] = entry

    def add(self, rule: str, fld: str, severity: str, message: str) -> None:
        self.report.findings.append(Finding(rule, fld, severity, message))

    def readable(self, name: str) -> bool:
        """Return True for a numeric field found in the file."""
        bound = self.binding.fields.get(name)
        return bound is not None and bound.readable and bound.dtype.kind in "biufc"

    def run(self) -> ValidationReport:
        # Every field found is streamed, rule or not: its statistics go in the
        # report, and reading each member to the end checks its zip CRC.
        for name in self.binding.fields:
            if self.readable(name):
                self.stats[name] = self._stream_stats(name)
                self.report.stats[name] = self.stats[name].to_dict()
        for rule in self.contract.rules:
            if rule.is_header:
                observed = self._observe_header(rule)
            else:
                before = len(self.report.findings)
                observed = CHECK_TABLE[rule.check](self, rule)
                if rule.source:
                    # Each finding says where its rule comes from (file:line of the consumer or spec).
                    cite = f" ({'; '.join(rule.source)})"
                    self.report.findings[before:] = [
                        Finding(f.rule, f.field, f.severity, f.message + cite) for f in self.report.findings[before:]
                    ]
            if observed is not None:
                self.report.checked[rule.id] = observed
        return self.report

    def _observe_header(self, rule) -> str | None:
        """Return what the binding saw for a header rule's fields or dimensions; None when none is present."""
        fields = self.binding.fields
        if rule.check == "dims":
            dims = [d for d in rule.params["dims"] if d in self.binding.dims]
            return ", ".join(f"{d} = {self.binding.dims[d]}" for d in dims) or None
        if rule.check == "required":
            return ", ".join(f"{n} {'present' if n in fields else 'absent'}" for n in rule.fields)
        present = [n for n in rule.fields if n in fields]
        if rule.check == "dtype":
            return ", ".join(f"{n} {fields[n].dtype.newbyteorder('=').name}" for n in present) or None
        if rule.check == "layout":
            return self.binding.layout if present else None
        return ", ".join(f"{n} {tuple(fields[n].stored_shape)}" for n in present) or None

    def _stream_stats(self, name: str) -> ArrayStats:
        # Each block gets statistics of its own, merged in storage order: the
        # same fold whichever thread read the block (see ArrayStats.merge).
        key = self.keys[name]
        info = self.source.info(key)
        acc = ArrayStats()
        with progress_bar(info.nbytes, f"validate {key}", self.progress) as bar:
            for part in map_blocks(self.source, key, _block_stats, self.jobs):
                acc.merge(part)
                bar.update(part.count * info.dtype.itemsize)
        return acc


def _block_stats(block: np.ndarray) -> ArrayStats:
    stats = ArrayStats()
    stats.update(block)
    return stats


def _load_record(record: Any, path: str) -> tuple[dict[str, Any] | None, str | None]:
    """Return the record (a fixture's sidecar) that record rules read: given, or the JSON file beside ``path``."""
    if isinstance(record, dict):
        return record, None
    where = os.fspath(record) if record is not None else os.path.splitext(path)[0] + ".json"
    if not os.path.isfile(where):
        return None, f"no record '{where}' (a fixture's JSON sidecar); pass record=PATH"
    try:
        data = read_json(where, f"record '{where}'")
    except InputError as exc:
        return None, f"record '{where}' cannot be read ({exc})"
    if not isinstance(data, dict):
        return None, f"record '{where}' is not a JSON object"
    return data, None
