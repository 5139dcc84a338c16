"""``ptyevidence demo-data OUT.npz``: write the embedded, simulated demo scan."""

from __future__ import annotations

import argparse

from ._common import add_force, call_with_args, real_number, seed_type, whole_number

#: Kept here (not imported) so that building the parser stays light.
_LAYOUTS = ("canonical", "legacy")
_NOISE_MODELS = ("poisson", "none")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo-data`` subcommand."""
    p = sub.add_parser(
        "demo-data",
        help="write the simulated demo dataset (DATA-001 NPZ)",
        description="Simulate a far-field ptychography scan in the reference geometry "
        "(64x64 frames, 1,087 positions over object pixels ~34 to 79, a 227x226 complex "
        "object, an apodized probe with phase curvature; frames are |FFT2(probe . patch)| "
        "normalized to a maximum of 1, with seeded Poisson noise) and write it as an "
        "uncompressed NPZ. Equal arguments give byte-identical files. Exit 0: written; "
        "2: usage error or the file exists (without --force).",
    )
    p.add_argument("output", metavar="OUT.npz", help="NPZ file to write")
    p.add_argument(
        "--positions",
        type=whole_number(2, "positions"),
        default=1087,
        metavar="N",
        help="number of scan positions, at least 2 (default: 1087)",
    )
    p.add_argument(
        "--seed",
        type=seed_type,
        default=0,
        metavar="N",
        help="seed of the object texture, position jitter and noise (default: 0)",
    )
    p.add_argument(
        "--layout",
        choices=_LAYOUTS,
        default="canonical",
        help="canonical: diffraction (N,H,W) float32; legacy: (H,W,N) float64 "
        "like old PtychoPINN files, to exercise conversion (default: canonical)",
    )
    p.add_argument(
        "--noise",
        choices=_NOISE_MODELS,
        default="poisson",
        help="Poisson counting noise or exact amplitudes (default: poisson)",
    )
    p.add_argument(
        "--photons",
        type=real_number("photons"),
        default=1e6,
        metavar="P",
        help="expected photons per frame with Poisson noise (default: 1e6)",
    )
    add_force(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..demo import make_demo_data
    from ..fixture.sidecar import file_sha256

    path = call_with_args(make_demo_data, args, n_positions=args.positions)
    stack = "(N, H, W) float32" if args.layout == "canonical" else "(H, W, N) float64"
    noise = f"Poisson, {args.photons:g} photons/frame" if args.noise == "poisson" else "no noise"
    print(f"wrote {path}: {args.positions} positions, 64x64 frames, {args.layout} {stack}, {noise}, seed {args.seed}")
    print(f"  sha256  {file_sha256(path)}")
    return 0
