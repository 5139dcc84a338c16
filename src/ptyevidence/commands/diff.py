"""``ptyevidence diff A B``: compare two datasets or fixtures key by key."""

from __future__ import annotations

import argparse

from ._common import add_json, call_with_args, print_report, real_number

_tolerance = real_number("tolerance", 0.0, low_open=False)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``diff`` subcommand."""
    p = sub.add_parser(
        "diff",
        help="compare two datasets or fixtures key by key",
        description="Compare two datasets or fixtures (NPZ, CXI, any readable file), streaming "
        "both: keys added and removed, shape, dtype and layout changes, per-key content "
        "digests, for arrays of one shape the differing values and rows with the largest "
        "absolute and relative difference, moved scan positions, changed metadata. Storage "
        "alone (member order, byte order, C/Fortran order, compression) is a note. "
        "Exit 0: same; 1: different; 2: unusable input.",
    )
    p.add_argument("a", metavar="A", help="first file (the reference)")
    p.add_argument("b", metavar="B", help="second file")
    p.add_argument(
        "--rtol",
        type=_tolerance,
        default=0.0,
        metavar="R",
        help="relative tolerance: values differ when |b - a| > atol + R * max(|a|, |b|) (default: 0)",
    )
    p.add_argument(
        "--atol",
        type=_tolerance,
        default=0.0,
        metavar="A",
        help="absolute tolerance (default: 0; with --rtol 0, values must be equal)",
    )
    add_json(p)
    p.set_defaults(func=_diff)


def _diff(args: argparse.Namespace) -> int:
    from ..diff.datasets import diff_datasets

    result = call_with_args(diff_datasets, args)
    return print_report(result, args.json, ok=result.same)
