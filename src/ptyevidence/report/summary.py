"""The records a report is made of: what the notebooks write and what ``summary.json`` holds.

The notebooks write ``coverage.json`` (:class:`CoverageRecord`), ``data_contract.json``
(:meth:`ptyevidence.ValidationReport.to_json`) and ``torch_gap_matrix.csv``
(:meth:`ptyevidence.GapMatrix.to_csv`); the runner reads them back through the ``read`` methods here and
writes ``summary.json`` (:class:`ReportSummary`). Every key of those files is named here or in the
library class that writes it, never only in a notebook.
"""

from __future__ import annotations

import copy
import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from .._json import dumps_strict, read_json
from ..fixture.verdict import recorded_verdicts


class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def _read_json(path: str | os.PathLike) -> dict[str, Any]:
    return read_json(path, f"record '{os.fspath(path)}'")


#: Every record class by name: a field annotated with one is read back through its ``from_dict``.
_RECORDS: dict[str, type[_Record]] = {}


class _Record:
    """``to_dict``/``from_dict``/``to_json``/``read`` of a dataclass record whose fields are JSON values or records."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _RECORDS[cls.__name__] = cls

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data, fields in order (records as their own :meth:`to_dict`)."""
        data = {}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.to_dict() if isinstance(value, _Record) else copy.deepcopy(value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Inverse of :meth:`to_dict` (other entries of ``data`` are ignored; missing ones take their defaults)."""
        values = {}
        for f in fields(cls):
            if f.name in data:
                record = _RECORDS.get(str(f.type))
                values[f.name] = record.from_dict(data[f.name]) if record else copy.deepcopy(data[f.name])
            elif f.default is MISSING and f.default_factory is MISSING:
                values[f.name] = data[f.name]  # KeyError: a required entry is missing
        return cls(**values)

    def to_json(self) -> str:
        """Return the record as a JSON file holds it: :meth:`to_dict` indented, one final newline."""
        return dumps_strict(self.to_dict(), indent=2) + "\n"

    @classmethod
    def read(cls, path: str | os.PathLike) -> Any:
        """Read a record from its JSON file."""
        return cls.from_dict(_read_json(path))


@dataclass(frozen=True)
class FixtureRecord(_Record):
    """The fixture a coverage record measures (``coverage.json`` entry ``fixture``).

    Attributes
    ----------
    path, sidecar, notes : str
        The fixture NPZ, its JSON sidecar and its Markdown notes.
    subset_size : int
        Positions in the fixture.
    strategy : str
        Subset strategy that chose them.
    seed : int
        Seed of the strategy.
    sha256 : str
        SHA-256 of the fixture file.
    contract_verdict : str
        ``PASS`` or ``FAIL``: the fixture against its contract, as its sidecar records it.
    verified : bool
        The fixture matched its sidecar and source when it was verified.
    acceptance_verdict : str or None
        ``PASS`` or ``FAIL``: the fixture against ``fixture-acceptance``, as its sidecar records it.
    """

    path: str
    sidecar: str
    notes: str
    subset_size: int
    strategy: str
    seed: int
    sha256: str
    contract_verdict: str
    verified: bool
    acceptance_verdict: str | None = None

    @classmethod
    def from_sidecar(
        cls,
        path: str | os.PathLike,
        sidecar_path: str | os.PathLike,
        notes: str | os.PathLike,
        sidecar: Mapping[str, Any],
        verified: bool,
    ) -> FixtureRecord:
        """Describe a fixture from its sidecar record (:func:`ptyevidence.fixture.read_sidecar`).

        Parameters
        ----------
        path, sidecar_path, notes : str or path
            The fixture NPZ, its sidecar and its notes.
        sidecar : mapping
            The sidecar's content.
        verified : bool
            Outcome of :func:`ptyevidence.verify_fixture`.

        Returns
        -------
        FixtureRecord
        """
        return cls(
            path=os.fspath(path),
            sidecar=os.fspath(sidecar_path),
            notes=os.fspath(notes),
            subset_size=sidecar["subset_size"],
            strategy=sidecar["subset_strategy"],
            seed=sidecar["seed"],
            sha256=sidecar["sha256_checksum"],
            contract_verdict=sidecar["contract"]["verdict"],
            verified=bool(verified),
            acceptance_verdict=recorded_verdicts(sidecar)["acceptance"],
        )


@dataclass(frozen=True)
class CoverageRecord(_Record):
    """What ``coverage.json`` holds.

    Attributes
    ----------
    source : str
        The scanned dataset.
    units : str
        Units of the positions (``object pixels`` or ``m``).
    fixture : FixtureRecord
        The fixture measured.
    scan : dict
        :meth:`ptyevidence.coverage.ScanStats.to_dict` of the whole scan.
    metrics : dict
        :meth:`ptyevidence.CoverageMetrics.to_dict` of the fixture.
    strategies : dict of str to dict
        The same metrics for each subset strategy, by name.
    plots : list of str
        Figures written.
    probe : dict or None
        :meth:`ptyevidence.coverage.ProbeSize.to_dict` of the probe whose
        diameter the overlap ratios use; None without one.
    best_strategy : str or None
        The strategy with the best coverage
        (:data:`ptyevidence.coverage.BEST_CRITERION`).
    """

    source: str
    units: str
    fixture: FixtureRecord
    scan: dict[str, Any]
    metrics: dict[str, Any]
    strategies: dict[str, dict[str, Any]]
    plots: list[str] = field(default_factory=list)
    probe: dict[str, Any] | None = None
    best_strategy: str | None = None

    @classmethod
    def from_results(
        cls,
        source: str | os.PathLike,
        units: str,
        fixture: FixtureRecord,
        scan: _HasToDict,
        metrics: _HasToDict,
        strategies: Sequence[tuple[str, Any]],
        plots: Sequence[str | os.PathLike] = (),
        probe: _HasToDict | None = None,
    ) -> CoverageRecord:
        """Collect the coverage results of a fixture.

        Parameters
        ----------
        source : str or path
            The scanned dataset.
        units : str
            :attr:`ptyevidence.readers.Source.position_units` of the source.
        fixture : FixtureRecord
            The fixture measured.
        scan : ScanStats
            From :func:`ptyevidence.coverage.describe_scan`.
        metrics : CoverageMetrics
            From :func:`ptyevidence.scan_coverage` on the fixture's indices.
        strategies : sequence of (str, CoverageMetrics)
            From :func:`ptyevidence.coverage.compare_subsets`.
        plots : sequence of str or path
            Figures written.
        probe : ProbeSize, optional
            The probe whose diameter the metrics use.

        Returns
        -------
        CoverageRecord
        """
        from ..coverage.judge import best_strategy

        return cls(
            source=os.fspath(source),
            units=units,
            fixture=fixture,
            scan=scan.to_dict(),
            metrics=metrics.to_dict(),
            strategies={name: m.to_dict() for name, m in strategies},
            plots=[os.fspath(p) for p in plots],
            probe=None if probe is None else probe.to_dict(),
            best_strategy=best_strategy(strategies) if strategies else None,
        )


@dataclass(frozen=True)
class ContractVerdict(_Record):
    """The data-contract verdict of a report (``summary.json`` entry ``verdicts.data_contract``).

    Attributes
    ----------
    ok : bool
        The source passes its contract.
    verdict : str
        ``PASS`` or ``FAIL``.
    contract : str
        Contract name.
    layout : str or None
        Stack layout found.
    errors, warnings : int
        Findings of each severity.
    """

    ok: bool
    verdict: str
    contract: str
    layout: str | None
    errors: int
    warnings: int

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> ContractVerdict:
        """Summarize :meth:`ptyevidence.ValidationReport.to_dict` (the content of ``data_contract.json``)."""
        severities = [f["severity"] for f in report.get("findings", [])]
        ok = bool(report["ok"])
        return cls(
            ok=ok,
            verdict="PASS" if ok else "FAIL",
            contract=report["contract"],
            layout=report.get("layout"),
            errors=severities.count("error"),
            warnings=severities.count("warning"),
        )

    @classmethod
    def read(cls, path: str | os.PathLike) -> ContractVerdict:
        """Summarize a ``data_contract.json``."""
        return cls.from_report(_read_json(path))


@dataclass(frozen=True)
class FixtureVerdict(_Record):
    """The fixture of a report (``summary.json`` entry ``verdicts.fixture``)."""

    contract_verdict: str
    sha256: str
    subset_size: int
    source_positions: int
    strategy: str
    seed: int
    acceptance_verdict: str | None = None

    @classmethod
    def from_coverage(cls, coverage: CoverageRecord) -> FixtureVerdict:
        """Take the fixture's verdicts (as its sidecar records them) from its coverage record."""
        recorded = {f.name: getattr(coverage.fixture, f.name) for f in fields(cls) if f.name != "source_positions"}
        return cls(**recorded, source_positions=coverage.metrics["n_source"])


@dataclass(frozen=True)
class CoverageVerdict(_Record):
    """The headline coverage metrics of a report (``summary.json`` entry ``verdicts.coverage``).

    Two statements kept apart: ``meets_reference`` (the fixtures' acceptance
    criterion, x and y range ratios above the ``fixture-acceptance`` threshold) and
    ``best_strategy`` (which strategy covers best, by
    :data:`ptyevidence.coverage.BEST_CRITERION`), with occupancy next to its
    ``occupancy_ceiling`` and the largest gap next to the ``probe_diameter``.
    """

    x_range_ratio: float
    y_range_ratio: float
    occupancy: float
    hull_area_ratio: float
    largest_gap: float
    cell_size: float
    occupancy_ceiling: float | None = None
    probe_diameter: float | None = None
    meets_reference: bool | None = None
    strategy: str | None = None
    best_strategy: str | None = None

    @classmethod
    def from_coverage(cls, coverage: CoverageRecord) -> CoverageVerdict:
        """Take the headline metrics from a coverage record and judge them (as ``ptyevidence.coverage`` does)."""
        from ..coverage import CoverageMetrics, meets_reference

        metrics = CoverageMetrics.from_dict(coverage.metrics)
        # Every field named like a metric (occupancy_ceiling, a property, included) is that metric.
        measured = {f.name: getattr(metrics, f.name) for f in fields(cls) if hasattr(metrics, f.name)}
        return cls(
            **measured,
            meets_reference=meets_reference(metrics),
            strategy=coverage.fixture.strategy,
            best_strategy=coverage.best_strategy,
        )

    @property
    def gap_in_diameters(self) -> float | None:
        """The largest gap in probe diameters, when the diameter is known."""
        return self.largest_gap / self.probe_diameter if self.probe_diameter else None


@dataclass(frozen=True)
class GapVerdict(_Record):
    """The gap matrix of a report (``summary.json`` entry ``verdicts.gap_matrix``).

    Attributes
    ----------
    left, right : str
        The two pipeline contracts.
    rows : int
        Roles in the matrix.
    kinds : dict of str to int
        Rows carrying each kind of difference, kinds sorted.
    rows_with_observations : int
        Rows with an observed value (from tensor dumps, or PtychoPINN run on the fixture).
    observed : bool
        PtychoPINN's pipelines ran on the report's fixture (``report --observe``);
        ``observed`` and ``drift`` are in ``summary.json`` only then.
    drift : int
        Contract drift items that run found, over every gridsize.
    """

    left: str
    right: str
    rows: int
    kinds: dict[str, int]
    rows_with_observations: int
    observed: bool = False
    drift: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data; ``observed`` and ``drift`` only when observed."""
        data = super().to_dict()
        if not self.observed:
            del data["observed"], data["drift"]
        return data

    @classmethod
    def from_csv(cls, text: str, left: str, right: str) -> GapVerdict:
        """Summarize :meth:`ptyevidence.GapMatrix.to_csv` output (observed columns included)."""
        rows = list(csv.DictReader(io.StringIO(text)))
        kinds: dict[str, int] = {}
        for row in rows:
            for kind in filter(None, row["kinds"].split(";")):
                kinds[kind] = kinds.get(kind, 0) + 1
        # ``observed`` (tensor dumps) and the ``left_observed_g<G>``/``right_observed_g<G>`` columns of
        # an observe run (ObserveReport.csv_columns).
        observed = [k for k in (rows[0] if rows else {}) if "observed" in k]
        return cls(
            left=left,
            right=right,
            rows=len(rows),
            kinds=dict(sorted(kinds.items())),
            rows_with_observations=sum(any(r[k] for k in observed) for r in rows),
        )

    @classmethod
    def read(
        cls, path: str | os.PathLike, left: str, right: str, observed: str | os.PathLike | None = None
    ) -> GapVerdict:
        """Summarize a ``torch_gap_matrix.csv`` of the contracts ``left`` and ``right``.

        ``observed`` is the ``observe.json`` of the PtychoPINN run the matrix
        shows (:meth:`ptyevidence.gap.observe.ObserveReport.to_json`), if any.
        """
        verdict = cls.from_csv(Path(path).read_text(encoding="utf-8"), left, right)
        if observed is None:
            return verdict
        return replace(verdict, observed=True, drift=len(_read_json(observed)["drift"]))


@dataclass(frozen=True)
class Verdicts(_Record):
    """One verdict per notebook (``summary.json`` entry ``verdicts``)."""

    data_contract: ContractVerdict
    fixture: FixtureVerdict
    coverage: CoverageVerdict
    gap_matrix: GapVerdict


@dataclass(frozen=True)
class SourceRecord(_Record):
    """The dataset a report was made from (``summary.json`` entry ``source``).

    Attributes
    ----------
    path : str
        The dataset as given.
    demo : bool
        The simulated demo dataset.
    sha256 : str or None
        SHA-256 of the file, as the fixture's ``source_hash`` policy recorded
        it; None when the policy skipped it (a large source under ``auto``).
    size : int
        File size in bytes.
    fingerprint : dict or None
        :func:`ptyevidence.fixture.sidecar.file_fingerprint` of the file.
    source_hash : str
        The policy: ``auto``, ``full`` or ``none``.
    """

    path: str
    demo: bool
    sha256: str | None
    size: int
    fingerprint: dict[str, Any] | None = None
    source_hash: str = "auto"


@dataclass(frozen=True)
class ReportSummary(_Record):
    """What ``summary.json`` holds.

    Attributes
    ----------
    tool_version : str
        ptyevidence version that wrote the report.
    source : SourceRecord
        The dataset.
    parameters : dict
        The notebooks' parameters (paths and ``force`` left out).
    verdicts : Verdicts
        One per notebook.
    notebooks : dict of str to dict
        Executed notebook and HTML page, by notebook stem.
    artifacts : dict of str to str
        Path of each artifact written, by name (a report-wide gap matrix is
        in the parent folder: ``../torch_gap_matrix.md``).
    index : str
        The landing page.
    tool : str
        ``"ptyevidence"``.
    pages : dict of str to str
        HTML rendering of each Markdown artifact, by artifact name.
    """

    tool_version: str
    source: SourceRecord
    parameters: dict[str, Any]
    verdicts: Verdicts
    notebooks: dict[str, dict[str, str]]
    artifacts: dict[str, str]
    index: str
    tool: str = "ptyevidence"
    pages: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data, in the order of the file."""
        data = super().to_dict()
        return {"tool": data.pop("tool"), **data}
