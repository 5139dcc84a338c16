"""Run PtychoPINN's pipelines in the interpreter that has PtychoPINN, one subprocess each.

PtychoPINN usually lives in its own environment (TensorFlow, PyTorch and
their pins), so the pipelines run in ``python`` -- by default the current
interpreter -- through the script ``_runner.py``. That process gets this
very ptyevidence first on its ``sys.path`` through a folder holding only a
link to the package (never the caller's whole site-packages), and optionally
a PtychoPINN source checkout. It works in a private temporary folder, since
PtychoPINN writes ``memoized_data/`` and memory maps where it runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._json import dumps_strict, read_json
from ...exceptions import PipelineError, PipelineUnavailableError, UsageError

__all__ = [
    "DEFAULT_TIMEOUT",
    "Interpreter",
    "PipelineError",
    "PipelineUnavailableError",
    "Workspace",
    "check_interpreter",
    "run_pipeline",
    "workspace",
]

#: Seconds one pipeline subprocess may take before it is stopped.
DEFAULT_TIMEOUT = 600.0
_RUNNER = Path(__file__).with_name("_runner.py")
#: Environment defaults for the subprocess (kept when the caller set them).
_QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs the pipelines, and what it adds to ``sys.path``.

    Attributes
    ----------
    python : str
        Interpreter path.
    ptychopinn : str or None
        A PtychoPINN source checkout put on its ``sys.path``.
    version : str
        Its Python version, from the check.
    """

    python: str
    ptychopinn: str | None = None
    version: str = ""


@dataclass
class Workspace:
    """Private folder of one observe run: the package link and the working directory.

    Attributes
    ----------
    root : str
        The folder (remove it when done).
    paths : list of str
        Entries the runner puts first on its ``sys.path``.
    """

    root: str
    paths: list[str] = field(default_factory=list)


def check_interpreter(
    python: str | os.PathLike | None = None, ptychopinn: str | os.PathLike | None = None, timeout: float = 60.0
) -> Interpreter:
    """Check that ``python`` can import numpy, PtychoPINN, TensorFlow and PyTorch.

    Nothing is imported in the check (``importlib.util.find_spec`` only), so
    it takes well under a second.

    Parameters
    ----------
    python : str, path or None
        Interpreter of the PtychoPINN environment; None: this one.
    ptychopinn : str, path or None
        Root of a PtychoPINN checkout (the folder holding ``ptycho/``) to add
        to that interpreter's ``sys.path``.
    timeout : float
        Seconds the check may take.

    Returns
    -------
    Interpreter

    Raises
    ------
    UsageError
        If ``python`` is not an executable file or ``ptychopinn`` holds no
        ``ptycho`` package.
    PipelineUnavailableError
        Naming every missing module and how to point at an environment that
        has it.
    """
    exe = os.fspath(python) if python is not None else sys.executable
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        msg = f"python '{exe}' is not an executable file; pass --python PATH of PtychoPINN's interpreter"
        raise UsageError(msg)
    checkout = None
    if ptychopinn is not None:
        checkout = os.path.abspath(os.fspath(ptychopinn))
        if not os.path.isfile(os.path.join(checkout, "ptycho", "__init__.py")):
            msg = (
                f"--ptychopinn '{ptychopinn}' has no ptycho/__init__.py; pass the root of a PtychoPINN source checkout"
            )
            raise UsageError(msg)
    with tempfile.TemporaryDirectory(prefix="ptyevidence-check-") as tmp:
        manifest = os.path.join(tmp, "check.json")
        command = [exe, os.fspath(_RUNNER), "check", "--manifest", manifest]
        command += ["--path", checkout] if checkout else []
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, cwd=tmp, env=_environment(), check=False
            )
        except subprocess.TimeoutExpired:
            msg = f"python '{exe}' did not answer within {timeout:g} s"
            raise PipelineUnavailableError(msg) from None
        except OSError as exc:
            msg = f"python '{exe}' cannot be run ({exc.strerror or exc}); pass --python PATH"
            raise UsageError(msg) from None
        if done.returncode != 0 or not os.path.isfile(manifest):
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            msg = f"python '{exe}' could not run the environment check ({last}); pass --python PATH"
            raise PipelineUnavailableError(msg)
        report = read_json(manifest, f"environment check '{manifest}'")
    missing = report["missing"]
    if missing:
        raise PipelineUnavailableError(_missing_message(exe, checkout, missing))
    return Interpreter(exe, checkout, report.get("version", ""))


