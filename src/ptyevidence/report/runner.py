"""Run the evidence notebooks on a dataset and collect the artifacts in one folder.

:func:`render_report` executes :data:`NOTEBOOKS` through papermill with the same parameters, all at
once (each in its own kernel on this interpreter), renders the executed notebooks and the Markdown
artifacts to HTML and writes ``index.html`` and ``summary.json`` from the notebooks' records
(:mod:`ptyevidence.report.summary`). The notebooks do the work by calling the library.

The notebooks run in the artifact folder with ``out_dir = "."``, so their records hold paths relative
to it and the folder can be moved. The source is read O(subset): its SHA-256 is the one the fixture
recorded under the ``source_hash`` policy.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._atomic import write_artifact
from .._version import __version__
from ..exceptions import NotebookExecutionError, PtyEvidenceError, UsageError
from .html import export_notebook_html, index_html, page_name, write_markdown_pages
from .run import DEMO_NAME, check_source
from .summary import (
    ContractVerdict,
    CoverageRecord,
    CoverageVerdict,
    FixtureVerdict,
    GapVerdict,
    ReportSummary,
    SourceRecord,
    Verdicts,
)

#: The evidence notebooks, in reading order (they run at the same time).
NOTEBOOKS = ("data_contract.ipynb", "dataset.ipynb", "scan_coverage.ipynb", "torch_gap_matrix.ipynb")
#: The notebook whose results do not depend on the dataset: once per report.
GAP_NOTEBOOK = "torch_gap_matrix.ipynb"
#: Environment variable naming the folder that holds :data:`NOTEBOOKS`.
NOTEBOOKS_ENV = "PTYEVIDENCE_NOTEBOOKS"
#: Artifacts the notebooks write, with what each holds (for index.html).
ARTIFACTS = {
    "data_contract.md": "The DATA-001 contract table, this dataset's findings and value statistics",
    "data_contract.json": "The validation report as JSON (verdict, findings, fields, statistics)",
    "dataset_frames.png": "The mean diffraction frame and five frames spread over the scan (log scale)",
    "dataset_probe.png": "Probe amplitude and phase per mode, with its measured diameter",
    "dataset_object.png": "Object amplitude and phase with the scan, the fixture's subset and probe footprints",
    "fixture.npz": "Regression fixture: a contract-compliant subset of the scan",
    "fixture.json": "Fixture sidecar: indices, checksums, coverage, regeneration command",
    "fixture_notes.md": "Fixture notes for reviewers: acceptance properties, keys, sampling",
    "coverage.png": "The fixture's positions over the object, with probe footprints",
    "coverage.svg": "Same figure, vector graphics",
    "coverage_occupancy.png": "Occupancy cells hit and missed by the fixture's subset",
    "coverage_occupancy.svg": "Same figure, vector graphics",
    "coverage_strategies.png": "The subset strategies side by side, the best coverage named",
    "coverage_strategies.svg": "Same figure, vector graphics",
    "coverage.json": "Coverage metrics of the fixture, scan statistics, strategy comparison, probe",
    "torch_gap_matrix.md": "Gap matrix of the TF and Torch pipeline contracts, by role",
    "torch_gap_matrix.csv": "Same matrix, one CSV line per role",
}
#: Markdown artifacts that get an HTML page (``NAME.md.html``).
MARKDOWN = tuple(name for name in ARTIFACTS if name.endswith(".md"))
#: Artifacts of the gap notebook (report-wide for several sources).
GAP_ARTIFACTS = ("torch_gap_matrix.md", "torch_gap_matrix.csv")
GAP_MARKDOWN = ("torch_gap_matrix.md",)
# Figures on index.html, in order, with their captions.
_FIGURES = (
    ("dataset_object.png", "The object with the scan positions, the fixture's subset and probe footprints"),
    ("coverage.png", "The fixture's positions over the object: coverage metrics in the title"),
    ("dataset_frames.png", "Diffraction frames: the mean frame and five frames spread over the scan"),
    ("dataset_probe.png", "The probe: amplitude with its measured diameter, and phase"),
    ("coverage_strategies.png", "The subset strategies compared on the same cells"),
    ("coverage_occupancy.png", "Occupancy cells hit and missed by the fixture"),
)
# One line per notebook for index.html.
_NOTEBOOK_PURPOSES = {
    "data_contract": "Validates the dataset against its contract; renders the contract and the findings",
    "dataset": "Shows the data: frames, probe, object with the scan and probe footprints",
    "scan_coverage": "Cuts the fixture; coverage metrics against their ceiling, strategy comparison, plots",
    "torch_gap_matrix": "TF vs Torch pipeline gap matrix (and value parity, given tensor dumps)",
}
#: What ``report --observe`` adds: the observe run's folder (dumps, logs) and its record.
OBSERVE_DIR = "observe"
OBSERVE_REPORT = "observe/observe.json"
_OBSERVE_DESCRIPTION = (
    "The observe run: PtychoPINN's TF and Torch pipelines on the fixture, "
    "observed values, claims and drift (dumps and logs beside it)"
)
#: Files the report itself writes.
INDEX_NAME = "index.html"
SUMMARY_NAME = "summary.json"
#: Kernel name recorded in the executed notebooks (the kernel runs this interpreter).
KERNEL_NAME = "python3"


@dataclass
class ReportResult:
    """What :func:`render_report` wrote.

    Attributes
    ----------
    out_dir : str
        The artifact folder.
    summary : ReportSummary
        What ``summary.json`` holds.
    """

    out_dir: str
    summary: ReportSummary

    @property
    def ok(self) -> bool:
        """True when the source passes its data contract."""
        return self.summary.verdicts.data_contract.ok

    @property
    def index(self) -> str:
        """Path of ``index.html``."""
        return os.path.join(self.out_dir, INDEX_NAME)

    def to_dict(self) -> dict[str, Any]:
        """Return the content of ``summary.json``."""
        return self.summary.to_dict()

    def to_text(self) -> str:
        """Return the verdicts in a few lines, ending with where the artifacts are."""
        v = self.summary.verdicts
        contract, fixture, cov, gap = v.data_contract, v.fixture, v.coverage, v.gap_matrix
        reference = "met" if cov.meets_reference else "NOT met"
        ceiling = "" if cov.occupancy_ceiling is None else f" of at most {cov.occupancy_ceiling:.3f}"
        diameters = "" if cov.gap_in_diameters is None else f" ({cov.gap_in_diameters:.2f} probe diameters)"
        best = "" if not cov.best_strategy else f"; best coverage: {cov.best_strategy}"
        return "\n".join(
            [
                f"report for {self.summary.source.path}:",
                (
                    f"  contract  {contract.verdict} ({contract.contract}: "
                    f"{contract.errors} errors, {contract.warnings} warnings)"
                ),
                (
                    f"  fixture   {fixture.contract_verdict}: {fixture.subset_size} of "
                    f"{fixture.source_positions} positions ({fixture.strategy}, seed {fixture.seed})"
                    + ("" if fixture.acceptance_verdict is None else f"; acceptance {fixture.acceptance_verdict}")
                ),
                (
                    f"  coverage  reference criterion {reference}; occupancy {cov.occupancy:.3f}{ceiling}, "
                    f"hull area {cov.hull_area_ratio:.3f}, largest gap {cov.largest_gap:.3g}{diameters}{best}"
                ),
                f"  gap       {gap.rows} roles, {gap.left} vs {gap.right}"
                + (f"; observed on the fixture: {gap.drift} contract drift items" if gap.observed else ""),
                f"artifacts in {self.out_dir}{os.sep} (open {self.index})",
            ]
        )

    def __repr__(self) -> str:
        return f"<ReportResult {self.summary.source.path} -> {self.index}>"


# -- locating and preparing ------------------------------------------------------


def find_notebooks(folder: str | os.PathLike | None = None) -> Path:
    """Return the folder holding the evidence notebooks.

    Looked up in order: ``folder``, :data:`NOTEBOOKS_ENV`, ``notebooks/`` of the repository checkout the
    package runs from or inside the installed package, and ``share/ptyevidence/notebooks`` under the
    environment's prefix (where a wheel installs them); never the working directory.

    Parameters
    ----------
    folder : str or path, optional
        Explicit folder.

    Returns
    -------
    pathlib.Path
        Absolute folder holding every file of :data:`NOTEBOOKS`.

    Raises
    ------
    UsageError
        If no candidate holds all notebooks.

    Examples
    --------
    >>> sorted(p.name for p in find_notebooks().glob("*.ipynb")) == sorted(NOTEBOOKS)
    True
    """
    package = Path(__file__).resolve().parents[1]
    if folder is not None:
        candidates = [Path(folder)]
    elif os.environ.get(NOTEBOOKS_ENV):
        candidates = [Path(os.environ[NOTEBOOKS_ENV])]
    else:
        candidates = [
            package.parents[1] / "notebooks",
            package / "notebooks",
            Path(sys.prefix) / "share" / "ptyevidence" / "notebooks",
        ]
    for candidate in candidates:
        if all((candidate / name).is_file() for name in NOTEBOOKS):
            return candidate.resolve()
    tried = ", ".join(f"'{c}'" for c in candidates)
    msg = (
        f"the evidence notebooks ({', '.join(NOTEBOOKS)}) are not in {tried}; "
        f"set {NOTEBOOKS_ENV} to the folder that holds them (notebooks/ of the repository)"
    )
    raise UsageError(msg)


def default_out_dir(source: str | os.PathLike | None) -> Path:
    """Return ``artifacts/<source-stem>`` under the working directory (``demo`` without a source).

    Examples
    --------
    >>> default_out_dir("/data/scan_012.npz").as_posix()
    'artifacts/scan_012'
    >>> default_out_dir(None).as_posix()
    'artifacts/demo'
    """
    stem = Path(DEMO_NAME if source is None else source).name.split(".")[0]
    return Path("artifacts") / stem


def _report_files() -> list[str]:
    stems = [Path(name).stem for name in NOTEBOOKS]
    return [
        DEMO_NAME,
        *ARTIFACTS,
        *(f"{s}.ipynb" for s in stems),
        *(f"{s}.html" for s in stems),
        INDEX_NAME,
        SUMMARY_NAME,
    ]


def check_out_dir(out: Path, force: bool, names: list[str] | None = None) -> None:
    """Refuse a folder that already holds report files, unless ``force``."""
    if out.exists() and not out.is_dir():
        msg = f"output folder '{out}' is a file; give a folder"
        raise UsageError(msg)
    if force or not out.is_dir():
        return
    present = [name for name in (names or _report_files()) if (out / name).exists()]
    if present:
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        msg = (
            f"output folder '{out}' already holds a report ({shown}); pass force=True to "
            "replace it, or choose another folder with out_dir=..."
        )
        raise UsageError(msg)


# -- running ---------------------------------------------------------------------


def render_report(
    source: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    subset_size: int = 64,
    strategy: str = "stratified-index",
    seed: int = 0,
    force: bool = False,
    progress: bool | None = None,
    notebooks: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    contract: str = "",
    source_hash: str = "auto",
    gap_dir: str | os.PathLike | None = None,
    reader: str | None = None,
    positions_from: str | os.PathLike | None = None,
    geometry: str | None = None,
    sample_pixel_size: float | None = None,
    observe: bool = False,
    python: str | os.PathLike | None = None,
    ptychopinn: str | os.PathLike | None = None,
) -> ReportResult:
    """Execute the evidence notebooks on ``source`` and write the artifact folder.

    Parameters
    ----------
    source : str or path, optional
        Dataset file (NPZ or CXI). None simulates the demo dataset into the
        artifact folder as ``demo.npz``.
    out_dir : str or path, optional
        Artifact folder, created if missing; default
        :func:`default_out_dir` (``artifacts/<source-stem>``).
    subset_size : int
        Positions in the regression fixture (at least 16).
    strategy : {"stratified-index", "grid", "farthest-point"}
        How the fixture's positions are chosen.
    seed : int
        Seed of the farthest-point start.
    force : bool
        Replace the files of an earlier report in ``out_dir``.
    progress : bool or None
        Papermill's cell progress bars (None: when standard error is a terminal).
    notebooks : str or path, optional
        Folder of the notebooks (default: :func:`find_notebooks`).
    log : callable, optional
        Receives one line per step (default: print to standard error).
    contract : str
        Contract name or JSON file the data contract notebook validates
        against; empty: the default for the file format (``data001`` for NPZ).
    source_hash : {"auto", "full", "none"}
        Whether the source is hashed in full (the fixture's policy, whose
        record the report reads): ``auto`` skips sources above 1 GiB.
    gap_dir : str or path, optional
        Folder holding a report-wide gap matrix (:func:`render_gap_matrix`)
        to link instead of running the gap notebook here.
    reader, positions_from, geometry, sample_pixel_size : optional
        How ``source`` is read (see :func:`ptyevidence.readers.open_source`).
    observe : bool
        Also run PtychoPINN's TF and Torch pipelines on the report's fixture
        (:func:`ptyevidence.gap.observe.observe`, into ``observe/``): the gap
        notebook runs once the fixture exists and its matrix gains the
        observed columns and the contract drift.
    python, ptychopinn : str or path, optional
        With ``observe``: the interpreter that has PtychoPINN (default: this
        one) and a PtychoPINN checkout to put on its ``sys.path``.

    Returns
    -------
    ReportResult

    Raises
    ------
    NotebookExecutionError
        If a notebook fails; the message names the notebook and the cell,
        and the partial executed notebook stays in the folder.
    InputError
        If ``source`` is missing or no registered reader can open it
        (checked before anything is written).
    UsageError
        If a parameter is out of range, the notebooks cannot be found, or
        the folder holds an earlier report and ``force`` is False.
    PipelineUnavailableError
        With ``observe``, if the interpreter cannot import PtychoPINN,
        TensorFlow or PyTorch (checked before anything is written).
    """
    log = log or _log_stderr
    from ..contract.model import load_contract
    from ..fixture.make import SOURCE_HASH_MODES
    from ..fixture.strategies import MIN_SUBSET_SIZE, check_subset_choice

    # Parameters the notebooks would refuse are refused before anything runs.
    check_subset_choice(subset_size, strategy, seed, minimum=MIN_SUBSET_SIZE)
    if source_hash not in SOURCE_HASH_MODES:
        msg = f"source_hash={source_hash!r} is not one of {', '.join(SOURCE_HASH_MODES)}"
        raise UsageError(msg)
    if contract:
        load_contract(contract)
    if source is not None:
        check_source(source, reader, positions_from, geometry, sample_pixel_size)
    if observe:
        from ..gap.observe import check_interpreter

        if gap_dir is not None:
            msg = "observe=True runs the gap notebook on this report's fixture; leave out gap_dir"
            raise UsageError(msg)
        check_interpreter(python, ptychopinn)
    elif python is not None or ptychopinn is not None:
        msg = "python=... and ptychopinn=... say where PtychoPINN runs; pass them with observe=True"
        raise UsageError(msg)
    folder = find_notebooks(notebooks)
    out = (Path(out_dir) if out_dir is not None else default_out_dir(source)).absolute()
    check_out_dir(out, force, [*_report_files(), OBSERVE_DIR] if observe else None)
    out.mkdir(parents=True, exist_ok=True)
    if source is None:
        if _same_demo(out):
            log(f"reused the demo dataset in {_shown(out / DEMO_NAME)} (as simulated by this version)")
        else:
            from ..demo import make_demo_data

            make_demo_data(out / DEMO_NAME, force=force)
            log(f"simulated the demo dataset into {_shown(out / DEMO_NAME)}")
        notebook_source = DEMO_NAME
    else:
        notebook_source = os.path.abspath(source)
    parameters = _parameters(notebook_source, subset_size, strategy, seed, force, contract, source_hash)
    # Passed only when given, so the summaries of plain reports keep their parameters.
    given = {
        "reader": reader,
        "positions_from": _absolute(positions_from),
        "geometry": geometry,
        "sample_pixel_size": None if sample_pixel_size is None else float(sample_pixel_size),
        "observe_fixture": "fixture.npz" if observe else None,
        "ptychopinn_python": _absolute(python),
        "ptychopinn": _absolute(ptychopinn),
    }
    parameters.update({k: v for k, v in given.items() if v is not None})
    names = [n for n in NOTEBOOKS if gap_dir is None or n != GAP_NOTEBOOK]
    # Observing, the gap notebook runs PtychoPINN on the fixture scan_coverage cuts: after it.
    later = [GAP_NOTEBOOK] if observe else []
    _execute_all(folder, [n for n in names if n not in later], out, parameters, progress, log, then=later)
    gap = Path(gap_dir).absolute() if gap_dir is not None else out
    pages = write_markdown_pages(out, [n for n in MARKDOWN if n not in GAP_ARTIFACTS])
    if gap == out:
        pages.update(write_markdown_pages(out, GAP_MARKDOWN))
    else:
        pages.update(_relative(gap, out, {n: page_name(n) for n in GAP_MARKDOWN if (gap / page_name(n)).exists()}))
    summary = _summary(source, out, gap, parameters, pages)
    write_artifact(out / SUMMARY_NAME, summary.to_json(), force=True)
    descriptions = {
        **ARTIFACTS,
        DEMO_NAME: "The simulated demo dataset this report was made from",
        OBSERVE_REPORT: _OBSERVE_DESCRIPTION,
    }
    write_artifact(out / INDEX_NAME, index_html(summary, descriptions, _NOTEBOOK_PURPOSES, _FIGURES, out), force=True)
    return ReportResult(_shown(out), summary)


def _absolute(path: str | os.PathLike | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def _same_demo(out: Path) -> bool:
    """Return True when ``out`` holds the demo this version simulated for an earlier report, unchanged.

    The simulation is deterministic: the previous report's ``summary.json``
    recorded the file's SHA-256 and the tool version, so a matching file is
    what simulating again would write (hashing it costs ~30 ms, simulating ~1 s).
    """
    from ..fixture.sidecar import file_sha256

    demo, summary = out / DEMO_NAME, out / SUMMARY_NAME
    if not demo.is_file() or not summary.is_file():
        return False
    try:
        recorded = ReportSummary.read(summary)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    src = recorded.source
    return (
        recorded.tool_version == __version__
        and src.demo
        and bool(src.sha256)
        and src.size == demo.stat().st_size
        and file_sha256(demo) == src.sha256
    )


def render_gap_matrix(
    out_dir: str | os.PathLike,
    force: bool = False,
    progress: bool | None = None,
    notebooks: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run the gap notebook once into ``out_dir`` (for a report of several sources).

    The gap matrix compares the TF and Torch pipeline contracts; it does not
    depend on the dataset (no DataLoader pass here), so several sources share one.

    Returns
    -------
    pathlib.Path
        The folder, holding ``torch_gap_matrix.{ipynb,html,md,csv}`` and ``torch_gap_matrix.md.html``.
    """
    out = Path(out_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    parameters = {**_parameters("", 64, "stratified-index", 0, force, "", "auto"), "observe_torch": False}
    _execute_all(find_notebooks(notebooks), [GAP_NOTEBOOK], out, parameters, progress, log or _log_stderr)
    write_markdown_pages(out, GAP_MARKDOWN)
    return out


def _parameters(
    source: str, subset_size: int, strategy: str, seed: int, force: bool, contract: str, source_hash: str
) -> dict[str, Any]:
    from ..gap import DEFAULT_LEFT, DEFAULT_RIGHT

    return {
        "source": source,
        "out_dir": ".",
        "subset_size": subset_size,
        "strategy": strategy,
        "seed": seed,
        "contract": contract,
        "source_hash": source_hash,
        "left_contract": DEFAULT_LEFT,
        "right_contract": DEFAULT_RIGHT,
        "left_dump": "",
        "right_dump": "",
        "force": force,
        "interactive": False,
    }


def _execute_all(
    folder: Path,
    names: list[str],
    out: Path,
    parameters: dict[str, Any],
    progress: bool | None,
    log: Callable[[str], None],
    then: list[str] | None = None,
) -> None:
    """Run the notebooks at the same time, then those of ``then`` (they read what the first wrote).

    Each executed notebook is exported to HTML; the first failure (in notebook order) is raised once its
    group has finished. Progress bars are drawn when ``progress`` (None: standard error is a terminal).
    """
    progress = sys.stderr.isatty() if progress is None else progress
    _load_papermill()
    label = out.name
    start = time.perf_counter()
    later = list(then or [])
    total = len(names) + len(later)

    def one(position: int, name: str) -> PtyEvidenceError | None:
        try:
            _execute(folder / name, out, parameters, progress, position)
            export_notebook_html(out / name)
        except PtyEvidenceError as exc:
            log(f"[{position + 1}/{total}] {name} ({label}) failed")
            return exc
        log(f"[{position + 1}/{total}] {name} ({label}) done in {time.perf_counter() - start:.1f} s")
        return None

    for first, group in ((0, list(names)), (len(names), later)):
        if not group:
            continue
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            outcomes = list(pool.map(one, range(first, first + len(group)), group))
        failed = [(name, error) for name, error in zip(group, outcomes) if error is not None]
        if failed:
            error = failed[0][1]
            if len(failed) > 1:
                others = ", ".join(name for name, _ in failed[1:])
                error.args = (f"{error}; {others} failed too", *error.args[1:])
            raise error


def _log_stderr(line: str) -> None:
    # One write per line: lines of reports rendered at the same time never run into each other.
    sys.stderr.flush()
    os.write(sys.stderr.fileno(), (line + "\n").encode())


def _load_papermill() -> None:
    """Import papermill without jsonschema's IRI checker, which builds a grammar for seconds at import.

    nbformat validates notebooks with jsonschema; its schema uses no ``iri``
    format, so the optional ``rfc3987_syntax`` checker jsonschema imports when
    installed only costs time. The block is lifted right after the import.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
        try:
            import jsonschema  # noqa: F401
        finally:
            del sys.modules["rfc3987_syntax"]
    import papermill  # noqa: F401


def _execute(notebook: Path, out: Path, parameters: dict[str, Any], progress: bool, position: int = 0) -> None:
    """Run one notebook with the parameters it declares; raise a clear error on failure."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    declared = papermill.inspect_notebook(os.fspath(notebook))
    executed = out / notebook.name
    try:
        # The kernel starts in ``out`` (nbclient's resource path), not through
        # papermill's cwd, which would change this process's directory under
        # the notebooks running beside it.
        papermill.execute_notebook(
            os.fspath(notebook),
            os.fspath(executed),
            parameters={k: v for k, v in parameters.items() if k in declared},
            kernel_name=KERNEL_NAME,
            kernel_manager_class=_kernel_manager_class(),
            progress_bar={"desc": f"  {notebook.stem}", "position": position} if progress else False,
            resources={"metadata": {"path": os.fspath(out)}},
            log_output=False,
        )
    except PapermillExecutionError as exc:
        first = next(
            (line for line in exc.source.splitlines() if line.strip() and not line.lstrip().startswith("#")), ""
        )
        where = f"cell In [{exc.exec_count}]" if exc.exec_count else f"cell {exc.cell_index}"
        msg = (
            f"notebook '{notebook.name}' failed in {where} (`{first.strip()[:60]}`): "
            f"{exc.ename}: {_first_line(exc.evalue)}; the partial executed notebook is "
            f"'{_shown(executed)}'"
        )
        raise NotebookExecutionError(msg, notebook.name, exc.exec_count, os.fspath(executed)) from None
    except PtyEvidenceError:
        raise
    except Exception as exc:  # noqa: BLE001 - kernel start-up, timeouts, dead kernels
        msg = (
            f"notebook '{notebook.name}' could not run: {type(exc).__name__}: "
            f"{_first_line(str(exc))}; check that ipykernel is installed for {sys.executable}"
        )
        raise NotebookExecutionError(msg, notebook.name, None, os.fspath(executed)) from None


def _shown(path: Path) -> str:
    """Return a path as the user gave it: relative to the working directory when inside it."""
    try:
        return os.fspath(path.relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(path)


def _first_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0].strip() if lines else "(no message)"


def _ipc_address() -> str | None:
    """Return a new Unix socket path prefix in Jupyter's runtime folder, or None to keep TCP."""
    import uuid

    from jupyter_core.paths import jupyter_runtime_dir

    if os.name != "posix":
        return None
    folder = jupyter_runtime_dir()
    address = os.path.join(folder, f"ptyevidence-{uuid.uuid4().hex}-ipc")
    # A socket path holds at most 107 bytes; the kernel appends "-<port>".
    if len(os.fsencode(address)) > 100:
        return None
    os.makedirs(folder, exist_ok=True)
    return address


def _kernel_manager_class() -> type:
    """Return a kernel manager class that starts ipykernel with this interpreter.

    An installed ``python3`` kernel spec may point at another Python, one without ptyevidence; ipykernel's
    own spec for ``sys.executable`` runs the notebooks in the command's environment. The connection is
    encrypted (CurveZMQ) when both sides support it.
    """
    import zmq
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    # The kernel's own log adds nothing to a report run but noise, such as the
    # interrupt jupyter_client sends on every shutdown; cell errors still arrive.
    spec = KernelSpec(resource_dir=RESOURCES, **get_kernel_dict(extra_arguments=["--IPKernelApp.log_level=CRITICAL"]))
    encrypt = (
        zmq.has("curve")
        and "transport_encryption" in AsyncKernelManager.class_trait_names()
        and "curve" in (spec.metadata or {}).get("supported_encryption", ())
    )

    class CurrentInterpreterKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            # Unix sockets named after the kernel's connection file: kernels
            # started at the same time (notebooks of one report, reports of
            # several sources) cannot pick the same free TCP port.
            super().__init__(**kwargs)
            address = _ipc_address()
            if address is not None:
                self.transport, self.ip = "ipc", address
            if encrypt:
                self.transport_encryption = "auto"

        @property
        def kernel_spec(self) -> KernelSpec:
            return spec

    return CurrentInterpreterKernelManager


# -- summary ---------------------------------------------------------------------


def _relative(folder: Path, out: Path, names: dict[str, str]) -> dict[str, str]:
    """Paths of ``names`` (files in ``folder``) as seen from ``out``."""
    return {k: os.path.relpath(folder / v, out) for k, v in names.items()}


def _summary(
    source: str | os.PathLike | None, out: Path, gap: Path, parameters: dict[str, Any], pages: dict[str, str]
) -> ReportSummary:
    """Collect the verdicts from the notebooks' machine-readable artifacts."""
    from ..fixture.sidecar import read_sidecar

    source_file = out / DEMO_NAME if source is None else Path(source)
    coverage = CoverageRecord.read(out / "coverage.json")
    # The fixture hashed the source under its policy already: read, do not re-hash.
    sidecar = read_sidecar(out / "fixture.json")
    stems = [Path(name).stem for name in NOTEBOOKS]
    notebooks = {s: {"executed": f"{s}.ipynb", "html": f"{s}.html"} for s in stems}
    notebooks[Path(GAP_NOTEBOOK).stem] = _relative(gap, out, notebooks[Path(GAP_NOTEBOOK).stem])
    artifacts = {name: name for name in ARTIFACTS if name not in GAP_ARTIFACTS and (out / name).exists()}
    artifacts.update(_relative(gap, out, {n: n for n in GAP_ARTIFACTS if (gap / n).exists()}))
    observed = out / OBSERVE_REPORT if "observe_fixture" in parameters else None
    if observed is not None:
        artifacts[OBSERVE_REPORT] = OBSERVE_REPORT
    if source is None:
        artifacts[DEMO_NAME] = DEMO_NAME
    return ReportSummary(
        tool_version=__version__,
        source=SourceRecord(
            path=DEMO_NAME if source is None else os.fspath(source),
            demo=source is None,
            sha256=sidecar.get("source_sha256"),
            size=source_file.stat().st_size,
            fingerprint=sidecar.get("source_fingerprint"),
            source_hash=parameters["source_hash"],
        ),
        parameters={k: v for k, v in parameters.items() if k not in ("source", "out_dir", "force", "interactive")},
        verdicts=Verdicts(
            data_contract=ContractVerdict.read(out / "data_contract.json"),
            fixture=FixtureVerdict.from_coverage(coverage),
            coverage=CoverageVerdict.from_coverage(coverage),
            gap_matrix=GapVerdict.read(
                gap / "torch_gap_matrix.csv", parameters["left_contract"], parameters["right_contract"], observed
            ),
        ),
        notebooks=notebooks,
        artifacts=artifacts,
        index=INDEX_NAME,
        pages=pages,
    )
