"""``ptyevidence gap``: the computed gap matrix between two pipeline contracts."""

from __future__ import annotations

import argparse
import sys

from ._common import add_force, call_with_args

FORMATS = ("markdown", "csv", "json")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gap`` subcommand."""
    p = sub.add_parser(
        "gap",
        help="compare two pipeline contracts role by role (optionally with tensor dumps)",
        description="Align two pipeline contracts by role and classify every difference "
        "(same, rename, axis-order, rank/shape, dtype, semantics, missing-left, missing-right). "
        "With --left-dump/--right-dump, bind tensor dumps of both pipelines to their contracts "
        "and compare the values of each shared role. Exit 0: matrix written; 1: a dump breaks "
        "its contract; 2: unusable input.",
    )
    p.add_argument(
        "--left", default=None, metavar="NAME|PATH", help="left pipeline contract (default: ptychopinn-tf-grouped)"
    )
    p.add_argument(
        "--right", default=None, metavar="NAME|PATH", help="right pipeline contract (default: ptychopinn-torch-mmap)"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the --output suffix .md/.csv/.json, else markdown)",
    )
    p.add_argument(
        "--output",
        metavar="FILE",
        help="write to FILE (atomically) instead of standard output, e.g. torch_gap_matrix.md",
    )
    add_force(p)
    p.add_argument("--left-dump", metavar="A.npz", help="tensor dump of the left pipeline (plain np.savez dict)")
    p.add_argument("--right-dump", metavar="B.npz", help="tensor dump of the right pipeline (plain np.savez dict)")
    p.add_argument(
        "--rtol", type=float, default=None, help="relative tolerance of the value comparison (default: 1e-05)"
    )
    p.add_argument(
        "--atol", type=float, default=None, help="absolute tolerance of the value comparison (default: 1e-08)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    from .._atomic import atomic_output, check_output_path
    from ..exceptions import UsageError
    from ..gap import DEFAULT_LEFT, DEFAULT_RIGHT, build_gap_matrix, compare_dumps

    if (args.left_dump is None) != (args.right_dump is None):
        msg = "--left-dump and --right-dump go together; pass both dumps or neither"
        raise UsageError(msg)
    if args.left_dump is None and (args.rtol is not None or args.atol is not None):
        msg = "--rtol/--atol apply to dump comparison; pass --left-dump and --right-dump too"
        raise UsageError(msg)
    fmt = args.format or _format_from_suffix(args.output)
    inputs = [p for p in (args.left_dump, args.right_dump, args.left, args.right) if p]
    if args.output:
        check_output_path(args.output, force=args.force, inputs=inputs)
    matrix = build_gap_matrix(args.left or DEFAULT_LEFT, args.right or DEFAULT_RIGHT)
    ok = True
    if args.left_dump is not None:
        report = call_with_args(compare_dumps, args, matrix, args.left_dump, args.right_dump)
        matrix = matrix.with_parity(report)
        ok = report.ok
    text = matrix.render(fmt)
    if args.output:
        with atomic_output(args.output, "w", force=args.force, inputs=inputs) as fh:
            fh.write(text)
        print(f"wrote {os.fspath(args.output)}: {len(matrix.rows)} roles, {matrix.left.name} vs {matrix.right.name}")
    else:
        sys.stdout.write(text)
    if not ok:
        print("ptyevidence: a dump breaks its contract; see the parity findings", file=sys.stderr)
    return 0 if ok else 1


def _format_from_suffix(output: str | None) -> str:
    lowered = (output or "").lower()
    return next((fmt for fmt in ("csv", "json") if lowered.endswith(f".{fmt}")), "markdown")
