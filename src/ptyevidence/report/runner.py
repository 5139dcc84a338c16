"""Run the evidence notebooks on a dataset and collect the artifacts in one folder.

:func:`render_report` executes every notebook of :data:`NOTEBOOKS` through
papermill with the same parameters, in a kernel started with this
interpreter, then renders each executed notebook to HTML and writes
``index.html`` (links to everything) and ``summary.json`` (tool version,
source digest, parameters, verdicts, paths). The notebooks do the work by
calling the library; this module only orchestrates and summarizes, reading
the notebooks' records through :mod:`ptyevidence.report.summary`.

The notebooks run with the artifact folder as their working directory and
``out_dir = "."``, so the records they write (fixture notes, regeneration
commands) hold paths relative to that folder, and the folder can be moved.
"""

from __future__ import annotations

import html
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._atomic import atomic_output, check_output_path
from .._version import __version__
from ..exceptions import (
    InputError,
    NotebookExecutionError,
    PtyEvidenceError,
    UsageError,
)
from ..readers.registry import open_source
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

__all__ = [
    "ARTIFACTS",
    "DEMO_NAME",
    "NOTEBOOKS",
    "NOTEBOOKS_ENV",
    "NotebookExecutionError",
    "ReportResult",
    "default_out_dir",
    "find_notebooks",
    "prepare_run",
    "render_report",
    "render_reports",
    "write_artifact",
]

#: The evidence notebooks, in execution order.
NOTEBOOKS = ("data_contract.ipynb", "scan_coverage.ipynb", "torch_gap_matrix.ipynb")
#: Environment variable naming the folder that holds :data:`NOTEBOOKS`.
NOTEBOOKS_ENV = "PTYEVIDENCE_NOTEBOOKS"
#: File name of the demo dataset written into the artifact folder.
DEMO_NAME = "demo.npz"
#: Artifacts the notebooks write, with what each holds (for index.html).
ARTIFACTS = {
    "data_contract.md": "The DATA-001 contract table, this dataset's findings and value statistics",
    "data_contract.json": "The validation report as JSON (verdict, findings, fields, statistics)",
    "fixture.npz": "Regression fixture: a contract-compliant subset of the scan",
    "fixture.json": "Fixture sidecar: indices, checksums, coverage, regeneration command",
    "fixture_notes.md": "Fixture notes for reviewers: acceptance properties, keys, sampling",
    "coverage.png": "Scan positions with the fixture's subset highlighted",
    "coverage.svg": "Same figure, vector graphics",
    "coverage_occupancy.png": "Occupancy cells hit and missed by the fixture's subset",
    "coverage_occupancy.svg": "Same figure, vector graphics",
    "coverage_strategies.png": "The subset strategies side by side, with their metrics",
    "coverage_strategies.svg": "Same figure, vector graphics",
    "coverage.json": "Coverage metrics of the fixture, scan statistics, strategy comparison",
    "torch_gap_matrix.md": "Gap matrix of the TF and Torch pipeline contracts, by role",
    "torch_gap_matrix.csv": "Same matrix, one CSV line per role",
}
# One line per notebook for index.html.
_NOTEBOOK_PURPOSES = {
    "data_contract": "Validates the dataset against its contract; renders the contract and the findings",
    "scan_coverage": "Cuts the fixture; coverage metrics, strategy comparison and plots",
    "torch_gap_matrix": "TF vs Torch pipeline gap matrix (and value parity, given tensor dumps)",
}
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
        return "\n".join([
            f"report for {self.summary.source.path}:",
            (f"  contract  {contract.verdict} ({contract.contract}: "
            f"{contract.errors} errors, {contract.warnings} warnings)"),
            (f"  fixture   {fixture.contract_verdict}: {fixture.subset_size} of "
            f"{fixture.source_positions} positions ({fixture.strategy}, seed {fixture.seed})"),
            (f"  coverage  occupancy {cov.occupancy:.3f}, hull area {cov.hull_area_ratio:.3f}, "
            f"largest gap {cov.largest_gap:.3g}"),
            f"  gap       {gap.rows} roles, {gap.left} vs {gap.right}",
            f"artifacts in {self.out_dir}{os.sep} (open {self.index})",
        ])


