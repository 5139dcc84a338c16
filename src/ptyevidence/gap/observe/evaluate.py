"""Judge a stored observe run against the pipeline contracts.

A run folder holds ``run.json`` (what ran, with which configuration) and per
gridsize four dumps: ``tf_grouped``, ``tf_container`` and ``torch_mmap`` as
the pipelines produced them, and ``tf_aligned``, TF's grouped dict rebuilt on
the Torch groups. Evaluation needs neither PtychoPINN nor a framework, so a
contract can be edited and the same run judged again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ..._json import read_json
from ...contract.model import DatasetContract, FieldSpec, load_contract
from ...contract.validate import ArrayStats
from ...exceptions import InputError
from ...readers.registry import open_source
from ..matrix import build_gap_matrix, format_axes
from ..parity import BoundDump, bind_dump, compare_dumps
from .claims import (
    ClaimResult,
    Profile,
    active_profile,
    check_claim,
    claims_of,
    profile_view,
    upstream_of,
)
from .drift import Drift, binding_drift, claim_drift
from .expressions import Namespace
from .report import GridsizeResult, ObservedRow, ObserveReport, SideObservation

__all__ = ["DEFAULT_CONTRACTS", "RUN_FILE", "evaluate_run", "load_run"]

#: Contract of each observed dump, by pipeline.
DEFAULT_CONTRACTS = {
    "tf_grouped": "ptychopinn-tf-grouped",
    "tf_container": "ptychopinn-tf-container",
    "torch_mmap": "ptychopinn-torch-mmap",
}
#: The run record inside a run folder.
RUN_FILE = "run.json"


def load_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Read the run record of an observe output folder.

    Raises
    ------
    InputError
        If the folder has no readable ``run.json``.
    """
    path = os.path.join(os.fspath(run_dir), RUN_FILE)
    if not os.path.exists(path):
        msg = f"'{run_dir}' is not an observe output folder (no {RUN_FILE}); run ptyevidence observe first"
        raise InputError(msg, path)
    return read_json(path, f"run record '{path}'")


def evaluate_run(
    run_dir: str | os.PathLike,
    contracts: Mapping[str, str | os.PathLike | DatasetContract] | None = None,
    run: Mapping[str, Any] | None = None,
) -> ObserveReport:
    """Bind a run's dumps to the contracts and report the observed matrix and drift.

    Parameters
    ----------
    run_dir : str or path
        Output folder of :func:`ptyevidence.gap.observe.observe`.
    contracts : mapping or None
        Pipeline (``tf_grouped``, ``tf_container``, ``torch_mmap``) -> contract
        name, file or object, replacing :data:`DEFAULT_CONTRACTS` entries.
    run : mapping or None
        The run record, when already in memory (default: read ``run.json``).

    Returns
    -------
    ObserveReport

    Raises
    ------
    InputError
        If the run record, a dump or a contract cannot be read.
    """
    run_dir = os.fspath(run_dir)
    record = dict(run) if run is not None else load_run(run_dir)
    chosen = {k: load_contract(v) for k, v in {**DEFAULT_CONTRACTS, **dict(contracts or {})}.items()}
    fixture = _fixture_arrays(record["fixture"]["path"])
    results = [_gridsize(run_dir, record, int(g), chosen, fixture) for g in record["gridsizes"]]
    return ObserveReport(
        run=record,
        results=results,
        contracts={k: c.name for k, c in chosen.items()},
        upstream={c.name: upstream_of(c) for c in chosen.values()},
        out_dir=run_dir,
    )


def _fixture_arrays(path: str) -> dict[str, np.ndarray]:
    """Return the fixture's numeric arrays, for ``file.KEY`` in claims (empty if it is gone)."""
    if not os.path.isfile(path):
        return {}
    with open_source(path) as source:  # numbers only: records and objects are never read
        keys = source.keys()  # a source is not iterable
        return {k: source.read(k) for k in keys if source.info(k).dtype.kind in "biufc"}


def _layout(path: str) -> dict[str, tuple[tuple[int, ...], str]]:
    with open_source(path) as source:
        infos = {k: source.info(k) for k in source.keys()}  # noqa: SIM118 - a source is not iterable
    return {k: (i.shape, i.dtype.newbyteorder("=").name) for k, i in infos.items()}


