"""``ptyevidence coverage``: how well a subset of scan positions spans its source scan."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._format import aligned_rows, number_text
from ._common import add_force, add_json, emit_json, ratio_type, seed_type

#: Subset size of ``--compare-strategies`` when ``--subset-size`` is not given.
DEFAULT_COMPARE_SIZE = 64
#: File stems written into ``--plot-dir`` (each as ``.png`` and ``.svg``).
PLOT_SCAN = "scan_coverage"
PLOT_OCCUPANCY = "occupancy"
PLOT_STRATEGIES = "strategy_comparison"
#: Columns of the strategy table, by metric name.
TABLE_METRICS = (
    "x_range_ratio", "y_range_ratio", "occupancy", "hull_area_ratio",
    "largest_gap", "subset_nn_median", "source_nn_median",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``coverage`` subcommand."""
    p = sub.add_parser(
        "coverage", help="measure how well a subset (fixture) spans its source scan",
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
    which.add_argument("--subset", metavar="FIXTURE",
                       help="fixture cut from SOURCE; its indices come from the sidecar next "
                       "to it (FIXTURE with .json) when present, else its positions are matched "
                       "to SOURCE positions exactly")
    which.add_argument("--indices-from", metavar="SIDECAR",
                       help="fixture sidecar (JSON) whose 'indices' select the subset")
    which.add_argument("--compare-strategies", action="store_true",
                       help="measure an N-position subset chosen by each fixture strategy "
                       "and print one row per strategy")
    p.add_argument("--subset-size", type=_count, default=None, metavar="N",
                   help=f"with --compare-strategies: positions per subset, 1 to the source's "
                   f"N (default: {DEFAULT_COMPARE_SIZE})")
    p.add_argument("--seed", type=seed_type, default=None, metavar="N",
                   help="with --compare-strategies: seed of the farthest-point start (default: 0)")
    p.add_argument("--cell-size", type=_length, default=None, metavar="C",
                   help="occupancy cell edge in position units (default: the source's median "
                   "nearest-neighbour spacing x sqrt(N/n), x N/n for a line scan)")
    p.add_argument("--probe-diameter", type=_length, default=None, metavar="D",
                   help="probe diameter in position units; adds the overlap ratio "
                   "max(0, 1 - spacing/D) of neighbouring positions")
    p.add_argument("--min-range-ratio", type=ratio_type, default=None, metavar="R",
                   help="with a subset: x and y range ratios must exceed R, else exit 1 "
                   "(default: not checked)")
    p.add_argument("--min-occupancy", type=ratio_type, default=None, metavar="R",
                   help="with a subset: occupancy must be at least R, else exit 1 "
                   "(default: not checked)")
    p.add_argument("--plot-dir", metavar="DIR",
                   help=f"write figures as PNG and SVG into DIR (created if missing): "
                   f"{PLOT_SCAN} (plus {PLOT_OCCUPANCY} with a subset), or "
                   f"{PLOT_STRATEGIES} with --compare-strategies")
    add_force(p)
    add_json(p)
    p.set_defaults(func=_run)


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        msg = f"subset size '{text}' is not an integer; give a whole number of positions"
        raise argparse.ArgumentTypeError(msg) from None


def _length(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        msg = f"'{text}' is not a positive length (in the units of xcoords/ycoords)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _run(args: argparse.Namespace) -> int:
    from ..coverage.metrics import (
        compare_subsets,
        describe_scan,
        scan_coverage,
        select_strategy_subsets,
    )

    has_subset = args.subset is not None or args.indices_from is not None
    _check_flags(args, has_subset)
    stems = _plot_stems(args, has_subset)
    positions = _read_positions(args.source)
    if args.compare_strategies:
        size = DEFAULT_COMPARE_SIZE if args.subset_size is None else args.subset_size
        seed = 0 if args.seed is None else args.seed
        subsets = select_strategy_subsets(positions.x, positions.y, size, seed)
        rows = compare_subsets(positions.x, positions.y, subsets, args.cell_size, args.probe_diameter)
        plots = _write_plots(args, stems, positions, subsets=subsets, rows=rows)
        report = _compare_report(args, positions, size, seed, rows, plots)
        print_text = _compare_text
        ok = True
    elif has_subset:
        subset = _load_subset(args, positions)
        metrics = scan_coverage(positions.x, positions.y, subset.indices,
                                args.cell_size, args.probe_diameter)
        checks = _threshold_checks(metrics, args.min_range_ratio, args.min_occupancy)
        ok = all(c["ok"] for c in checks)
        plots = _write_plots(args, stems, positions, subset=subset, metrics=metrics)
        report = _subset_report(args, positions, subset, metrics, checks, ok, plots)
        print_text = _subset_text
    else:
        stats = describe_scan(positions.x, positions.y, args.probe_diameter)
        plots = _write_plots(args, stems, positions)
        report = {"source": positions.path, "format": positions.format, "units": positions.units,
                  "scan": stats.to_dict(), "plots": plots}
        print_text = _scan_text
        ok = True
    if args.json:
        emit_json(report)
    else:
        print(print_text(report))
    return 0 if ok else 1


# -- inputs --------------------------------------------------------------------


class _Positions:
    """Scan positions of one file, checked, with where they came from."""

    def __init__(self, path: str, fmt: str, units: str, x: Any, y: Any) -> None:
        self.path, self.format, self.units, self.x, self.y = path, fmt, units, x, y


class _Subset:
    """Source indices of a subset and how they were found."""

    def __init__(self, indices: Any, origin: str, path: str, sidecar: str | None) -> None:
        self.indices, self.origin, self.path, self.sidecar = indices, origin, path, sidecar


def _check_flags(args: argparse.Namespace, has_subset: bool) -> None:
    from ..exceptions import UsageError

    if not args.compare_strategies:
        for flag, value in (("--subset-size", args.subset_size), ("--seed", args.seed)):
            if value is not None:
                msg = f"{flag} applies to --compare-strategies; add it or drop {flag}"
                raise UsageError(msg)
    if not has_subset:
        for flag, value in (("--min-range-ratio", args.min_range_ratio),
                            ("--min-occupancy", args.min_occupancy)):
            if value is not None:
                msg = f"{flag} checks a subset; pass --subset FIXTURE or --indices-from SIDECAR"
                raise UsageError(msg)
        if args.cell_size is not None and not args.compare_strategies:
            msg = ("--cell-size sets the occupancy cells of a subset; pass --subset, "
                   "--indices-from or --compare-strategies")
            raise UsageError(msg)


def _read_positions(path: str, minimum: int = 2) -> _Positions:
    """Read ``xcoords``/``ycoords`` of ``path`` as float64; check there are ``minimum``, finite."""
    import numpy as np

    from ..coverage.metrics import position_range_problem
    from ..exceptions import InputError
    from ..readers.common import read_real
    from ..readers.registry import open_source

    with open_source(path) as src:
        x, y = read_real(src, "xcoords"), read_real(src, "ycoords")
        fmt, units = src.format, src.position_units
    if x.ndim != 1 or x.shape != y.shape:
        msg = (f"'{path}': xcoords has shape {x.shape} and ycoords {y.shape}; expected two "
               "1-D arrays of equal length, one entry per scan position")
        raise InputError(msg, path)
    if x.size < minimum:
        msg = f"'{path}' has {x.size} scan position(s); coverage needs at least {minimum}"
        raise InputError(msg, path)
    bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
    if bad.size:
        first = int(bad[0])
        msg = (f"'{path}': xcoords/ycoords hold {bad.size} non-finite position(s), first at "
               f"index {first} ({x[first]}, {y[first]}); coverage needs every position finite")
        raise InputError(msg, path)
    problem = position_range_problem(x, y)
    if problem:
        msg = f"'{path}': {problem}; check the position units"
        raise InputError(msg, path)
    return _Positions(path, fmt, units, x, y)


def _load_subset(args: argparse.Namespace, source: _Positions) -> _Subset:
    from ..fixture.sidecar import default_metadata_path

    if args.indices_from is not None:
        indices = _sidecar_indices(args.indices_from, source)
        return _Subset(indices, "sidecar", args.indices_from, args.indices_from)
    fixture = _read_positions(args.subset, minimum=1)
    sidecar = default_metadata_path(args.subset)
    if os.path.isfile(sidecar):
        indices = _sidecar_indices(sidecar, source)
        _check_fixture_rows(args.subset, sidecar, fixture, source, indices)
        return _Subset(indices, "sidecar", args.subset, sidecar)
    indices = _match_positions(fixture, source)
    return _Subset(indices, "positions", args.subset, None)


def _sidecar_indices(path: str, source: _Positions) -> Any:
    """Return the sidecar's indices, checked against the source's number of positions."""
    import numpy as np

    from ..exceptions import InputError
    from ..fixture.sidecar import read_sidecar

    if not os.path.isfile(path):
        msg = f"sidecar '{path}' does not exist; give the JSON sidecar written by 'fixture make'"
        raise InputError(msg, path)
    record = read_sidecar(path)
    n_source = source.x.size
    recorded = record.get("source_positions")
    if isinstance(recorded, int) and recorded != n_source:
        msg = (f"sidecar '{path}' was cut from a source of {recorded} positions but "
               f"'{source.path}' has {n_source}; pass the source the fixture was cut from")
        raise InputError(msg, path)
    indices = np.asarray(record["indices"], dtype=np.int64)
    if indices.size == 0:
        msg = f"sidecar '{path}' lists no indices; coverage needs at least one subset position"
        raise InputError(msg, path)
    outside = np.flatnonzero((indices < 0) | (indices >= n_source))
    if outside.size:
        msg = (f"sidecar '{path}': index {int(indices[outside[0]])} is outside the "
               f"{n_source} positions of '{source.path}'; pass the source the fixture was cut from")
        raise InputError(msg, path)
    if np.unique(indices).size != indices.size:
        msg = f"sidecar '{path}' lists repeated indices; it is damaged, regenerate it with 'fixture make'"
        raise InputError(msg, path)
    return indices


def _check_fixture_rows(
    fixture_path: str, sidecar: str, fixture: _Positions, source: _Positions, indices: Any
) -> None:
    """Fixture row i must sit at source position ``indices[i]``."""
    import numpy as np

    from ..exceptions import InputError

    if indices.size != fixture.x.size:
        msg = (f"sidecar '{sidecar}' lists {indices.size} indices but fixture '{fixture_path}' "
               f"has {fixture.x.size} positions; the sidecar belongs to another fixture")
        raise InputError(msg, sidecar)
    differ = np.flatnonzero((source.x[indices] != fixture.x) | (source.y[indices] != fixture.y))
    if differ.size:
        row = int(differ[0])
        i = int(indices[row])
        msg = (f"fixture '{fixture_path}' row {row} is at ({fixture.x[row]:.6g}, "
               f"{fixture.y[row]:.6g}) but source '{source.path}' position {i} (from sidecar "
               f"'{sidecar}') is at ({source.x[i]:.6g}, {source.y[i]:.6g}); {differ.size} of "
               f"{indices.size} rows differ: wrong source, or sidecar of another fixture")
        raise InputError(msg, sidecar)


def _match_positions(fixture: _Positions, source: _Positions) -> Any:
    """Source index of each fixture position, by exact coordinate match.

    Positions become integer keys (rank of x, rank of y among the source's
    distinct values), so matching is a sort and binary searches: exact, and
    without a spatial index.
    """
    import numpy as np

    from ..exceptions import InputError

    ux, uy = np.unique(source.x), np.unique(source.y)
    key = np.searchsorted(ux, source.x) * uy.size + np.searchsorted(uy, source.y)
    # Source indices grouped by position, ascending within a group.
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    ix = np.minimum(np.searchsorted(ux, fixture.x), ux.size - 1)
    iy = np.minimum(np.searchsorted(uy, fixture.y), uy.size - 1)
    wanted = ix * uy.size + iy
    lo = np.searchsorted(sorted_keys, wanted, side="left")
    hi = np.searchsorted(sorted_keys, wanted, side="right")
    found = (ux[ix] == fixture.x) & (uy[iy] == fixture.y) & (hi > lo)
    missing = np.flatnonzero(~found)
    if missing.size:
        row = int(missing[0])
        dist = np.hypot(source.x - fixture.x[row], source.y - fixture.y[row])
        near = int(np.argmin(dist))
        msg = (f"fixture '{fixture.path}': {missing.size} of {found.size} positions are not "
               f"positions of '{source.path}' (first: row {row} at ({fixture.x[row]:.6g}, "
               f"{fixture.y[row]:.6g}), nearest source position {near} at distance "
               f"{dist[near]:.3g}); pass the source it was cut from, or its sidecar with --indices-from")
        raise InputError(msg, fixture.path)
    # Fixture rows at one position take that position's source indices in order
    # (duplicated source positions); rank = how many earlier rows share the key.
    rows = np.argsort(wanted, kind="stable")
    ordered = wanted[rows]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    rank = np.empty(wanted.size, dtype=np.int64)
    rank[rows] = np.arange(wanted.size) - np.repeat(first, np.diff(np.r_[first, wanted.size]))
    short = np.flatnonzero(rank >= hi - lo)
    if short.size:
        row = int(short[0])
        count = int(np.count_nonzero(wanted == wanted[row]))
        msg = (f"fixture '{fixture.path}' has {count} positions at ({fixture.x[row]:.6g}, "
               f"{fixture.y[row]:.6g}) but '{source.path}' has {int(hi[row] - lo[row])}; "
               "the fixture was not cut from this source")
        raise InputError(msg, fixture.path)
    return order[lo + rank].astype(np.int64)


# -- thresholds ------------------------------------------------------------------


def _threshold_checks(
    metrics: Any, min_range_ratio: float | None, min_occupancy: float | None
) -> list[dict[str, Any]]:
    """Evaluate the ``--min-*`` flags, with the same criteria as ``fixture verify``."""
    checks = []
    if min_range_ratio is not None:
        for axis in ("x", "y"):
            value = getattr(metrics, f"{axis}_range_ratio")
            checks.append({"metric": f"{axis}_range_ratio", "value": value, "criterion": ">",
                           "threshold": min_range_ratio, "ok": value > min_range_ratio})
    if min_occupancy is not None:
        value = metrics.occupancy
        checks.append({"metric": "occupancy", "value": value, "criterion": ">=",
                       "threshold": min_occupancy, "ok": value >= min_occupancy})
    return checks


# -- plots -----------------------------------------------------------------------


def _plot_stems(args: argparse.Namespace, has_subset: bool) -> list[str]:
    """Output stems in ``--plot-dir``; refuse early if any exists (without --force)."""
    from .._atomic import check_output_path
    from ..exceptions import UsageError

    if args.plot_dir is None:
        return []
    if os.path.exists(args.plot_dir) and not os.path.isdir(args.plot_dir):
        msg = f"--plot-dir '{args.plot_dir}' is a file; give a folder"
        raise UsageError(msg)
    parent = os.path.dirname(os.path.abspath(args.plot_dir))
    if not os.path.isdir(parent):
        msg = f"--plot-dir '{args.plot_dir}': its parent folder '{parent}' does not exist; create it first"
        raise UsageError(msg)
    if args.compare_strategies:
        names = [PLOT_STRATEGIES]
    elif has_subset:
        names = [PLOT_SCAN, PLOT_OCCUPANCY]
    else:
        names = [PLOT_SCAN]
    stems = [os.path.join(args.plot_dir, name) for name in names]
    if os.path.isdir(args.plot_dir):
        for stem in stems:
            for ext in (".png", ".svg"):
                check_output_path(stem + ext, force=args.force, inputs=_inputs(args))
    return stems


def _inputs(args: argparse.Namespace) -> list[str]:
    return [p for p in (args.source, args.subset, args.indices_from) if p is not None]


def _write_plots(
    args: argparse.Namespace, stems: list[str], positions: _Positions, *,
    subset: _Subset | None = None, metrics: Any = None,
    subsets: Any = None, rows: Any = None,
) -> list[str]:
    """Draw and save the figures of this run; return the written paths."""
    if not stems:
        return []
    from .._atomic import check_output_path
    from ..coverage.metrics import occupancy_grid
    from ..coverage.plots import (
        plot_occupancy,
        plot_scan_coverage,
        plot_strategy_comparison,
        save_figure,
    )

    name = os.path.basename(positions.path)
    figures = []
    if rows is not None:
        figures.append(plot_strategy_comparison(positions.x, positions.y, subsets, rows,
                                                units=positions.units))
    elif subset is not None:
        figures.append(plot_scan_coverage(
            positions.x, positions.y, subset.indices, metrics,
            title=f"{os.path.basename(subset.path)} in {name}", units=positions.units,
        ))
        grid = occupancy_grid(positions.x, positions.y, subset.indices, metrics.cell_size)
        figures.append(plot_occupancy(grid, metrics, positions.x[subset.indices],
                                      positions.y[subset.indices], units=positions.units))
    else:
        figures.append(plot_scan_coverage(positions.x, positions.y, None, title=name,
                                          units=positions.units))
    os.makedirs(args.plot_dir, exist_ok=True)
    for stem in stems:
        for ext in (".png", ".svg"):
            check_output_path(stem + ext, force=args.force, inputs=_inputs(args))
    written: list[str] = []
    for fig, stem in zip(figures, stems):
        written.extend(save_figure(fig, stem, force=args.force))
    return written


# -- reports -----------------------------------------------------------------------


def _compare_report(
    args: argparse.Namespace, positions: _Positions, size: int, seed: int,
    rows: Any, plots: list[str],
) -> dict[str, Any]:
    first = rows[0][1]
    return {
        "source": positions.path, "format": positions.format, "units": positions.units,
        "n_positions": int(positions.x.size), "subset_size": size, "seed": seed,
        "cell_size": first.cell_size, "probe_diameter": args.probe_diameter,
        "strategies": {name: m.to_dict() for name, m in rows},
        "plots": plots,
    }


def _subset_report(
    args: argparse.Namespace, positions: _Positions, subset: _Subset, metrics: Any,
    checks: list[dict[str, Any]], ok: bool, plots: list[str],
) -> dict[str, Any]:
    return {
        "source": positions.path, "format": positions.format, "units": positions.units,
        "subset": {"path": subset.path, "indices_from": subset.origin, "sidecar": subset.sidecar,
                   "n_positions": int(subset.indices.size)},
        "metrics": metrics.to_dict(), "checks": checks, "ok": ok, "plots": plots,
    }


def _compare_text(report: dict[str, Any]) -> str:
    strategies = report["strategies"]
    columns = ["strategy", *TABLE_METRICS]
    if report["probe_diameter"] is not None:
        columns.append("overlap_ratio")
    body = [[name, *(number_text(m[c]) for c in columns[1:])] for name, m in strategies.items()]
    lines = [
        (f"{report['source']}: {report['n_positions']} positions; subsets of "
         f"{report['subset_size']}, seed {report['seed']}, occupancy cells "
         f"{report['cell_size']:.4g} {_short(report['units'])}"),
        "",
        *aligned_rows([columns, *body], "lr"),
    ]
    return _with_plots(lines, report["plots"])


def _subset_text(report: dict[str, Any]) -> str:
    subset = report["subset"]
    how = {"sidecar": f"indices from '{subset['sidecar']}'",
           "positions": "indices by exact position match"}[subset["indices_from"]]
    metrics = report["metrics"]
    lines = [
        (f"{subset['path']}: {subset['n_positions']} of {metrics['n_source']} positions of "
         f"{report['source']} ({how}); lengths in {report['units']}"),
        "",
        *aligned_rows([["metric", "value"], *([k, number_text(v)] for k, v in metrics.items())], "lr"),
    ]
    if report["checks"]:
        lines.append("")
        for c in report["checks"]:
            verdict = "PASS" if c["ok"] else "FAIL"
            lines.append(f"{verdict}  {c['metric']} {number_text(c['value'])} "
                         f"(must be {c['criterion']} {c['threshold']:g})")
    return _with_plots(lines, report["plots"])


def _scan_text(report: dict[str, Any]) -> str:
    scan = report["scan"]
    lines = [f"{report['source']}: scan positions in {report['units']} (no subset given)", "",
             *aligned_rows([["statistic", "value"], *([k, number_text(v)] for k, v in scan.items())], "lr")]
    return _with_plots(lines, report["plots"])


def _with_plots(lines: list[str], plots: list[str]) -> str:
    if plots:
        lines += ["", *(f"wrote {p}" for p in plots)]
    return "\n".join(lines)


def _short(units: str) -> str:
    return "px" if units == "object pixels" else units
