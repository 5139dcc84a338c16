"""``ptyevidence convert IN.cxi OUT.npz``: beamline CXI (HDF5) to a DATA-001 NPZ."""

from __future__ import annotations

import argparse

from ._common import add_force, add_reader, call_with_args, real_number


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand."""
    p = sub.add_parser(
        "convert",
        help="convert a CXI (HDF5) file of photon counts to a DATA-001 NPZ",
        description="Convert a CXI (HDF5) ptychography file to a DATA-001 NPZ: diffraction = "
        "sqrt(counts) * scale (scale = 1/sqrt(max count), bad pixels of the detector mask set "
        "to 0), positions in object pixels (far-field: pixel = wavelength * distance / (frame "
        "size * detector pixel size)), probeGuess from --probe or the file, objectGuess a "
        "placeholder from --object-shape. Other files of photon counts with positions in object "
        "pixels (ptychodus product, training and PtychoPINN-export files, a diffraction file "
        "with --positions-from, any file --reader reads) are converted with the same formula, "
        "their probe and object taken from the file. Every step is recorded in the '_metadata' "
        "member. Exit 0: written; 2: unusable input or missing information.",
    )
    p.add_argument("input", metavar="IN.cxi", help="CXI / HDF5 file (or any file a reader reads)")
    p.add_argument("output", metavar="OUT.npz", help="NPZ to write")
    p.add_argument(
        "--geometry",
        choices=("far-field", "near-field"),
        default="far-field",
        help="propagation geometry; near-field needs --sample-pixel-size (default: far-field)",
    )
    p.add_argument(
        "--sample-pixel-size",
        metavar="METRES",
        type=real_number("sample pixel size in metres"),
        help="sample-plane pixel size in metres; overrides the far-field formula",
    )
    p.add_argument(
        "--probe",
        metavar="PROBE.npy",
        help="complex (H, W) probe as .npy (default: a probe stored in the file)",
    )
    p.add_argument(
        "--object-shape",
        metavar="M1xM2",
        help="write a placeholder objectGuess of ones with this shape (rows x columns)",
    )
    add_reader(p)
    add_force(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..writers.convert import convert_cxi, parse_object_shape

    object_shape = parse_object_shape(args.object_shape) if args.object_shape else None
    if args.reader is None and args.positions_from is None and _native_cxi(args.input):
        convert = convert_cxi
    else:
        from ..writers.convert_source import convert_source as convert
    record = call_with_args(convert, args, args.input, args.output, object_shape=object_shape)
    diffraction, positions, _, probe, obj = record["steps"]
    n, h, w = diffraction["shape"]
    print(f"wrote {args.output}: {n} frames of {h}x{w}")
    print(
        f"  diffraction: {diffraction['formula']}, scale = 1/sqrt({diffraction['max_count']:.9g}) "
        f"= {diffraction['scale']:.6g}; {diffraction['bad_pixels']} bad pixels set to 0; "
        f"{diffraction['negative_counts_clipped']} negative and "
        f"{diffraction['nonfinite_counts_zeroed']} non-finite counts set to 0"
    )
    if "dx_m" in positions:
        print(
            f"  positions: object pixels, dx = {positions['dx_m']:.6g} m, dy = {positions['dy_m']:.6g} m "
            f"({record['geometry']['sample_pixel_size_rule']}), offset "
            f"({positions['offset_px'][0]:.6g}, {positions['offset_px'][1]:.6g}) px"
        )
    else:
        print(f"  positions: object pixels, {positions['rule']}")
    print(f"  probeGuess: {probe['origin']}")
    print(f"  objectGuess: {obj['origin']}, shape {obj['shape'][0]}x{obj['shape'][1]}")
    print("  every step is recorded in the '_metadata' member (JSON text)")
    return 0


def _native_cxi(path: str) -> bool:
    """Return True when the built-in CXI reader reads ``path`` whole (frames and positions)."""
    from ..readers.registry import open_source

    with open_source(path) as source:
        return source.format == "cxi"
