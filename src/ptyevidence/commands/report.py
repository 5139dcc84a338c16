"""``ptyevidence report``: run the evidence notebooks and collect the artifacts."""

from __future__ import annotations

import argparse
import sys

from ._common import (
    add_force,
    add_geometry,
    add_reader,
    error_text,
    geometry_options,
    seed_type,
)
from .fixture import _HASH_MODES, _STRATEGIES, _subset_size


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report", help="run the evidence notebooks on a dataset and collect the artifacts",
        description="Execute the evidence notebooks (data_contract, dataset, scan_coverage, "
        "torch_gap_matrix) through papermill on each source, into DIR: the executed "
        "notebooks and their HTML renderings, data_contract.md, the data figures (frames, "
        "probe, object with the scan), the fixture with fixture_notes.md, the coverage plots "
        "(PNG, SVG) and coverage.json, torch_gap_matrix.md and .csv, an HTML page for each "
        "Markdown file, index.html linking everything, and summary.json (tool version, source "
        "sha256, parameters, verdicts, paths). With several sources the gap matrix, which "
        "depends on the contracts only, is written once into the parent folder, whose "
        "index.html has one row per source. Without --source the simulated demo dataset is "
        "written into DIR first. Exit 0: every report written "
        "and every source passes its data contract; 1: a source breaks its contract (its "
        "report is still written); 2: unusable input, a failing notebook (its partial "
        "executed notebook is kept) or an existing report without --force.",
    )
    p.add_argument("--source", nargs="+", action="extend", metavar="S",
                   help="dataset file(s), NPZ or CXI; several give one report each "
                   "(default: the simulated demo dataset)")
    p.add_argument("--out", metavar="DIR",
                   help="artifact folder (default: artifacts/<source-stem>/ under the "
                   "current folder); with several sources, the parent of one folder per "
                   "source stem")
    p.add_argument("--subset-size", type=_subset_size, default=64, metavar="N",
                   help="positions in the regression fixture, 16 or more (default: 64)")
    p.add_argument("--strategy", choices=_STRATEGIES, default="stratified-index",
                   help="how the fixture's positions are chosen (default: stratified-index)")
    p.add_argument("--seed", type=seed_type, default=0, metavar="N",
                   help="seed of the farthest-point start (default: 0)")
    p.add_argument("--contract", metavar="NAME|PATH", default="",
                   help="contract the data contract notebook validates against, built-in name "
                   "(e.g. legacy) or JSON file (default: the file format's, data001 for NPZ)")
    p.add_argument("--source-hash", choices=_HASH_MODES, default="auto",
                   help="hash the source in full (the fixture's policy, whose record the report "
                   "reads): auto = up to 1 GiB, a fingerprint above; full; none (default: auto)")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="K",
                   help="render K sources at a time, each in its own process (default: 1)")
    add_reader(p)
    add_geometry(p)
    add_force(p)
    p.set_defaults(func=_run)


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"jobs '{text}' is not a positive integer"
        raise argparse.ArgumentTypeError(msg)
    return value


def _run(args: argparse.Namespace) -> int:
    from ..report.batch import render_reports

    sources = args.source or [None]
    results = render_reports(
        sources, args.out, jobs=args.jobs, subset_size=args.subset_size,
        strategy=args.strategy, seed=args.seed, force=args.force, contract=args.contract,
        source_hash=args.source_hash,
        **{k: v for k, v in {"reader": args.reader, "positions_from": args.positions_from,
                             **geometry_options(args)}.items() if v},
    )
    code = 0
    for label, outcome in results:
        if isinstance(outcome, Exception):
            print(f"ptyevidence: error: {error_text(outcome)}", file=sys.stderr)
            code = max(code, outcome.exit_code)
            continue
        print(outcome.to_text())
        if not outcome.ok:
            print(f"ptyevidence: {label} breaks its data contract; see "
                  f"{outcome.out_dir}/data_contract.md", file=sys.stderr)
            code = max(code, 1)
    return code
