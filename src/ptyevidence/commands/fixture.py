"""``ptyevidence fixture make|verify|regenerate``: cut a regression fixture, check one, re-cut one."""

from __future__ import annotations

import argparse
import sys

from ._common import (
    HASH_MODES,
    add_force,
    add_geometry,
    add_json,
    add_layout,
    add_reader,
    add_subset,
    add_thresholds,
    call_with_args,
    emit_json,
    print_report,
)

#: Kept here (not imported) so that building the parser stays light.
_FORMATS = ("data001", "slac-npz", "ptychodus-product")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fixture`` subcommand group."""
    p = sub.add_parser(
        "fixture",
        help="make or verify a regression fixture",
        description="Cut a small, contract-compliant regression fixture out of a large "
        "scan (fixture make), or check a fixture against its sidecar (fixture verify).",
    )
    inner = p.add_subparsers(dest="fixture_command", metavar="ACTION", required=True)
    make = inner.add_parser(
        "make",
        help="cut a fixture NPZ with its JSON sidecar and Markdown notes",
        description="Select SUBSET_SIZE scan positions, gather every per-scan array at the "
        "same indices, and write a canonical, byte-for-byte reproducible NPZ plus a JSON "
        "sidecar and Markdown notes (missing folders are made). The fixture carries both "
        "diffraction and its legacy copy diff3d, so PtychoPINN's TF and PyTorch loaders both read "
        "it. Its verdict is its validation against the contract it carries (data001: what "
        "'ptyevidence validate' says) and against fixture-acceptance. Exit 0: written, verdict "
        "PASS; 1: the fixture would break its source's contract (nothing written), or was "
        "written with the verdict FAIL (the notes say why); 2: unusable input or usage error.",
    )
    make.add_argument("--source", required=True, metavar="S", help="dataset to cut from")
    make.add_argument("--output", required=True, metavar="O", help="fixture NPZ to write")
    add_subset(
        make,
        "number of positions, 16 to the source's N (default: 64)",
        "stratified-index: evenly spaced in acquisition order, int(i*N/n); "
        "grid: one position per occupied cell of a ~n-cell grid; farthest-point: "
        "greedy max-min distance from a seeded start (default: stratified-index)",
    )
    make.add_argument("--metadata-out", metavar="M", help="JSON sidecar (default: O with .json)")
    make.add_argument("--notes-out", metavar="PATH", help="Markdown notes (default: O with .md)")
    alias = make.add_mutually_exclusive_group()
    alias.add_argument(
        "--legacy-alias",
        dest="legacy_alias",
        action="store_const",
        const=True,
        help="write the frames also under the legacy key, the stack's first alias in "
        "the contract (diff3d in data001); the default for data001 fixtures, kept so "
        "older command lines work",
    )
    alias.add_argument(
        "--no-legacy-alias",
        dest="legacy_alias",
        action="store_const",
        const=False,
        help="leave the legacy copy diff3d out (PtychoPINN's TF RawData.from_file then cannot read the fixture)",
    )
    make.add_argument(
        "--compress",
        action="store_true",
        help="deflate the NPZ members (smaller; reproducible for one zlib build, "
        "whose version the sidecar records; readers cannot memory-map them)",
    )
    hashing = make.add_mutually_exclusive_group()
    hashing.add_argument(
        "--source-hash",
        choices=HASH_MODES,
        default="auto",
        help="record the source's SHA-256: full = one full read of the source, "
        "which also checks its zip CRCs; none = record null; auto = full for "
        "sources up to 1 GiB, none above (default: auto). A cheap fingerprint "
        "(zip directory or first/last MiB) is recorded in every mode",
    )
    hashing.add_argument(
        "--no-source-hash", dest="source_hash", action="store_const", const="none", help="same as --source-hash none"
    )
    add_layout(make)
    add_reader(make)
    add_geometry(make)
    make.add_argument(
        "--format",
        choices=_FORMATS,
        default="data001",
        help="fixture file: data001 (NPZ), slac-npz (the SLAC NPZ ptychodus's SLAC_NPZ "
        "reader reads: frames (H, W, N)), ptychodus-product (a ptychodus product HDF5 "
        "file carrying its frames); the last two record the geometry used "
        "(default: data001)",
    )
    make.add_argument(
        "--contract",
        metavar="NAME|PATH",
        help="built-in contract name or contract JSON file whose fields the fixture "
        "carries (per-scan fields gathered, the others copied whole) and which it is "
        "validated against (default: data001's fields, validated against the file "
        "format's default contract, data001 for NPZ or raw for CXI)",
    )
    add_force(make)
    add_json(make)
    make.set_defaults(func=_make)

    verify = inner.add_parser(
        "verify",
        help="check a fixture against its sidecar (and its source)",
        description="Recompute the file hash and per-key content digests, re-validate the "
        "contract, check subset size, indices and coverage thresholds; with --source, "
        "re-read the source rows at the recorded indices and compare. Exit 0: all checks "
        "pass; 1: mismatch (each listed); 2: unusable input.",
    )
    verify.add_argument("fixture", metavar="O", help="fixture NPZ")
    verify.add_argument("--metadata", metavar="M", help="JSON sidecar (default: O with .json)")
    verify.add_argument("--source", metavar="S", help="dataset the fixture was cut from")
    add_thresholds(
        verify,
        "x and y range coverage must exceed R (default: the thresholds of the "
        "fixture-acceptance contract's coverage rules, 0.5)",
        "occupancy must be at least R (default: not checked)",
    )
    add_json(verify)
    verify.set_defaults(func=_verify)

    regen = inner.add_parser(
        "regenerate",
        help="re-cut a fixture from its sidecar's recorded parameters",
        description="Re-cut a fixture from the source, subset size, strategy, seed, layout and "
        "legacy alias its sidecar records, and say whether the result reproduces the recorded "
        "file hash and content digests (and which keys differ if not). Without --output the "
        "re-cut goes to a temporary folder and nothing is kept. Exit 0: reproduced; 1: "
        "different; 2: unusable input.",
    )
    regen.add_argument("sidecar", metavar="SIDECAR", help="the fixture's JSON sidecar")
    regen.add_argument("--source", metavar="S", help="dataset to cut from (default: the recorded source_dataset)")
    regen.add_argument("--output", metavar="O", help="write the re-cut fixture here (its sidecar and notes beside it)")
    regen.add_argument("--metadata-out", metavar="M", help="JSON sidecar (default: O with .json)")
    regen.add_argument("--notes-out", metavar="PATH", help="Markdown notes (default: O with .md)")
    add_force(regen)
    add_json(regen)
    regen.set_defaults(func=_regenerate)


def _make(args: argparse.Namespace) -> int:
    from ..fixture.make import make_fixture

    result = call_with_args(make_fixture, args)
    if args.json:
        emit_json(result.sidecar)
    else:
        print(result.to_text())
    if result.ok:
        return 0
    contract = result.sidecar["contract"]
    print(
        f"ptyevidence: {result.path} was written, but it fails contract {contract['name']} "
        f"({contract['errors']} error(s)); see {result.notes_path}",
        file=sys.stderr,
    )
    return 1


def _verify(args: argparse.Namespace) -> int:
    from ..fixture.make import verify_fixture

    report = call_with_args(verify_fixture, args)
    return print_report(report, args.json, ok=report.ok)


def _regenerate(args: argparse.Namespace) -> int:
    from ..exceptions import UsageError
    from ..fixture.regenerate import regenerate_fixture

    if args.output is None and (args.metadata_out or args.notes_out or args.force):
        msg = "--metadata-out, --notes-out and --force need --output (without it nothing is written)"
        raise UsageError(msg)
    report = call_with_args(regenerate_fixture, args)
    return print_report(report, args.json, ok=report.reproduced)