def _contexts(record: Mapping[str, Any], g: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Expression variables of each pipeline at gridsize ``g`` (configuration, not data)."""
    tf_run, torch_run = record["tf"]["runs"][str(g)], record["torch"]["runs"][str(g)]
    common = {"gridsize": g, "M": int(record["fixture"]["positions"])}
    tf = {
        **common,
        **tf_run["config"]["generate_grouped_data"],
        "params_cfg": Namespace("params_cfg", tf_run["config"]["params_cfg"]),
        "defaults": Namespace("defaults", record["tf"].get("defaults", {})),
    }
    torch_config = torch_run["config"]
    torch = {
        **common,
        "seed": torch_config.get("numpy_seed"),
        "DataConfig": Namespace("DataConfig", torch_config["DataConfig"]),
        "ModelConfig": Namespace("ModelConfig", torch_config["ModelConfig"]),
        "defaults": Namespace("defaults", record["torch"].get("defaults", {})),
    }
    return tf, torch


class _Judged(NamedTuple):
    """One dump bound to its contract's profile view, with its drift and claim results."""

    path: str
    view: DatasetContract
    bound: BoundDump
    drift: list[Drift]
    claims: list[ClaimResult]
    profile: Profile | None


def _judge(
    path: str,
    contract: DatasetContract,
    context: Mapping[str, Any],
    frameworks: Mapping[str, str],
    fixture: Mapping[str, np.ndarray],
    g: int,
) -> _Judged:
    profile = active_profile(contract, context)
    view = profile_view(contract, profile)
    bound = bind_dump(path, view)
    drift = binding_drift(bound, view, _layout(path), frameworks, profile, contract, g)
    names = {
        **context,
        **bound.arrays,
        "file": Namespace("file", fixture),
        "dims": Namespace("dims", bound.dims),
        "profile": profile.name if profile else None,
    }
    fields = [f.name for f in contract.fields]
    results = [check_claim(c, names, fields) for c in claims_of(contract)]
    return _Judged(path, view, bound, drift + claim_drift(results, contract.name, g), results, profile)


def _gridsize(
    run_dir: str,
    record: Mapping[str, Any],
    g: int,
    contracts: Mapping[str, DatasetContract],
    fixture: Mapping[str, np.ndarray],
) -> GridsizeResult:
    tf_run, torch_run = record["tf"]["runs"][str(g)], record["torch"]["runs"][str(g)]
    tf_context, torch_context = _contexts(record, g)
    judged = {
        pipeline: _judge(
            os.path.join(run_dir, entry["dump"]), contracts[pipeline], context, entry["frameworks"], fixture, g
        )
        for pipeline, entry, context in (
            ("tf_grouped", tf_run["grouped"], tf_context),
            ("tf_container", tf_run["container"], tf_context),
            ("torch_mmap", torch_run, torch_context),
        )
    }
    left, right = judged["tf_grouped"], judged["torch_mmap"]
    matrix = build_gap_matrix(left.view, right.view)
    aligned = os.path.join(run_dir, tf_run["aligned"]["dump"])
    matrix = matrix.with_parity(compare_dumps(matrix, aligned, right.path))
    rows = [
        ObservedRow(
            row.role,
            row.label,
            row.kinds,
            _side(row.side_text("left"), row.left_primary, left.bound, tf_run["grouped"]["frameworks"]),
            _side(row.side_text("right"), row.right_primary, right.bound, torch_run["frameworks"]),
            row.observed,
        )
        for row in matrix.rows
    ]
    nn_indices = right.bound.arrays.get("nn_indices")
    used = {} if nn_indices is None else {"torch_used": int(np.unique(nn_indices).size)}
    return GridsizeResult(
        gridsize=g,
        matrix=matrix,
        rows=rows,
        drift=[d for j in judged.values() for d in j.drift],
        claims={contracts[p].name: j.claims for p, j in judged.items()},
        profiles={contracts[p].name: (j.profile.name if j.profile else None) for p, j in judged.items()},
        groups={
            "tf": tf_run["grouped"]["groups"],
            "tf_container": tf_run["container"]["groups"],
            "torch": torch_run["groups"],
            "aligned": tf_run["aligned"]["groups"],
        },
        positions={"total": int(record["fixture"]["positions"]), **used},
    )


def _side(claim: str, spec: FieldSpec | None, bound: BoundDump, frameworks: Mapping[str, str]) -> SideObservation:
    if spec is None:
        return SideObservation(claim)
    if spec.presence == "absent":
        return SideObservation(claim, spec.name, status="—")
    if not spec.is_array:
        return SideObservation(claim, spec.name, status="not a tensor")
    if spec.name not in bound.arrays:
        status = "breaks its contract" if bound.breaks(spec.name) else "not in the dump"
        return SideObservation(claim, spec.name, status=status)
    value = np.asarray(bound.arrays[spec.name])
    key = bound.keys[spec.name]
    axes = format_axes(spec.shape) if spec.shape is not None else "any"
    sizes = format_axes(tuple(value.shape))
    return SideObservation(
        claim,
        spec.name,
        key,
        "observed",
        tuple(value.shape),
        str(value.dtype),
        frameworks.get(key),
        f"{axes} = {sizes}" if axes != sizes else axes,
        _stats(value),
    )


def _stats(value: np.ndarray) -> dict[str, Any]:
    if value.dtype == bool:
        return {"true": int(value.sum()), "size": int(value.size)} if value.size else {}
    if value.dtype.kind not in "iufc":
        return {}
    acc = ArrayStats()  # of |x| for complex values
    acc.update(value.reshape(-1))
    if not acc.finite:
        return {}
    return {"min": acc.min, "max": acc.max, "mean": acc.mean, **({"of": "|x|"} if value.dtype.kind == "c" else {})}
