"""Measure the round trips between ptyevidence and ptychodus reported in docs/formats.md.

Both directions, with the installed ptychodus (``make install`` adds it):

1. ptyevidence writes a fixture in each format (a 64-position cut of the demo
   dataset, 64 x 64 frames: N == H == W), ptychodus's own readers read it
   back, and each part is compared with the fixture's rows;
2. ptychodus's own writers write a small simulated scan, and ptyevidence
   validates, converts and cuts each file.

Usage: ``PYTHONPATH=src python benchmarks/ptychodus_roundtrip.py`` (prints Markdown tables).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import ptychodus_files as pf
import ptyevidence
from ptyevidence.contract.validate import validate_dataset
from ptyevidence.demo import make_demo_data
from ptyevidence.exceptions import PtyEvidenceError
from ptyevidence.fixture import make_fixture
from ptyevidence.readers import open_source
from ptyevidence.readers.cxi import ELECTRON_VOLT_J, photon_wavelength
from ptyevidence.readers.registry import default_contract_for
from ptyevidence.writers.convert_source import convert_source

#: The reader ptychodus reads each fixture format with: (frames plugin, product plugin).
READERS = {
    "data001": ("SLAC_NPZ", "SLAC_NPZ"),
    "slac-npz": ("SLAC_NPZ", "SLAC_NPZ"),
    "ptychodus-product": ("CXI", "HDF5"),
}


def same(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"no: shape {a.shape} vs {b.shape}"
    if np.array_equal(a, b):
        return "equal"
    rows = int(np.count_nonzero(~(a == b).reshape(a.shape[0], -1).all(axis=1)))
    return f"**no**: {rows} of {a.shape[0]} rows differ"


def close(a: np.ndarray, b: np.ndarray) -> str:
    worst = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(b)))
    return "equal" if worst == 0 else f"max diff {worst:.2g} m ({worst / scale:.1g} relative)"


def ptychodus_reads_ours(folder: Path) -> list[str]:
    demo = folder / "demo.npz"
    make_demo_data(demo)
    lines = [
        (
            "| written by ptyevidence as | read by ptychodus 1.7.0 with | frames (row by row) | positions "
            "(ptychodus's metres) | probe | object |"
        ),
        "|---|---|---|---|---|---|",
    ]
    with np.load(demo) as src:
        arrays = {k: src[k] for k in ("diffraction", "xcoords", "ycoords", "probeGuess", "objectGuess")}
    for fmt, (frames_plugin, product_plugin) in READERS.items():
        out = folder / f"fixture-{fmt}{'.h5' if fmt == 'ptychodus-product' else '.npz'}"
        made = make_fixture(demo, out, subset_size=64, format=fmt)
        rows = {k: (v[made.indices] if v.ndim == 1 or k == "diffraction" else v) for k, v in arrays.items()}
        frames = pf.read_frames(frames_plugin, out)
        product = pf.read_product(product_plugin, out)
        geo = made.sidecar.get("geometry")
        if fmt == "ptychodus-product":
            width = rows["objectGuess"].shape[1]
            want = (rows["xcoords"] - (width - 1) / 2) * geo["object_pixel_width_m"] + geo["object_center_x_m"]
        else:
            # SLAC NPZ: object pixels times lambda z / (W p), with its scalars (or its defaults).
            with np.load(out) as f:
                energy = float(f["photon_energy_eV"]) if "photon_energy_eV" in f else 8000.0
                distance = float(f["detector_distance_m"]) if "detector_distance_m" in f else 0.75
                pixel = float(f["detector_pixel_size_m"]) if "detector_pixel_size_m" in f else 75e-6
                start = f["xcoords_start"]
            dx = photon_wavelength(energy * ELECTRON_VOLT_J) * distance / (64 * pixel)
            want = start * dx if fmt == "data001" else rows["xcoords"] * dx
        positions = close(product.probe_positions.get_coordinates_x_m(), want)
        probe = same(product.probes.get_array()[0, 0], rows["probeGuess"])
        obj = same(product.object_.get_array()[0], rows["objectGuess"])
        plugins = frames_plugin if frames_plugin == product_plugin else f"{frames_plugin} + {product_plugin}"
        lines.append(f"| `{fmt}` | `{plugins}` | {same(frames, rows['diffraction'])} | {positions} | {probe} | {obj} |")
    return lines


def ours_reads_ptychodus(folder: Path) -> list[str]:
    truth = pf.scene()
    files = pf.write_files(folder, truth)
    cases = [
        ("product.h5", {}),
        ("product_opr.h5", {}),
        ("product.cxi", {}),
        ("product.npz", {}),
        ("product.npz", {"reader": "ptychodus"}),
        ("diffraction.cxi", {}),
        ("diffraction.cxi", {"positions_from": files["product.h5"]}),
        ("diffraction.cxi", {"positions_from": files["product.cxi"]}),
        ("training_data.h5", {}),
        ("ptychopinn_training.npz", {"contract": "ptychodus-ptychopinn"}),
    ]
    lines = [
        ("| written by ptychodus 1.7.0 | ptyevidence reads it as | validate | convert | fixture make (16 rows) |"),
        "|---|---|---|---|---|",
    ]
    for name, options in cases:
        path = files[name]
        reading = {k: v for k, v in options.items() if k != "contract"}
        flags = [f"--reader {v}" if k == "reader" else f"--positions-from {Path(v).name}" for k, v in reading.items()]
        flags += [f"--contract {options['contract']}"] if "contract" in options else []
        label = f"`{name}`" + "".join(f" `{flag}`" for flag in flags)
        try:
            with open_source(path, **reading) as src:
                fmt, frames = src.format, "diffraction" in src or "diff3d" in src
            contract = options.get("contract") or default_contract_for(path, **reading)
            report = validate_dataset(path, contract, **reading)
            verdict = f"{'PASS' if report.ok else 'FAIL'} `{contract}`, {len(report.warnings)} warning(s)"
        except PtyEvidenceError as exc:
            text = str(exc).replace(f"{path.parent}/", "")
            lines.append(f"| {label} | refused | exit {exc.exit_code}: {text[:110]}... | | |")
            continue
        if not frames:
            lines.append(f"| {label} | `{fmt}` | {verdict} | no frames (a product) | no frames |")
            continue
        try:
            record = convert_source(path, folder / f"converted-{len(lines)}.npz", **reading)
            converted = f"ok, scale 1/sqrt({record['steps'][0]['max_count']:.0f})"
        except PtyEvidenceError as exc:
            converted = f"exit {exc.exit_code}: {str(exc)[:60]}..."
        try:
            made = make_fixture(
                path, folder / f"fixture-{len(lines)}.npz", subset_size=16, contract=options.get("contract"), **reading
            )
            with np.load(made.path) as fx:
                x_ok = np.allclose(fx["xcoords"], truth["x_px"][made.indices], rtol=0, atol=1e-6)
            cut = (
                f"{made.sidecar['contract']['verdict']} `{made.sidecar['contract']['name']}`; "
                f"positions {'match' if x_ok else '**differ**'}"
            )
        except PtyEvidenceError as exc:
            cut = f"exit {exc.exit_code}: {str(exc)[:60]}..."
        lines.append(f"| {label} | `{fmt}` | {verdict} | {converted} | {cut} |")
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "ours").mkdir()
        (folder / "theirs").mkdir()
        print(f"ptyevidence {ptyevidence.__version__}, ptychodus {__import__('ptychodus').__version__}\n")
        print("\n".join(ptychodus_reads_ours(folder / "ours")))
        print()
        print("\n".join(ours_reads_ptychodus(folder / "theirs")))


if __name__ == "__main__":
    main()