# -- locating and preparing ------------------------------------------------------


def find_notebooks(folder: str | os.PathLike | None = None) -> Path:
    """Return the folder holding the evidence notebooks.

    Looked up in order: ``folder``, the environment variable
    :data:`NOTEBOOKS_ENV`, ``notebooks/`` of the repository checkout the
    package runs from, ``notebooks/`` inside the installed package, and
    ``share/ptyevidence/notebooks`` under the environment's prefix (where a
    wheel installs them). The working directory plays no part.

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
    msg = (f"the evidence notebooks ({', '.join(NOTEBOOKS)}) are not in {tried}; "
           f"set {NOTEBOOKS_ENV} to the folder that holds them (notebooks/ of the repository)")
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


def prepare_run(
    source: str | os.PathLike, out_dir: str | os.PathLike, simulate: bool = True
) -> tuple[str, Path]:
    """Resolve a notebook's ``source`` and ``out_dir`` parameters.

    An empty ``out_dir`` means a new temporary folder; an empty ``source``
    means the demo dataset ``demo.npz`` in ``out_dir``, simulated unless it
    is already there (the simulation is deterministic).

    Parameters
    ----------
    source : str or path
        Dataset file, or ``""`` for the demo dataset.
    out_dir : str or path
        Artifact folder (created if missing), or ``""``.
    simulate : bool
        False returns ``""`` for an empty ``source`` instead of the demo
        dataset (for notebooks that need a dataset only sometimes).

    Returns
    -------
    source : str
        The dataset path to read (``""`` as said above).
    out_dir : pathlib.Path
        The artifact folder.

    Raises
    ------
    InputError
        If ``source`` is given but is missing or unreadable.

    Examples
    --------
    >>> folder = tempfile.mkdtemp()
    >>> src, out = prepare_run("", os.path.join(folder, "report"), simulate=False)
    >>> src, out.is_dir()
    ('', True)
    """
    out = Path(out_dir) if str(out_dir) else Path(tempfile.mkdtemp(prefix="ptyevidence-report-"))
    out.mkdir(parents=True, exist_ok=True)
    if str(source):
        _check_source(source)
        return os.fspath(source), out
    if not simulate:
        return "", out
    demo = out / DEMO_NAME
    if not demo.is_file():
        from ..demo import make_demo_data

        make_demo_data(demo)
    return os.fspath(demo), out


def write_artifact(path: str | os.PathLike, text: str, force: bool = False) -> str:
    """Write a text artifact (Markdown, JSON, CSV) atomically, UTF-8, Unix line ends.

    Parameters
    ----------
    path : str or path
        Destination; its folder must exist.
    text : str
        Content.
    force : bool
        Replace an existing file.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    UsageError
        If the file exists and ``force`` is False, or the folder is missing.

    Examples
    --------
    >>> folder = tempfile.mkdtemp()
    >>> path = write_artifact(os.path.join(folder, "note.md"), "# Note")
    >>> Path(path).read_text(encoding="utf-8")
    '# Note'
    """
    path = check_output_path(path, force=force)
    with atomic_output(path, "w", force=force) as fh:
        fh.write(text)
    return path


def _check_source(source: str | os.PathLike) -> None:
    path = os.fspath(source)
    if not os.path.exists(path):
        msg = (f"source '{path}' does not exist; give a dataset file (NPZ or CXI), "
               "or leave the source out to use the demo dataset")
        raise InputError(msg, path)
    if not os.path.isfile(path):
        msg = f"source '{path}' is not a file; give a dataset file (NPZ or CXI)"
        raise InputError(msg, path)
    # Headers only: an unreadable file fails here, before any artifact is written.
    open_source(path).close()


def _check_parameters(subset_size: int, strategy: str, seed: int) -> None:
    from ..fixture.strategies import MIN_SUBSET_SIZE, check_subset_choice

    check_subset_choice(subset_size, strategy, seed, minimum=MIN_SUBSET_SIZE)


def _report_files() -> list[str]:
    stems = [Path(name).stem for name in NOTEBOOKS]
    return [DEMO_NAME, *ARTIFACTS, *(f"{s}.ipynb" for s in stems), *(f"{s}.html" for s in stems),
            INDEX_NAME, SUMMARY_NAME]


def _check_out_dir(out: Path, force: bool) -> None:
    """Refuse a folder that already holds report files, unless ``force``."""
    if out.exists() and not out.is_dir():
        msg = f"output folder '{out}' is a file; give a folder"
        raise UsageError(msg)
    if force or not out.is_dir():
        return
    present = [name for name in _report_files() if (out / name).exists()]
    if present:
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        msg = (f"output folder '{out}' already holds a report ({shown}); pass force=True to "
               "replace it, or choose another folder with out_dir=...")
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
        Papermill's cell progress bar (None: when standard error is a terminal).
    notebooks : str or path, optional
        Folder of the notebooks (default: :func:`find_notebooks`).
    log : callable, optional
        Receives one line per step (default: print to standard error).

    Returns
    -------
    ReportResult
        The folder and the content of ``summary.json``.

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
    """
    log = log or _log_stderr
    if progress is None:
        progress = sys.stderr.isatty()
    _check_parameters(subset_size, strategy, seed)
    if source is not None:
        _check_source(source)
    folder = find_notebooks(notebooks)
    out = Path(out_dir) if out_dir is not None else default_out_dir(source)
    _check_out_dir(out, force)
    out.mkdir(parents=True, exist_ok=True)
    if source is None:
        from ..demo import make_demo_data

        make_demo_data(out / DEMO_NAME, force=force)
        log(f"simulated the demo dataset into {out / DEMO_NAME}")
        notebook_source = DEMO_NAME
    else:
        notebook_source = os.path.abspath(source)
    from ..gap import DEFAULT_LEFT, DEFAULT_RIGHT

    parameters = {
        "source": notebook_source, "out_dir": ".", "subset_size": subset_size,
        "strategy": strategy, "seed": seed, "left_contract": DEFAULT_LEFT,
        "right_contract": DEFAULT_RIGHT, "left_dump": "", "right_dump": "", "force": force,
    }
    for number, name in enumerate(NOTEBOOKS, 1):
        log(f"[{number}/{len(NOTEBOOKS)}] {name} ({out.name})")
        _execute(folder / name, out, parameters, progress)
        _export_html(out / name, force=True)
    summary = _summary(source, out, parameters)
    write_artifact(out / SUMMARY_NAME, summary.to_json(), force=True)
    write_artifact(out / INDEX_NAME, _index_html(summary), force=True)
    return ReportResult(os.fspath(out), summary)


