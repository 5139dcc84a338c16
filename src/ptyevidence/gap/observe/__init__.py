"""Observe PtychoPINN's TF and Torch pipelines on a fixture and check their contracts.

:func:`observe` runs both pipelines, each in its own subprocess of the
interpreter that has PtychoPINN (:mod:`.launch`), captures every tensor they
produce, and judges the dumps (:func:`evaluate_run`): per role the contract's
claim next to the observed shape, dtype, axes and values, the parity of the
two pipelines on the same groups (TF's group builder is fed the Torch
``nn_indices``), and every claim the observation contradicts as contract
drift. :func:`evaluate_run` judges a stored run again, e.g. against an edited
contract, without PtychoPINN.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence

from ..._atomic import write_artifact
from ..._json import dumps_strict
from ..._version import __version__
from ...contract.model import DatasetContract
from ...exceptions import InputError, UsageError
from ...fixture.sidecar import file_sha256
from ...readers.registry import open_source
from .claims import Claim, ClaimResult, Profile
from .config import DEFAULTS, parse_config, runner_config
from .drift import Drift
from .evaluate import DEFAULT_CONTRACTS, RUN_FILE, evaluate_run, load_run
from .launch import (
    DEFAULT_TIMEOUT,
    PipelineError,
    PipelineUnavailableError,
    check_interpreter,
    run_pipeline,
    workspace,
)
from .report import GridsizeResult, ObservedRow, ObserveReport, SideObservation

__all__ = [
    "DEFAULTS",
    "DEFAULT_CONTRACTS",
    "DEFAULT_TIMEOUT",
    "MATRIX_FILE",
    "REPORT_FILE",
    "Claim",
    "ClaimResult",
    "Drift",
    "GridsizeResult",
    "ObserveReport",
    "ObservedRow",
    "PipelineError",
    "PipelineUnavailableError",
    "Profile",
    "SideObservation",
    "check_interpreter",
    "evaluate_run",
    "load_run",
    "observe",
    "parse_config",
]

#: The observed gap matrix document of an output folder.
MATRIX_FILE = "observed_gap_matrix.md"
#: The full report as JSON.
REPORT_FILE = "observe.json"


def observe(
    fixture: str | os.PathLike,
    *,
    python: str | os.PathLike | None = None,
    ptychopinn: str | os.PathLike | None = None,
    gridsizes: Sequence[int] = (1, 2),
    config: Sequence[str] = (),
    out: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    force: bool = False,
    contracts: Mapping[str, str | os.PathLike | DatasetContract] | None = None,
) -> ObserveReport:
    """Run both PtychoPINN pipelines on ``fixture`` and judge them against their contracts.

    The Torch path (``PtychoDataset``) runs first, then the TF path
    (``RawData.from_file`` → ``generate_grouped_data`` → ``loader.load``),
    which also rebuilds its grouped dict on the Torch groups. Everything is
    written to a staging folder and moved to ``out`` at the end, so a failed
    run leaves nothing behind.

    Parameters
    ----------
    fixture : str or path
        The fixture NPZ (PtychoPINN's TF loader needs ``diff3d``: make it
        with ``ptyevidence fixture make --legacy-alias``).
    python : str, path or None
        Interpreter that has PtychoPINN; None: this one.
    ptychopinn : str, path or None
        PtychoPINN source checkout to put on that interpreter's ``sys.path``.
    gridsizes : sequence of int
        Gridsizes to run (C = gridsize²).
    config : sequence of str
        ``KEY=VALUE`` settings (:func:`parse_config`).
    out : str, path or None
        Output folder; default ``observe-<fixture stem>`` in the current folder.
    timeout : float
        Seconds each pipeline subprocess may take.
    force : bool
        Replace an existing output folder.
    contracts : mapping or None
        Replacement contracts by pipeline (see :func:`evaluate_run`).

    Returns
    -------
    ObserveReport

    Raises
    ------
    UsageError
        Bad arguments, an existing output folder without ``force``, or a
        configuration key PtychoPINN does not have.
    PipelineUnavailableError
        If the interpreter cannot import PtychoPINN, TensorFlow or PyTorch.
    PipelineError
        If a pipeline raised, crashed or timed out on the fixture.
    InputError
        If the fixture cannot be read.
    """
    fixture = os.fspath(fixture)
    gridsizes = _gridsizes(gridsizes)
    if timeout <= 0:
        msg = f"timeout {timeout:g} s is not positive"
        raise UsageError(msg)
    settings = runner_config(parse_config(config))
    positions, digest = _fixture_facts(fixture)
    default = f"observe-{os.path.splitext(os.path.basename(fixture))[0]}"
    target = os.path.abspath(os.fspath(out) if out is not None else default)
    _check_target(target, force)
    interpreter = check_interpreter(python, ptychopinn)
    space = workspace(interpreter)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.partial-", dir=os.path.dirname(target))
    try:
        torch = run_pipeline(interpreter, space, "torch", fixture, staging, gridsizes, settings, timeout)
        tf = run_pipeline(
            interpreter, space, "tf", fixture, staging, gridsizes, settings, timeout, aligned_from=staging
        )
        os.makedirs(os.path.join(staging, "logs"))
        for name, manifest in (("torch", torch), ("tf", tf)):
            shutil.copyfile(manifest.pop("log"), os.path.join(staging, "logs", f"{name}.log"))
        record = {
            "ptyevidence": __version__,
            "fixture": {"path": os.path.abspath(fixture), "positions": positions, "sha256": digest},
            "gridsizes": list(gridsizes),
            "config": settings,
            "interpreter": {"python": interpreter.python, "ptychopinn_path": interpreter.ptychopinn},
            "environment": {**torch.get("environment", {}), **tf.get("environment", {})},
            "torch": torch,
            "tf": tf,
        }
        write_artifact(os.path.join(staging, RUN_FILE), dumps_strict(record, indent=2) + "\n")
        report = evaluate_run(staging, contracts, run=record)
        report.out_dir = target
        write_artifact(os.path.join(staging, MATRIX_FILE), report.to_markdown())
        write_artifact(os.path.join(staging, REPORT_FILE), report.to_json())
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if not os.environ.get("PTYEVIDENCE_DEBUG"):
            shutil.rmtree(space.root, ignore_errors=True)
    return report


def _gridsizes(values: Sequence[int]) -> tuple[int, ...]:
    values = tuple(values)
    if not values or any(not isinstance(g, int) or g < 1 for g in values) or len(set(values)) != len(values):
        msg = f"gridsizes {list(values)} must be distinct whole numbers >= 1, e.g. 1,2"
        raise UsageError(msg)
    return values


def _fixture_facts(path: str) -> tuple[int, str]:
    """Return the number of positions and the SHA-256 of the fixture (an NPZ with xcoords)."""
    if not os.path.isfile(path):
        msg = f"fixture '{path}' does not exist"
        raise InputError(msg, path)
    with open_source(path) as source:
        if "xcoords" not in source:
            msg = f"fixture '{path}' has no key 'xcoords'; pass a DATA-001 fixture"
            raise InputError(msg, path)
        positions = int(source.info("xcoords").shape[0])
    return positions, file_sha256(path, progress=False)


def _check_target(target: str, force: bool) -> None:
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        msg = f"output folder's parent '{parent}' does not exist; create it first"
        raise UsageError(msg)
    if os.path.exists(target) and not os.path.isdir(target):
        msg = f"output '{target}' is a file; give a folder"
        raise UsageError(msg)
    if os.path.isdir(target) and os.listdir(target) and not force:
        msg = f"output folder '{target}' is not empty; pass force=True to replace it"
        raise UsageError(msg)


def _publish(staging: str, target: str) -> None:
    """Move the finished staging folder to ``target``, replacing an old one last."""
    os.chmod(staging, 0o755)  # mkdtemp made it private
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old-", dir=os.path.dirname(target))
        os.rename(target, os.path.join(old, "previous"))
    os.rename(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