def _missing_message(exe: str, checkout: str | None, missing: list[dict[str, str]]) -> str:
    modules = [m["module"] for m in missing]
    names = list(dict.fromkeys(m["label"].split(" (")[0] for m in missing))
    where = f"python '{exe}'" + (f" with --ptychopinn '{checkout}'" if checkout else "")
    if "ptycho" in modules or "ptycho_torch" in modules:
        hint = (
            "pass --python PATH (the interpreter of PtychoPINN's environment) or "
            "--ptychopinn PATH (a PtychoPINN source checkout)"
        )
    else:
        hint = "pass --python PATH of an environment that has them (PtychoPINN needs both frameworks)"
    return f"{' and '.join(names)} not importable by {where} ({', '.join(modules)} missing); {hint}"


def _environment() -> dict[str, str]:
    return {**_QUIET, **os.environ}  # the caller's own settings win


def workspace(interpreter: Interpreter) -> Workspace:
    """Make the private run folder with a link to this ptyevidence package.

    Parameters
    ----------
    interpreter : Interpreter
        From :func:`check_interpreter`; its checkout is added to the paths.

    Returns
    -------
    Workspace
        Remove ``root`` when done.
    """
    import ptyevidence

    root = tempfile.mkdtemp(prefix="ptyevidence-observe-")
    package = Path(ptyevidence.__file__).resolve().parent
    links = os.path.join(root, "pkg")
    os.makedirs(links)
    try:
        os.symlink(package, os.path.join(links, "ptyevidence"), target_is_directory=True)
    except OSError:
        shutil.copytree(package, os.path.join(links, "ptyevidence"), ignore=shutil.ignore_patterns("__pycache__"))
    paths = [links] + ([interpreter.ptychopinn] if interpreter.ptychopinn else [])
    os.makedirs(os.path.join(root, "work"))
    return Workspace(root, paths)


def run_pipeline(
    interpreter: Interpreter,
    space: Workspace,
    pipeline: str,
    fixture: str,
    out: str,
    gridsizes: Sequence[int],
    config: dict[str, Any],
    timeout: float = DEFAULT_TIMEOUT,
    aligned_from: str | None = None,
) -> dict[str, Any]:
    """Run one pipeline (``torch`` or ``tf``) in its own subprocess and return its manifest.

    Parameters
    ----------
    interpreter : Interpreter
        From :func:`check_interpreter`.
    space : Workspace
        From :func:`workspace`; the subprocess works and logs there.
    pipeline : {"torch", "tf"}
        Which pipeline.
    fixture : str
        The fixture NPZ.
    out : str
        Folder the dumps are written to (``g<gridsize>/...npz``).
    gridsizes : sequence of int
        Gridsizes to run.
    config : dict
        From :func:`ptyevidence.gap.observe.config.runner_config`.
    timeout : float
        Seconds before the subprocess (and everything it started) is stopped.
    aligned_from : str or None
        For ``tf``: the folder of the Torch dumps whose ``nn_indices`` feed
        TF's group builder.

    Returns
    -------
    dict
        The runner's manifest (dumps, frameworks, configuration, timings).

    Raises
    ------
    UsageError
        If a ``--config`` key is not a field of the pipeline's configuration.
    PipelineError
        If the pipeline raised, crashed or ran out of time.
    """
    label = {"torch": "Torch", "tf": "TF"}[pipeline]
    manifest = os.path.join(space.root, f"{pipeline}.json")
    log_path = os.path.join(space.root, f"{pipeline}.log")
    options = {
        "--manifest": manifest,
        "--fixture": os.path.abspath(fixture),
        "--out": out,
        "--work": os.path.join(space.root, "work"),
        "--gridsizes": ",".join(map(str, gridsizes)),
        "--config": dumps_strict(config),
    }
    command = [interpreter.python, os.fspath(_RUNNER), pipeline, *(x for pair in options.items() for x in pair)]
    for entry in space.paths:
        command += ["--path", entry]
    if aligned_from:
        command += ["--aligned-from", aligned_from]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=os.path.join(space.root, "work"),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_environment(),
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            msg = (
                f"PtychoPINN's {label} path did not finish within {timeout:g} s on '{fixture}'; pass a larger --timeout"
            )
            raise PipelineError(msg, fixture) from None
        except BaseException:
            _stop(proc)
            raise
    what = f"manifest of PtychoPINN's {label} path '{manifest}'"
    result = read_json(manifest, what) if os.path.isfile(manifest) else None
    if result is not None and "usage" in result:
        raise UsageError(result["usage"])
    if result is not None and "error" in result:
        err = result["error"]
        where = f" at {err['where']}" if err.get("where") else ""
        msg = f"PtychoPINN's {label} path failed on '{fixture}': {err['type']}: {err['message']}{where}"
        raise PipelineError(msg, fixture)
    if code != 0 or result is None:
        msg = f"PtychoPINN's {label} path exited with code {code} on '{fixture}' ({_last_line(log_path)})"
        raise PipelineError(msg, fixture)
    result["log"] = log_path
    return result


def _stop(proc: subprocess.Popen) -> None:
    """Stop the subprocess and the processes it started (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"