def _log_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _execute(notebook: Path, out: Path, parameters: dict[str, Any], progress: bool) -> None:
    """Run one notebook with the parameters it declares; raise a clear error on failure."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    declared = papermill.inspect_notebook(os.fspath(notebook))
    executed = out / notebook.name
    try:
        papermill.execute_notebook(
            os.fspath(notebook), os.fspath(executed),
            parameters={k: v for k, v in parameters.items() if k in declared},
            kernel_name=KERNEL_NAME, kernel_manager_class=_kernel_manager_class(),
            progress_bar={"desc": f"  {notebook.stem}"} if progress else False,
            cwd=os.fspath(out), log_output=False,
        )
    except PapermillExecutionError as exc:
        first = next((line for line in exc.source.splitlines()
                      if line.strip() and not line.lstrip().startswith("#")), "")
        where = f"cell In [{exc.exec_count}]" if exc.exec_count else f"cell {exc.cell_index}"
        msg = (f"notebook '{notebook.name}' failed in {where} (`{first.strip()[:60]}`): "
               f"{exc.ename}: {_first_line(exc.evalue)}; the partial executed notebook is "
               f"'{executed}'")
        raise NotebookExecutionError(msg, notebook.name, exc.exec_count, os.fspath(executed)) from None
    except PtyEvidenceError:
        raise
    except Exception as exc:  # noqa: BLE001 - kernel start-up, timeouts, dead kernels
        msg = (f"notebook '{notebook.name}' could not run: {type(exc).__name__}: "
               f"{_first_line(str(exc))}; check that ipykernel is installed for {sys.executable}")
        raise NotebookExecutionError(msg, notebook.name, None, os.fspath(executed)) from None


def _first_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0].strip() if lines else "(no message)"


def _kernel_manager_class() -> type:
    """Return a kernel manager class that starts ipykernel with this interpreter.

    A kernel spec named ``python3`` may exist in the user's or the system's
    Jupyter folders and point at another Python, one without ptyevidence;
    ipykernel's own spec for ``sys.executable`` makes the notebooks use the
    same environment as the command, whatever kernel specs are installed.
    The connection is encrypted (CurveZMQ) when both sides support it.
    """
    import zmq
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    # The kernel's own log adds nothing to a report run but noise, such as the
    # interrupt jupyter_client sends on every shutdown; cell errors still arrive.
    spec = KernelSpec(resource_dir=RESOURCES,
                      **get_kernel_dict(extra_arguments=["--IPKernelApp.log_level=CRITICAL"]))
    encrypt = (
        zmq.has("curve")
        and "transport_encryption" in AsyncKernelManager.class_trait_names()
        and "curve" in (spec.metadata or {}).get("supported_encryption", ())
    )

    class CurrentInterpreterKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if encrypt:
                self.transport_encryption = "auto"

        @property
        def kernel_spec(self) -> KernelSpec:
            return spec

    return CurrentInterpreterKernelManager


# The lab template lays tables out with a fixed width and clips them: the gap
# matrix's wide Markdown table would lose its right-hand columns. Let the columns
# size to their content and wrap long cells (paths break anywhere, words stay whole).
_HTML_EXTRA_STYLE = """<style>
.jp-RenderedHTMLCommon table { table-layout: auto; max-width: 100%; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { overflow-wrap: anywhere; min-width: 6em; }
</style>
"""


def _export_html(executed: Path, force: bool) -> Path:
    """Render an executed notebook to a standalone HTML page beside it."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_filename(os.fspath(executed))
    body = body.replace("</head>", f"{_HTML_EXTRA_STYLE}</head>", 1)
    target = executed.with_suffix(".html")
    write_artifact(target, body, force=force)
    return target


# -- summary and index -------------------------------------------------------------


def _summary(source: str | os.PathLike | None, out: Path, parameters: dict[str, Any]) -> ReportSummary:
    """Collect the verdicts from the notebooks' machine-readable artifacts."""
    from ..fixture.sidecar import file_sha256

    source_file = out / DEMO_NAME if source is None else Path(source)
    coverage = CoverageRecord.read(out / "coverage.json")
    stems = [Path(name).stem for name in NOTEBOOKS]
    return ReportSummary(
        tool_version=__version__,
        source=SourceRecord(
            path=DEMO_NAME if source is None else os.fspath(source), demo=source is None,
            sha256=file_sha256(source_file), size=source_file.stat().st_size,
        ),
        parameters={k: v for k, v in parameters.items() if k not in ("source", "out_dir", "force")},
        verdicts=Verdicts(
            data_contract=ContractVerdict.read(out / "data_contract.json"),
            fixture=FixtureVerdict.from_coverage(coverage),
            coverage=CoverageVerdict.from_coverage(coverage),
            gap_matrix=GapVerdict.read(out / "torch_gap_matrix.csv", parameters["left_contract"],
                                       parameters["right_contract"]),
        ),
        notebooks={s: {"executed": f"{s}.ipynb", "html": f"{s}.html"} for s in stems},
        artifacts={name: name for name in ARTIFACTS if (out / name).exists()},
        index=INDEX_NAME,
    )


def _index_html(summary: ReportSummary) -> str:
    """Return the report's landing page: verdicts, notebooks, artifacts, the coverage plot."""
    e = html.escape
    v = summary.verdicts
    contract, fixture, cov, gap = v.data_contract, v.fixture, v.coverage, v.gap_matrix
    src = summary.source

    def badge(ok: bool, text: str) -> str:
        return f'<span class="{"pass" if ok else "fail"}">{e(text)}</span>'

    params = "".join(f"<tr><th>{e(k)}</th><td><code>{e(json.dumps(val))}</code></td></tr>"
                     for k, val in summary.parameters.items())
    verdict_rows = [
        ("Data contract", badge(contract.ok, contract.verdict),
         (f"{e(contract.contract)}: {contract.errors} errors, {contract.warnings} warnings; "
         f"stack layout {e(str(contract.layout))}"), "data_contract.md"),
        ("Fixture", badge(fixture.contract_verdict == "PASS", fixture.contract_verdict),
         (f"{fixture.subset_size} of {fixture.source_positions} positions, "
         f"{e(fixture.strategy)}, seed {fixture.seed}; sha256 <code>{fixture.sha256[:16]}…</code>"),
         "fixture_notes.md"),
        ("Coverage", "",
         (f"range ratio x {cov.x_range_ratio:.3f}, y {cov.y_range_ratio:.3f}; occupancy "
         f"{cov.occupancy:.3f}; hull area {cov.hull_area_ratio:.3f}; largest gap "
         f"{cov.largest_gap:.3g} px"), "coverage.json"),
        ("Gap matrix", "",
         f"{gap.rows} roles, <code>{e(gap.left)}</code> vs <code>{e(gap.right)}</code>; "
         + ", ".join(f"{e(k)} {n}" for k, n in gap.kinds.items()), "torch_gap_matrix.md"),
    ]
    verdicts = "".join(
        f'<tr><th>{name}</th><td>{mark}</td><td>{detail}</td><td><a href="{ref}">{ref}</a></td></tr>'
        for name, mark, detail, ref in verdict_rows
    )
    notebooks = "".join(
        f'<tr><td><a href="{e(n["html"])}">{e(stem)}</a> (<a href="{e(n["executed"])}">.ipynb</a>)'
        f"</td><td>{e(_NOTEBOOK_PURPOSES.get(stem, ''))}</td></tr>"
        for stem, n in summary.notebooks.items()
    )
    artifacts = "".join(
        f'<tr><td><a href="{e(path)}">{e(name)}</a></td><td>{e(ARTIFACTS[name])}</td></tr>'
        for name, path in summary.artifacts.items()
    )
    artifacts += (f'<tr><td><a href="{SUMMARY_NAME}">{SUMMARY_NAME}</a></td>'
                  "<td>Tool version, source digest, parameters, verdicts, paths</td></tr>")
    if src.demo:
        artifacts += (f'<tr><td><a href="{DEMO_NAME}">{DEMO_NAME}</a></td>'
                      "<td>The simulated demo dataset this report was made from</td></tr>")
    figure = ('<figure><img src="coverage.png" alt="Scan coverage of the fixture" width="560">'
              "<figcaption>Scan coverage of the fixture (coverage.png)</figcaption></figure>"
              if "coverage.png" in summary.artifacts else "")
    title = f"Evidence report: {Path(src.path).name}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; padding: 0 1rem;
       color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.6rem; margin-bottom: 0.2rem; }}
