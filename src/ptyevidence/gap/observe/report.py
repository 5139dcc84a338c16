"""What an observe run found: the observed gap matrix per gridsize and the contract drift."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..._format import markdown_table
from ..._json import dumps_strict
from ..matrix import GapMatrix
from .claims import ClaimResult
from .drift import Drift

__all__ = ["GridsizeResult", "ObserveReport", "ObservedRow", "SideObservation"]


def _g(value: float) -> str:
    return f"{value + 0.0:.4g}"  # + 0.0 prints -0.0 as 0


@dataclass(frozen=True)
class SideObservation:
    """One side of a row: the contract's claim next to what the dump held.

    Attributes
    ----------
    claim : str
        The contract's cell for the role (every field, shapes, dtypes).
    field : str or None
        The field compared (the role's first array field).
    key : str or None
        The dump key it was read from (``derived`` when computed).
    status : str
        ``observed``, ``not in the dump``, ``breaks its contract``,
        ``not a tensor`` or ``not described``.
    shape : tuple of int or None
        Observed shape.
    dtype, framework : str or None
        Observed dtype and the framework of the value the pipeline held.
    axes : str
        The claimed axes bound to the observed sizes, ``(B,N,N,C) = (48,64,64,4)``.
    stats : dict
        ``min``, ``max``, ``mean`` (of ``|x|`` for complex values, with
        ``"of": "|x|"``), or ``true`` for booleans.
    """

    claim: str
    field: str | None = None
    key: str | None = None
    status: str = "not described"
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    framework: str | None = None
    axes: str = ""
    stats: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def text(self) -> str:
        """The observed cell: key, axes, dtype, framework and value statistics."""
        if self.status != "observed":
            return self.status
        name = f"`{self.field}`" + (" (computed)" if self.key == "derived" else "")
        parts = [f"{name} {self.axes} {self.dtype}" + (f" {self.framework}" if self.framework else "")]
        if "true" in self.stats:
            parts.append(f"{self.stats['true']} of {self.stats['size']} true")
        elif "min" in self.stats:
            of = "|x| " if self.stats.get("of") else ""
            parts.append(f"{of}min {_g(self.stats['min'])}, max {_g(self.stats['max'])}, mean {_g(self.stats['mean'])}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the side as JSON-serializable data."""
        return {
            **dataclasses.asdict(self),
            "shape": list(self.shape) if self.shape is not None else None,
            "observed": self.text,
        }


@dataclass(frozen=True)
class ObservedRow:
    """A gap-matrix row with both sides observed and the parity on aligned groups.

    Attributes
    ----------
    role, label : str
        As in :class:`ptyevidence.gap.GapRow`.
    kinds : tuple of str
        Kinds of difference the contracts give the row.
    left, right : SideObservation
        TF and Torch sides.
    parity : str
        The value comparison after the contracts' permutation, on the groups
        TF built from the Torch ``nn_indices`` (empty when not a tensor role).
    """

    role: str
    label: str
    kinds: tuple[str, ...]
    left: SideObservation
    right: SideObservation
    parity: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the row as JSON-serializable data."""
        return {
            **dataclasses.asdict(self),
            "kinds": list(self.kinds),
            "left": self.left.to_dict(),
            "right": self.right.to_dict(),
        }


@dataclass
class GridsizeResult:
    """Everything observed at one gridsize.

    Attributes
    ----------
    gridsize : int
        The gridsize (C = gridsize²).
    matrix : GapMatrix
        The contracts' matrix (profile views) with the aligned-group parity.
    rows : list of ObservedRow
        One per matrix row.
    drift : list of Drift
        Contract drift of every observed pipeline.
    claims : dict
        Contract name -> :class:`ClaimResult` of each of its claims.
    profiles : dict
        Contract name -> the active profile's name (None: no profile).
    groups : dict
        Groups in each dump (``tf``, ``tf_container``, ``torch``, ``aligned``).
    positions : dict
        ``total`` positions in the fixture and ``torch_used`` (in any Torch group).
    """

    gridsize: int
    matrix: GapMatrix
    rows: list[ObservedRow]
    drift: list[Drift]
    claims: dict[str, list[ClaimResult]]
    profiles: dict[str, str | None]
    groups: dict[str, int]
    positions: dict[str, int]

    @property
    def rms_ratio(self) -> float | None:
        """Torch RMS constant ÷ TF normalize_data scale on the aligned groups, if constant."""
        result = self.matrix.parity.results.get("scale.rms") if self.matrix.parity else None
        if result is not None and result.relation == "ratio" and isinstance(result.ratio, float):
            return result.ratio
        if result is not None and result.relation in ("equal", "allclose"):
            return 1.0
        return None

    def summary(self) -> list[str]:
        """Short lines: groups, positions used, parity highlights, drift count."""
        g = self.groups
        lines = [
            (
                f"groups: TF {g.get('tf')} (generate_grouped_data), Torch {g.get('torch')} "
                f"(PtychoDataset), aligned {g.get('aligned')} (TF's group builder on the Torch "
                "nn_indices)"
            )
        ]
        if "torch_used" in self.positions:
            lines.append(f"positions in a Torch group: {self.positions['torch_used']} of {self.positions['total']}")
        profiles = [f"{name}: {p}" for name, p in self.profiles.items() if p]
        if profiles:
            lines.append("profiles: " + "; ".join(profiles))
        if self.rms_ratio is not None:
            lines.append(f"RMS scale, Torch ÷ TF on aligned groups: {self.rms_ratio:.4f}")
        parity = self.matrix.parity
        if parity is not None and "diffraction.grouped" in parity.results:
            lines.append(f"grouped diffraction on aligned groups: {parity.results['diffraction.grouped'].text}")
        tested = sum(r.status in ("holds", "drift") for rs in self.claims.values() for r in rs)
        lines.append(f"claims tested: {tested}; drift items: {len(self.drift)}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-serializable data."""
        return {
            "gridsize": self.gridsize,
            "groups": dict(self.groups),
            "positions": dict(self.positions),
            "profiles": dict(self.profiles),
            "rms_ratio": self.rms_ratio,
            "rows": [r.to_dict() for r in self.rows],
            "drift": [d.to_dict() for d in self.drift],
            "claims": {name: [r.to_dict() for r in rs] for name, rs in self.claims.items()},
            "matrix": self.matrix.to_dict(),
        }


@dataclass
class ObserveReport:
    """An observe run: configuration, observed matrices and drift.

    Attributes
    ----------
    run : dict
        The run record (``run.json``): fixture, interpreter, PtychoPINN
        origin, configuration, dumps, frameworks, timings.
    results : list of GridsizeResult
        One per gridsize.
    contracts : dict
        Pipeline (``tf_grouped``, ``tf_container``, ``torch_mmap``) -> contract name.
    upstream : dict
        Contract name -> its ``upstream`` entry (None when it has none).
    out_dir : str or None
        Where the artifacts were written.
    """

    run: dict[str, Any]
    results: list[GridsizeResult]
    contracts: dict[str, str]
    upstream: dict[str, dict[str, str] | None]
    out_dir: str | None = None

    @property
    def drift(self) -> list[Drift]:
        """Drift items of every gridsize."""
        return [d for r in self.results for d in r.drift]

    @property
    def ok(self) -> bool:
        """True when no observation contradicts the contracts."""
        return not self.drift

    def origin_note(self) -> str:
        """Which PtychoPINN ran, and whether it is the commit the contracts cite."""
        origin = self.run.get("environment", {}).get("ptychopinn", {})
        commit, version = origin.get("commit"), origin.get("version")
        observed = commit or _version_commit(version)
        cited = sorted({u["commit"] for u in self.upstream.values() if u})
        how = f"commit {commit[:12]}" if commit else (f"version {version}" if version else "unknown version")
        text = f"PtychoPINN from {origin.get('root', '?')} ({how})"
        if not cited:
            return text + "; the contracts name no upstream commit"
        if observed and all(c.startswith(observed) or observed.startswith(c) for c in cited):
            return text + f"; the contracts cite the same commit ({cited[0][:12]})"
        state = "an unknown commit" if not observed else f"{observed[:12]}"
        return (
            text + f"; the contracts cite {', '.join(c[:12] for c in cited)}, this is {state}: "
            "their file:line citations may point elsewhere"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-serializable data."""
        return {
            "ok": self.ok,
            "out_dir": self.out_dir,
            "contracts": dict(self.contracts),
            "upstream": dict(self.upstream),
            "origin": self.origin_note(),
            "drift": [d.to_dict() for d in self.drift],
            "gridsizes": [r.to_dict() for r in self.results],
            "run": self.run,
        }

    def to_json(self) -> str:
        """Return :meth:`to_dict` as indented JSON ending in a newline."""
        return dumps_strict(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def csv_columns(self) -> dict[str, dict[str, str]]:
        """Return the observations as extra gap-matrix columns: column name -> role -> cell.

        Per gridsize G: ``left_observed_gG`` and ``right_observed_gG`` (what
        the dump held; empty when the side was not observed), ``parity_gG``
        (on the aligned groups) and ``drift_gG`` (drift items of the row's
        own fields; :meth:`to_markdown` lists every item). For the
        ``columns`` of :meth:`ptyevidence.GapMatrix.to_csv`.
        """
        columns: dict[str, dict[str, str]] = {}
        for result in self.results:
            g, matrix = result.gridsize, result.matrix
            cells: dict[str, dict[str, str]] = {
                f"{name}_g{g}": {} for name in ("left_observed", "right_observed", "parity", "drift")
            }
            for row, seen in zip(matrix.rows, result.rows):
                own = {(matrix.left.name, f.name) for f in row.left}
                own |= {(matrix.right.name, f.name) for f in row.right}
                for side, observation in (("left", seen.left), ("right", seen.right)):
                    text = observation.text if observation.status == "observed" else ""
                    cells[f"{side}_observed_g{g}"][row.role] = text
                cells[f"parity_g{g}"][row.role] = seen.parity
                cells[f"drift_g{g}"][row.role] = "; ".join(
                    f"{d.contract} {d.field} ({d.check}): {d.observed}"
                    for d in result.drift
                    if (d.contract, d.field) in own
                )
            columns.update(cells)
        return columns

    def _setup_lines(self) -> list[str]:
        run = self.run
        env = run.get("environment", {})
        versions = ", ".join(f"{k} {env[k]}" for k in ("tensorflow", "torch", "numpy") if k in env)
        config = run.get("config", {})
        tf = ", ".join(f"{k}={v}" for k, v in config.get("tf", {}).items())
        overrides = run.get("torch", {}).get("overrides") or config
        data = ", ".join(f"{k}={v!r}" for k, v in overrides.get("DataConfig", {}).items())
        model = ", ".join(f"{k}={v!r}" for k, v in overrides.get("ModelConfig", {}).items())
        return [
            (
                f"fixture {run['fixture']['path']} ({run['fixture']['positions']} positions, "
                f"sha256 {run['fixture']['sha256'][:16]}…)"
            ),
            self.origin_note(),
            f"python {env.get('python', '?')} ({versions})",
            f"TF: RawData.from_file → generate_grouped_data({tf}, gridsize=g) → loader.load",
            (
                f"Torch: PtychoDataset with DataConfig({data}, C=g², grid_size=(g, g)), "
                f"ModelConfig({model}), numpy seed {config.get('seed')}; batch dataset[0:len]"
            ),
        ]

    def to_text(self) -> str:
        """Return the console summary: setup, per-gridsize lines, drift."""
        lines = self._setup_lines()
        for result in self.results:
            lines.append(f"gridsize {result.gridsize}:")
            lines += [f"  {line}" for line in result.summary()]
        drift = self.drift
        if drift:
            lines.append(f"contract drift ({len(drift)}):")
            for d in drift:
                cite = f" [{', '.join(d.source[:2])}]" if d.source else ""
                lines.append(
                    f"  g{d.gridsize} {d.contract} {d.field} ({d.check}): claims {d.claim}; observed {d.observed}{cite}"
                )
        else:
            lines.append("contract drift: none (every testable claim holds)")
        if self.out_dir:
            lines.append(
                f"artifacts in {self.out_dir}: observed_gap_matrix.md, observe.json, "
                f"run.json, {len(self.results) * 4} dumps, logs/"
            )
        return "\n".join(lines) + "\n"

    def to_markdown(self, heading_level: int = 1) -> str:
        """Return the document: setup, then per gridsize the observed matrix, drift and claims."""
        h = "#" * heading_level
        fixture = self.run["fixture"]["path"]
        out = [f"{h} Observed gap matrix: PtychoPINN on `{fixture}`", ""]
        out += [f"- {line}" for line in self._setup_lines()]
        out += [
            (
                "- Aligned groups: TF's own group builder (`RawData._generate_dataset_from_groups`) "
                "run on the Torch `nn_indices`, so the parity column compares the same groups "
                "element by element."
            ),
            "",
        ]
        for result in self.results:
            out += [f"{h}# Gridsize {result.gridsize}", ""]
            out += [f"- {line}" for line in result.summary()] + [""]
            header = [
                "Role",
                "Kinds",
                f"TF claim ({self.contracts['tf_grouped']})",
                "TF observed",
                f"Torch claim ({self.contracts['torch_mmap']})",
                "Torch observed",
                "Parity on aligned groups",
            ]
            rows = [
                [
                    f"{r.label} (`{r.role}`)",
                    ", ".join(r.kinds),
                    r.left.claim,
                    r.left.text,
                    r.right.claim,
                    r.right.text,
                    r.parity or "-",
                ]
                for r in result.rows
            ]
            out += [markdown_table(header, rows), ""]
            out += [f"{h}## Drift at gridsize {result.gridsize}", ""]
            out += [_drift_table(result.drift) if result.drift else "None: every testable claim holds.", ""]
            out += [f"{h}## Claims tested at gridsize {result.gridsize}", ""]
            claim_rows = [
                [name, f"`{r.claim.id}`", r.claim.statement, r.status, r.observed, ", ".join(r.claim.source) or "-"]
                for name, rs in result.claims.items()
                for r in rs
            ]
            out += [
                markdown_table(["Contract", "Claim", "Says", "Result", "Observed", "Upstream"], claim_rows)
                if claim_rows
                else "No claims.",
                "",
            ]
        return "\n".join(out).rstrip() + "\n"


def _drift_table(items: Sequence[Drift]) -> str:
    return markdown_table(
        ["Contract", "Field", "Check", "Claim", "Observed", "Upstream"],
        [[d.contract, f"`{d.field}`", d.check, d.claim, d.observed, ", ".join(d.source) or "-"] for d in items],
    )


def _version_commit(version: str | None) -> str | None:
    """Return the commit hash a version such as ``0.0.0+712c23f`` carries, if any."""
    if not version or "+" not in version:
        return None
    local = version.split("+", 1)[1].split(".")[0].lstrip("g")
    return local if len(local) >= 7 and all(c in "0123456789abcdef" for c in local) else None
