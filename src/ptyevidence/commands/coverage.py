"""``ptyevidence coverage``: how well a subset of scan positions spans its source scan."""

from __future__ import annotations

import argparse

from ..exceptions import PtyEvidenceError
from ._common import (
    add_force,
    add_geometry,
    add_json,
    add_reader,
    add_thresholds,
    call_with_args,
    flag_options,
    print_report,
    real_number,
    seed_type,
)

#: Kept here (not imported from ptyevidence.coverage.reports) so that building
#: the parser stays light.
DEFAULT_COMPARE_SIZE = 64
PLOT_SCAN = "scan_coverage"
PLOT_OCCUPANCY = "occupancy"
PLOT_STRATEGIES = "strategy_comparison"
_length = real_number("length in the units of xcoords/ycoords")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``coverage`` subcommand."""
    p = sub.add_parser(
        "coverage",
        help="measure how well a subset (fixture) spans its source scan",
        description="Coverage metrics of a subset of scan positions against its source scan: "
        "x/y range ratios (the reference criterion), occupancy of a coarse grid, convex-hull "
        "area ratio, nearest-neighbour spacing and the largest distance from a source position "
        "to the subset. The subset comes from a fixture (--subset; indices from its sidecar "
        "when present, else by matching positions exactly) or a sidecar (--indices-from); "
        "--compare-strategies measures every fixture strategy instead; with neither, the "
        "source's own extent and spacing are printed. Exit 0: measured; 1: a --min-* "
        "threshold failed; 2: unusable input or usage error.",
    )
    p.add_argument("source", metavar="SOURCE", help="the scan (NPZ or CXI) the subset comes from")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--subset",
        metavar="FIXTURE",
        help="fixture cut from SOURCE; its indices come from the sidecar next "
        "to it (FIXTURE with .json) when present, else its positions are matched "
        "to SOURCE positions exactly",
    )
    which.add_argument(
        "--indices-from", metavar="SIDECAR", help="fixture sidecar (JSON) whose 'indices' select the subset"
    )
    which.add_argument(
        "--compare-strategies",
        action="store_true",
        help="measure an N-position subset chosen by each fixture strategy and print one row per strategy",
    )
    p.add_argument(
        "--subset-size",
        type=_count,
        default=None,
        metavar="N",
        help=f"with --compare-strategies: positions per subset, 1 to the source's N (default: {DEFAULT_COMPARE_SIZE})",
    )
    p.add_argument(
        "--seed",
        type=seed_type,
        default=None,
        metavar="N",
        help="with --compare-strategies: seed of the farthest-point start (default: 0)",
    )
    p.add_argument(
        "--cell-size",
        type=_length,
        default=None,
        metavar="C",
        help="occupancy cell edge in position units (default: the source's median "
        "nearest-neighbour spacing x sqrt(N/n), x N/n for a line scan)",
    )
    p.add_argument(
        "--probe-diameter",
        type=_length,
        default=None,
        metavar="D",
        help="probe diameter in position units, for the overlap ratio "
        "max(0, 1 - spacing/D) of neighbouring positions and the footprints "
        "(default: measured from the file's probe, the diameter of the disc with "
        "the area where its amplitude is at least 0.5 of the maximum)",
    )
    add_thresholds(
        p,
        "with a subset: x and y range ratios must exceed R, else exit 1 (default: not checked)",
        "with a subset: occupancy must be at least R, else exit 1 (default: not checked)",
    )
    p.add_argument(
        "--plot-dir",
        metavar="DIR",
        help=f"write figures as PNG and SVG into DIR (created if missing): "
        f"{PLOT_SCAN} (plus {PLOT_OCCUPANCY} with a subset), or "
        f"{PLOT_STRATEGIES} with --compare-strategies",
    )
    add_force(p)
    add_reader(p)
    add_geometry(p)
    add_json(p)
    p.set_defaults(func=_run)


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        msg = f"subset size '{text}' is not an integer; give a whole number of positions"
        raise argparse.ArgumentTypeError(msg) from None


def _run(args: argparse.Namespace) -> int:
    from ..coverage import reports

    has_subset = args.subset is not None or args.indices_from is not None
    _check_flags(args, has_subset)
    from ..coverage.matching import read_positions

    try:
        if flag_options(read_positions, args, skip=1):
            # Read once with the options; the reports take the positions for the path.
            args.source = call_with_args(read_positions, args, args.source)
        if args.compare_strategies:
            report = call_with_args(
                reports.strategies_report,
                args,
                subset_size=DEFAULT_COMPARE_SIZE if args.subset_size is None else args.subset_size,
                seed=0 if args.seed is None else args.seed,
            )
        elif has_subset:
            report = call_with_args(reports.subset_report, args, fixture=args.subset, sidecar=args.indices_from)
        else:
            report = call_with_args(reports.scan_report, args)
    except PtyEvidenceError as exc:
        raise _in_flags(exc) from None
    return print_report(report, args.json, ok=report.ok)


def _check_flags(args: argparse.Namespace, has_subset: bool) -> None:
    """Refuse flags that do not apply to the chosen subset (before any file is read)."""
    from ..exceptions import UsageError

    if not args.compare_strategies:
        for flag, value in (("--subset-size", args.subset_size), ("--seed", args.seed)):
            if value is not None:
                msg = f"{flag} applies to --compare-strategies; add it or drop {flag}"
                raise UsageError(msg)
    if not has_subset:
        for flag, value in (("--min-range-ratio", args.min_range_ratio), ("--min-occupancy", args.min_occupancy)):
            if value is not None:
                msg = f"{flag} checks a subset; pass --subset FIXTURE or --indices-from SIDECAR"
                raise UsageError(msg)
        if args.cell_size is not None and not args.compare_strategies:
            msg = (
                "--cell-size sets the occupancy cells of a subset; pass --subset, "
                "--indices-from or --compare-strategies"
            )
            raise UsageError(msg)


def _in_flags(exc: Exception) -> Exception:
    """Return the library's error with its parameters named as this command's flags."""
    from ..coverage.matching import FROM_SIDECAR
    from ..exceptions import InputError

    text = str(exc)
    for words, flag in ((FROM_SIDECAR, "or its sidecar with --indices-from"), ("plot_dir '", "--plot-dir '")):
        text = text.replace(words, flag)
    if text == str(exc):
        return exc
    return InputError(text, exc.path) if isinstance(exc, InputError) else type(exc)(text)
