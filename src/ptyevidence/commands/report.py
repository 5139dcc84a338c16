"""``ptyevidence report``: run the evidence notebooks and collect the artifacts."""

from __future__ import annotations

import argparse
import sys

from ._common import (
    HASH_MODES,
    add_force,
    add_geometry,
    add_interpreter,
    add_reader,
    add_subset,
    error_text,
    flag_options,
    whole_number,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report",
        help="run the evidence notebooks on a dataset and collect the artifacts",
        description="Execute the evidence notebooks (data_contract, dataset, scan_coverage, "
        "torch_gap_matrix) through papermill on each source, into DIR: the executed "
        "notebooks and their HTML renderings, data_contract.md, the data figures (frames, "
        "probe, object with the scan), the fixture with fixture_notes.md, the coverage plots "
        "(PNG, SVG) and coverage.json, torch_gap_matrix.md and .csv, an HTML page for each "
        "Markdown file, index.html linking everything, and summary.json (tool version, source "
        "sha256, parameters, verdicts, paths). With several sources the gap matrix, which "
        "depends on the contracts only, is written once into the parent folder, whose "
        "index.html, written once every report has finished, has one row per source (ERROR for "
        "a report that failed; the others go on). --workers K renders K reports at a time on a "
        "local dask cluster, --scheduler on an existing one (as 'ptyevidence audit' does; both "
        "need the batch extra). --observe also runs PtychoPINN's TF and Torch pipelines on each "
        "report's fixture (as 'ptyevidence observe' does) and adds what they held, their parity "
        "and the contract drift to the gap matrix, then per report. Without --source the "
        "simulated demo dataset is written into DIR first. Exit 0: every report written "
        "and every source passes its data contract; 1: a source breaks its contract (its "
        "report is still written); 2: unusable input, a failing notebook (its partial "
        "executed notebook is kept), PtychoPINN not importable with --observe, or an "
        "existing report without --force; with several sources, the largest of theirs.",
    )
    p.add_argument(
        "--source",
        nargs="+",
        action="extend",
        metavar="S",
        help="dataset file(s), NPZ or CXI; several give one report each (default: the simulated demo dataset)",
    )
    p.add_argument(
        "--sources-from",
        metavar="LIST",
        help="text file naming one dataset per line, after those of --source (blank "
        "lines and # comments skipped; relative paths are relative to LIST)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="artifact folder (default: artifacts/<source-stem>/ under the "
        "current folder); with several sources, the parent of one folder per "
        "source stem",
    )
    add_subset(
        p,
        "positions in the regression fixture, 16 or more (default: 64)",
        "how the fixture's positions are chosen (default: stratified-index)",
    )
    p.add_argument(
        "--contract",
        metavar="NAME|PATH",
        default="",
        help="contract the data contract notebook validates against, built-in name "
        "(e.g. legacy) or JSON file (default: the file format's, data001 for NPZ)",
    )
    p.add_argument(
        "--source-hash",
        choices=HASH_MODES,
        default="auto",
        help="hash the source in full (the fixture's policy, whose record the report "
        "reads): auto = up to 1 GiB, a fingerprint above; full; none (default: auto)",
    )
    engine = p.add_mutually_exclusive_group()
    engine.add_argument(
        "--workers",
        "--jobs",
        dest="jobs",
        type=whole_number(1, "number of worker processes"),
        default=1,
        metavar="K",
        help="render K sources at a time on a local dask cluster of K worker "
        "processes (default: 1, one after the other in this process)",
    )
    engine.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="render the sources on an existing dask cluster (tcp://host:8786) "
        "whose workers see the files at the same paths",
    )
    p.add_argument(
        "--observe",
        action="store_true",
        help="run PtychoPINN's TF and Torch pipelines on the fixture and add the observed "
        "columns and the contract drift to the gap matrix",
    )
    add_interpreter(p, "with --observe: ")
    add_reader(p)
    add_geometry(p)
    add_force(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..exceptions import UsageError
    from ..report.batch import read_source_list, render_reports
    from ..report.runner import render_report

    if (args.python or args.ptychopinn) and not args.observe:
        msg = "--python and --ptychopinn say where PtychoPINN runs; they go with --observe"
        raise UsageError(msg)
    sources = [*(args.source or []), *(read_source_list(args.sources_from) if args.sources_from else [])]
    # render_reports passes its other keywords on to render_report: the flags set those parameters.
    options = flag_options(render_report, args, skip=2)
    results = render_reports(sources or [None], args.out, jobs=args.jobs, scheduler=args.scheduler, **options)
    code = 0
    for label, outcome in results:
        if isinstance(outcome, Exception):
            print(f"ptyevidence: error: {error_text(outcome)}", file=sys.stderr)
            code = max(code, outcome.exit_code)
            continue
        print(outcome.to_text())
        if not outcome.ok:
            print(
                f"ptyevidence: {label} breaks its data contract; see {outcome.out_dir}/data_contract.md",
                file=sys.stderr,
            )
            code = max(code, 1)
    return code