h2 {{ font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: 0.3rem 0.6rem; border-bottom: 1px solid #eee; }}
th {{ white-space: nowrap; }}
code {{ font-size: 0.9em; word-break: break-all; }}
.pass, .fail {{ font-weight: bold; padding: 0.05rem 0.5rem; border-radius: 0.3rem; }}
.pass {{ background: #d4edda; color: #155724; }}
.fail {{ background: #f8d7da; color: #721c24; }}
.meta {{ color: #555; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
</style>
</head>
<body>
<h1>{e(title)}</h1>
<p class="meta">ptyevidence {e(summary.tool_version)} · source <code>{e(src.path)}</code>
({src.size:,} bytes{", simulated demo dataset" if src.demo else ""}) · sha256 <code>{e(src.sha256)}</code></p>
<h2>Verdicts</h2>
<table>{verdicts}</table>
{figure}
<h2>Notebooks</h2>
<table>{notebooks}</table>
<h2>Artifacts</h2>
<table>{artifacts}</table>
<h2>Parameters</h2>
<table>{params}</table>
</body>
</html>
"""


def render_reports(
    sources: Sequence[str | os.PathLike | None],
    out: str | os.PathLike | None = None,
    jobs: int = 1,
    log: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> list[tuple[str, ReportResult | PtyEvidenceError]]:
    """Render one report per source, ``jobs`` at a time in separate processes.

    With one source, ``out`` is its artifact folder; with several, each
    report goes to ``out/<source-stem>`` (default ``artifacts/<source-stem>``).

    Parameters
    ----------
    sources : sequence of str, path or None
        Dataset files (None: the demo dataset).
    out : str or path, optional
        Artifact folder (one source) or parent folder (several).
    jobs : int
        Reports rendered at the same time, each in its own process.
    log : callable, optional
        Receives progress lines.
    **kwargs
        Passed to :func:`render_report`.

    Returns
    -------
    list of (str, ReportResult or PtyEvidenceError)
        Per source, in the given order: the result, or the error it raised.

    Raises
    ------
    UsageError
        If two sources would share an artifact folder or ``jobs`` < 1.
    """
    if jobs < 1:
        msg = f"jobs={jobs} is not a positive number of processes"
        raise UsageError(msg)
    folders = _output_folders(sources, out)
    labels = [os.fspath(s) if s is not None else DEMO_NAME for s in sources]
    if jobs == 1 or len(sources) == 1:
        results: list[tuple[str, ReportResult | PtyEvidenceError]] = []
        for label, src, folder in zip(labels, sources, folders):
            try:
                results.append((label, render_report(src, folder, log=log, **kwargs)))
            except PtyEvidenceError as exc:
                results.append((label, exc))
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    log = log or _log_stderr
    kwargs = {**kwargs, "progress": False}
    # Spawned, not forked: a fresh interpreter per worker, so no thread or
    # ZeroMQ state of this process leaks into the kernels the workers start.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_render_in_worker, src, folder, kwargs)
                   for src, folder in zip(sources, folders)]
        for label in labels:
            log(f"queued {label}")
        outcomes = [f.result() for f in futures]
    results = []
    for label, (result, error) in zip(labels, outcomes):
        results.append((label, result if error is None else _rebuild_error(*error)))
    return results


def _render_in_worker(
    source: str | os.PathLike | None, folder: Path, kwargs: dict[str, Any]
) -> tuple[ReportResult | None, tuple[str, int] | None]:
    """Run :func:`render_report` in a worker; return errors as plain data (picklable)."""
    label = os.fspath(source) if source is not None else DEMO_NAME
    try:
        result = render_report(source, folder, log=lambda line: _log_stderr(f"{label}: {line}"),
                               **kwargs)
    except PtyEvidenceError as exc:
        return None, (str(exc), exc.exit_code)
    return result, None


def _rebuild_error(message: str, exit_code: int) -> PtyEvidenceError:
    error = PtyEvidenceError(message)
    error.exit_code = exit_code
    return error


def _output_folders(sources: Sequence[str | os.PathLike | None], out: str | os.PathLike | None) -> list[Path]:
    if len(sources) == 1:
        return [Path(out) if out is not None else default_out_dir(sources[0])]
    base = Path(out) if out is not None else Path("artifacts")
    folders = [base / default_out_dir(s).name for s in sources]
    seen: dict[Path, str] = {}
    for src, folder in zip(sources, folders):
        label = os.fspath(src) if src is not None else DEMO_NAME
        if folder in seen:
            msg = (f"sources '{seen[folder]}' and '{label}' would share the artifact folder "
                   f"'{folder}'; rename one, or render them in separate calls with out=...")
            raise UsageError(msg)
        seen[folder] = label
    return folders
