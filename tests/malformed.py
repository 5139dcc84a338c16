"""A corpus of malformed (and borderline-valid) inputs for every command.

Each case is built into its own folder by :func:`build_case` (or all of them
by :func:`build_corpus`) and described by a :class:`Case` record: the command
line, the exit code and message expected, the inputs that must stay
byte-for-byte unchanged, and the outputs that must not exist afterwards.

Exit codes follow the command line's rule: 2 when an input cannot be used
(unreadable, malformed, usage error), 1 when the file was read and breaks
its contract (or a fixture does not match its record), 0 when the input is
legal. Damaged NPZ files come from :mod:`npz_damage`, CXI files from
:mod:`cxi_files`, tensor dumps from :mod:`_gap_dumps`.

Every command runs through :func:`run_case`, which loads the package with
``pickle.load``/``pickle.loads``/``pickle.Unpickler`` replaced by a function
that ends the process with :data:`PICKLE_EXIT`: a command that unpickles
anything cannot pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import cxi_files
import fuzzing
import npz_damage
from _gap_dumps import tf_grouped_dump, torch_mmap_dump
from conftest import dataset_arrays

#: Exit status of a process that tried to unpickle something.
PICKLE_EXIT = 97
#: Replaces every pickle entry point with one that ends the process.
PICKLE_GUARD = f"""
import os, pickle, sys

def _refuse(*args, **kwargs):
    sys.stderr.write("PICKLE LOAD ATTEMPTED\\n")
    sys.stderr.flush()
    os._exit({PICKLE_EXIT})

class _RefusingUnpickler(pickle.Unpickler):
    def __init__(self, *args, **kwargs):
        _refuse()

pickle.load = pickle.loads = _refuse
pickle.Unpickler = _RefusingUnpickler
import _pickle
_pickle.load = _pickle.loads = _refuse
_pickle.Unpickler = _RefusingUnpickler
"""
#: Runs the command line (arguments after ``-c CODE``) under the guard.
GUARDED_CLI = (
    PICKLE_GUARD
    + """
sys.argv = ["ptyevidence", *sys.argv[1:]]
from ptyevidence.cli import run
run()
"""
)

#: Positions of the tiny scans: enough for a 16-position fixture.
N_SCAN = 20
#: Frame side of the tiny scans.
SIDE = 8
#: Subset size used by every ``fixture make`` case (the smallest allowed).
SUBSET = "16"


@dataclass
class Case:
    """One command run against one input, and what must come of it.

    Attributes
    ----------
    name : str
        Readable id, ``<command>-<defect>``.
    argv : list of str
        Arguments after ``ptyevidence``.
    exit_code : int
        Expected exit status.
    message : str
        Substring expected in ``stream``.
    stream : {"stderr", "stdout"}
        Where the message goes: errors are one line on stderr; reports
        (validation tables, verify checks) go to stdout.
    inputs : list of str
        Files that must keep their bytes and mtime.
    absent : list of str
        Outputs that must not exist afterwards (nor temporary files beside them).
    check : callable or None
        ``check(case, proc)`` for legal inputs: asserts the values were read right.
    data : dict
        What went into the input (arrays), for ``check``.
    code : str
        The Python program run (default: the command line under the pickle guard;
        fault cases prepend the fault).
    """

    name: str
    argv: list[str]
    exit_code: int
    message: str
    stream: str = "stderr"
    inputs: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    check: Callable[[Case, subprocess.CompletedProcess], None] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    code: str = GUARDED_CLI


def run_case(case: Case, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``ptyevidence ARGV`` under the pickle guard (and the case's fault) and return the result."""
    return run_guarded(case.argv, code=case.code, timeout=timeout)


def run_guarded(argv: list[str], code: str = GUARDED_CLI, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -c code ARGV`` (default code: the command line under the pickle guard)."""
    env = dict(os.environ)
    env.pop("PTYEVIDENCE_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


# -- datasets ------------------------------------------------------------------------------


def _arrays(n: int = N_SCAN, h: int = SIDE, w: int = SIDE) -> dict[str, np.ndarray]:
    return dataset_arrays(n=n, h=h, w=w, object_shape=(32, 32))


def _save(folder: str, arrays: dict[str, np.ndarray], name: str = "source.npz") -> str:
    path = os.path.join(folder, name)
    np.savez(path, **arrays)
    return path


def _with(**changes: Any) -> Callable[[str], tuple[str, dict]]:
    """Builder of a scan with some arrays replaced (None removes the key)."""

    def build(folder: str) -> tuple[str, dict]:
        arrays = _arrays()
        for key, value in changes.items():
            if value is None:
                arrays.pop(key)
            else:
                arrays[key] = value(arrays) if callable(value) else value
        return _save(folder, arrays), arrays

    return build


def _damaged(builder: Callable[[str], str]) -> Callable[[str], tuple[str, dict]]:
    return lambda folder: (builder(folder), {})


def _scan(n: int, h: int = SIDE, w: int = SIDE) -> Callable[[str], tuple[str, dict]]:
    def build(folder: str) -> tuple[str, dict]:
        arrays = _arrays(n, h, w)
        return _save(folder, arrays), arrays

    return build


def _nan_inf(a: dict) -> np.ndarray:
    d = a["diffraction"].copy()
    d[0, 1, 1] = np.nan  # row 0 is in every subset
    d[10, 2, 2] = np.inf
    return d


def _positions_identical(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start"):
        arrays[key] = np.full(N_SCAN, 12.0)
    return _save(folder, arrays), arrays


def _positions_duplicated(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    for key in ("xcoords", "ycoords"):
        arrays[key][[3, 7]] = arrays[key][0]
    return _save(folder, arrays), arrays


def _coords_short(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index"):
        arrays[key] = arrays[key][:-3]
    return _save(folder, arrays), arrays


def _coords_nan(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    arrays["xcoords"][5] = np.nan
    arrays["ycoords"][5] = np.nan
    return _save(folder, arrays), arrays


def _big_endian(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    stored = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()}
    return _save(folder, stored), arrays


def _fortran_order(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    stored = {k: np.asfortranarray(v) for k, v in arrays.items()}
    assert np.isfortran(stored["diffraction"])
    return _save(folder, stored), arrays


def _legacy_layout(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    stored = dict(arrays, diffraction=np.ascontiguousarray(np.moveaxis(arrays["diffraction"], 0, -1)))
    return _save(folder, stored), arrays


def _legacy_ambiguous(folder: str) -> tuple[str, dict]:
    # N == H == W == 16: (N, H, W) and (H, W, N) both fit.
    arrays = _arrays(16, 16, 16)
    stored = dict(arrays, diffraction=np.ascontiguousarray(np.moveaxis(arrays["diffraction"], 0, -1)))
    return _save(folder, stored), arrays


def _object_metadata(folder: str) -> tuple[str, dict]:
    # What PtychoPINN's own writer stores (ptycho/metadata.py:112-114): JSON text in a
    # pickled 0-d object array. Read by the restricted unpickler, never by pickle.
    arrays = _arrays()
    stored = dict(arrays, _metadata=np.array(json.dumps({"source": "beamline"}), dtype=object))
    return _save(folder, stored), arrays


def _object_metadata_dict(folder: str) -> tuple[str, dict]:
    # A pickled dict: plain data, but not the JSON text PtychoPINN's reader parses.
    arrays = _arrays()
    stored = dict(arrays, _metadata=np.array({"source": "beamline"}, dtype=object))
    return _save(folder, stored), arrays


def _foreign_member(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    path = _save(folder, arrays)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("README.txt", "scan notes, not an array")
    return path, arrays


def _compressed(folder: str) -> tuple[str, dict]:
    arrays = _arrays()
    path = os.path.join(folder, "source.npz")
    np.savez_compressed(path, **arrays)
    return path, arrays


def _bad_crc_compressed(folder: str) -> tuple[str, dict]:
    """A deflated NPZ with one byte flipped in the middle of the diffraction stream."""
    path, arrays = _compressed(folder)
    with zipfile.ZipFile(path) as zf:
        member = zf.getinfo("diffraction.npy")
    blob = bytearray(Path(path).read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", blob, member.header_offset + 26)
    start = member.header_offset + 30 + name_len + extra_len
    blob[start + member.compress_size // 2] ^= 0x10
    Path(path).write_bytes(bytes(blob))
    return path, arrays


def _counts(a: dict) -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.poisson(40.0, a["diffraction"].shape).astype(np.uint16)


def _structured(a: dict) -> np.ndarray:
    d = a["diffraction"]
    out = np.zeros(d.shape, dtype=[("amplitude", "f4"), ("phase", "f4")])
    out["amplitude"] = d
    return out


#: name -> builder(folder) -> (path, arrays as meant to be read)
DATASETS: dict[str, Callable[[str], tuple[str, dict]]] = {
    "not-a-zip": _damaged(npz_damage.not_a_zip),
    "empty-file": _damaged(npz_damage.empty_file),
    "truncated-zip": _damaged(npz_damage.truncated_zip),
    "bad-crc": _damaged(npz_damage.bad_crc),
    "bad-crc-compressed": _bad_crc_compressed,
    "member-not-npy": _damaged(npz_damage.not_npy_member),
    "header-lies-about-shape": _damaged(npz_damage.header_overstates_shape),
    "foreign-member": _foreign_member,
    "object-diffraction": _with(diffraction=lambda a: a["diffraction"].astype(object)),
    "object-metadata": _object_metadata,
    "object-metadata-dict": _object_metadata_dict,
    "structured-diffraction": _with(diffraction=_structured),
    "zero-positions": _scan(0),
    "one-position": _scan(1),
    "1d-diffraction": _with(diffraction=lambda a: a["diffraction"].reshape(-1)),
    "2d-diffraction": _with(diffraction=lambda a: a["diffraction"].reshape(N_SCAN, -1)),
    "4d-diffraction": _with(diffraction=lambda a: a["diffraction"][..., None]),
    "non-square-frames": _scan(N_SCAN, SIDE, SIDE - 2),
    "nan-inf-diffraction": _with(diffraction=_nan_inf),
    "negative-amplitudes": _with(diffraction=lambda a: a["diffraction"] - 0.5),
    "intensity-as-amplitude": _with(diffraction=lambda a: (a["diffraction"] * 300) ** 2),
    "integer-diffraction": _with(diffraction=_counts),
    "complex-diffraction": _with(diffraction=lambda a: a["diffraction"].astype(np.complex64)),
    "coords-length-mismatch": _coords_short,
    "coords-nan": _coords_nan,
    "positions-identical": _positions_identical,
    "positions-duplicated": _positions_duplicated,
    "xy-length-mismatch": _with(ycoords=lambda a: a["ycoords"][:-3]),
    "missing-xcoords": _with(xcoords=None),
    "object-xcoords": _with(xcoords=lambda a: a["xcoords"].astype(object)),
    "missing-probe": _with(probeGuess=None),
    "probe-shape-mismatch": _with(probeGuess=np.ones((2 * SIDE, 2 * SIDE), np.complex64)),
    "compressed": _compressed,
    "big-endian": _big_endian,
    "fortran-order": _fortran_order,
    "legacy-layout": _legacy_layout,
    "legacy-n-equals-h": _legacy_ambiguous,
}


# -- checks of legal inputs ------------------------------------------------------------------


def check_validate_stats(case: Case, proc: subprocess.CompletedProcess) -> None:
    """The JSON report's statistics equal those of the arrays that were meant."""
    report = json.loads(proc.stdout)
    arrays = case.data
    assert report["dims"]["N"] == arrays["diffraction"].shape[0]
    for key in ("diffraction", "xcoords", "ycoords", "scan_index"):
        values = np.abs(arrays[key]).astype(np.float64)
        stats = report["stats"][key]
        assert stats["min"] == values.min(), key
        assert stats["max"] == values.max(), key
        np.testing.assert_allclose(stats["mean"], values.mean(), rtol=1e-6, err_msg=key)
    for key in ("probeGuess", "objectGuess"):
        np.testing.assert_allclose(report["stats"][key]["max"], np.abs(arrays[key]).max(), rtol=1e-6)


def check_fixture_rows(case: Case, proc: subprocess.CompletedProcess) -> None:
    """Row i of every per-scan key is source row indices[i]; whole arrays equal the source."""
    out = case.data["output"]
    sidecar = json.loads(Path(os.path.splitext(out)[0] + ".json").read_text(encoding="utf-8"))
    idx = np.asarray(sidecar["indices"])
    arrays = case.data["arrays"]
    with np.load(out, allow_pickle=False) as fixture:
        for key in ("diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index"):
            np.testing.assert_array_equal(fixture[key], arrays[key][idx], err_msg=key)
            assert fixture[key].dtype.isnative
        assert fixture["diffraction"].flags.c_contiguous
        np.testing.assert_array_equal(fixture["diffraction"][:, 0, 0], idx.astype(np.float32) / 1000)
        for key in ("probeGuess", "objectGuess"):
            np.testing.assert_array_equal(fixture[key], arrays[key], err_msg=key)


# -- expectations per command ----------------------------------------------------------------

# (exit code, message, stream); "" stream defaults: stderr for exit 2, stdout for validate.
VALIDATE = {
    "not-a-zip": (2, "not a readable zip archive"),
    "empty-file": (2, "is empty (0 bytes)"),
    "truncated-zip": (2, "not a readable zip archive"),
    "bad-crc": (2, "Bad CRC-32"),
    "bad-crc-compressed": (2, "is corrupt"),
    "member-not-npy": (2, "is not a valid .npy array"),
    "header-lies-about-shape": (2, "header promises shape"),
    "foreign-member": (0, "member 'README.txt' is not a .npy array; ignored"),
    "object-diffraction": (1, "Python objects"),
    "object-metadata": (0, "PASS"),
    "object-metadata-dict": (1, "holds a pickled dict, not JSON text"),
    "structured-diffraction": (1, "named fields"),
    "zero-positions": (1, "dimension N = 0 is below its minimum"),
    "one-position": (0, "PASS"),
    "1d-diffraction": (1, "key 'diffraction' has shape (1280,)"),
    "2d-diffraction": (1, "key 'diffraction' has shape (20, 64)"),
    "4d-diffraction": (1, "key 'diffraction' has shape (20, 8, 8, 1)"),
    "non-square-frames": (1, "square"),
    "nan-inf-diffraction": (1, "1 NaN and 1 Inf"),
    "negative-amplitudes": (1, "is below 0"),
    "intensity-as-amplitude": (1, "normalize amplitudes"),
    "integer-diffraction": (1, "has dtype uint16; expected float32"),
    "complex-diffraction": (1, "has dtype complex64; expected float32"),
    "coords-length-mismatch": (1, "key 'xcoords' has shape (17,); expected (N,) with N = 20"),
    "coords-nan": (1, "1 NaN and 0 Inf"),
    "positions-identical": (1, "all 20 positions are the same point"),
    "positions-duplicated": (0, "2 of 20 positions repeat an earlier one"),
    "xy-length-mismatch": (1, "key 'ycoords' has shape (17,); expected (N,) with N = 20"),
    "missing-xcoords": (1, "required key 'xcoords' is missing"),
    "object-xcoords": (1, "key 'xcoords' has dtype object with Python objects"),
    "missing-probe": (1, "required key 'probeGuess' is missing"),
    "probe-shape-mismatch": (1, "key 'probeGuess' has shape (16, 16); expected (H, W)"),
    "compressed": (0, "PASS"),
    "big-endian": (0, "PASS"),
    "fortran-order": (0, "PASS"),
    "legacy-layout": (1, "legacy (H, W, N) order"),
    "legacy-n-equals-h": (2, "is ambiguous"),
}

FIXTURE_MAKE = {
    "not-a-zip": (2, "not a readable zip archive"),
    "empty-file": (2, "is empty (0 bytes)"),
    "truncated-zip": (2, "not a readable zip archive"),
    "bad-crc": (2, "Bad CRC-32"),
    "bad-crc-compressed": (2, "is corrupt"),
    "member-not-npy": (2, "is not a valid .npy array"),
    "header-lies-about-shape": (2, "header promises shape"),
    "object-diffraction": (2, "refusing to unpickle"),
    "object-metadata": (0, "wrote"),
    "object-metadata-dict": (0, "wrote"),
    "structured-diffraction": (2, "named fields"),
    "zero-positions": (2, "has only 0 positions"),
    "one-position": (2, "has only 1 positions"),
    "1d-diffraction": (2, "expected a 3-D stack"),
    "2d-diffraction": (2, "expected a 3-D stack"),
    "4d-diffraction": (2, "expected a 3-D stack"),
    "non-square-frames": (1, "square"),
    "nan-inf-diffraction": (1, "diffraction-finite"),
    "negative-amplitudes": (1, "diffraction-nonnegative"),
    "intensity-as-amplitude": (1, "diffraction-normalized"),
    "integer-diffraction": (1, "diffraction-normalized"),
    "complex-diffraction": (2, "store the amplitude"),
    "coords-length-mismatch": (2, "holds 20 frames"),
    "coords-nan": (2, "non-finite"),
    "positions-identical": (1, "positions-spread"),
    "positions-duplicated": (0, "wrote"),
    "xy-length-mismatch": (2, "'xcoords' has shape (20,) and 'ycoords' (17,)"),
    "missing-xcoords": (2, "has no 'xcoords'"),
    "object-xcoords": (2, "refusing to unpickle"),
    "missing-probe": (1, "probeGuess"),
    "probe-shape-mismatch": (1, "probeGuess"),
    "compressed": (0, "wrote"),
    "big-endian": (0, "wrote"),
    "fortran-order": (0, "wrote"),
    "legacy-layout": (0, "source layout legacy"),
    "legacy-n-equals-h": (2, "--layout"),
}

#: ``coverage SOURCE`` reads only the positions: defects elsewhere are not its business.
COVERAGE = {
    "not-a-zip": (2, "not a readable zip archive"),
    "empty-file": (2, "is empty (0 bytes)"),
    "truncated-zip": (2, "not a readable zip archive"),
    "header-lies-about-shape": (2, "header promises shape"),
    "zero-positions": (2, "source.npz"),
    "one-position": (2, "source.npz"),
    "coords-nan": (2, "non-finite position(s), first at index 5"),
    "xy-length-mismatch": (2, "xcoords has shape (20,) and ycoords (17,)"),
    "missing-xcoords": (2, "has no array 'xcoords'"),
    "object-xcoords": (2, "refusing to unpickle"),
    "positions-identical": (0, "n_duplicates"),
    "positions-duplicated": (0, "n_duplicates"),
    "compressed": (0, ""),
    "big-endian": (0, ""),
    "fortran-order": (0, ""),
}


def check_coverage_extent(case: Case, proc: subprocess.CompletedProcess) -> None:
    """The scan extent reported equals the extent of the positions that were meant."""
    scan = json.loads(proc.stdout)["scan"]
    x, y = case.data["xcoords"], case.data["ycoords"]
    assert (scan["x_min"], scan["x_max"]) == (x.min(), x.max())
    assert (scan["y_min"], scan["y_max"]) == (y.min(), y.max())


#: Legal inputs whose values are checked beyond the exit code.
VALUE_CHECKS = {
    ("validate", "big-endian"): check_validate_stats,
    ("validate", "fortran-order"): check_validate_stats,
    ("validate", "compressed"): check_validate_stats,
    ("fixture-make", "compressed"): check_fixture_rows,
    ("coverage", "compressed"): check_coverage_extent,
    ("coverage", "big-endian"): check_coverage_extent,
    ("coverage", "fortran-order"): check_coverage_extent,
    ("fixture-make", "big-endian"): check_fixture_rows,
    ("fixture-make", "fortran-order"): check_fixture_rows,
    ("fixture-make", "legacy-layout"): check_fixture_rows,
    ("fixture-make", "positions-duplicated"): check_fixture_rows,
}


def _validate_case(defect: str) -> Callable[[str], Case]:
    code, message = VALIDATE[defect]

    def build(folder: str) -> Case:
        path, arrays = DATASETS[defect](folder)
        check = VALUE_CHECKS.get(("validate", defect))
        argv = ["validate", path] + (["--json"] if check else [])
        stream = "stderr" if code == 2 else "stdout"
        return Case(
            f"validate-{defect}",
            argv,
            code,
            "" if check else message,
            stream,
            inputs=_files(path),
            check=check,
            data=arrays,
        )

    return build


def _fixture_make_case(defect: str) -> Callable[[str], Case]:
    code, message = FIXTURE_MAKE[defect]

    def build(folder: str) -> Case:
        path, arrays = DATASETS[defect](folder)
        out = os.path.join(folder, "fixture.npz")
        argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET]
        absent = [] if code == 0 else _fixture_outputs(out)
        return Case(
            f"fixture-make-{defect}",
            argv,
            code,
            message,
            "stdout" if code == 0 else "stderr",
            inputs=_files(path),
            absent=absent,
            check=VALUE_CHECKS.get(("fixture-make", defect)),
            data={"arrays": arrays, "output": out},
        )

    return build


def _coverage_case(defect: str) -> Callable[[str], Case]:
    code, message = COVERAGE[defect]

    def build(folder: str) -> Case:
        path, arrays = DATASETS[defect](folder)
        check = VALUE_CHECKS.get(("coverage", defect))
        argv = ["coverage", path] + (["--json"] if check else [])
        return Case(
            f"coverage-{defect}",
            argv,
            code,
            message,
            "stdout" if code == 0 else "stderr",
            inputs=_files(path),
            check=check,
            data=arrays,
        )

    return build


def _files(*paths: str) -> list[str]:
    """The paths that are regular files (a missing input has no bytes to keep)."""
    return [p for p in paths if os.path.isfile(p)]


def _fixture_outputs(out: str) -> list[str]:
    stem = os.path.splitext(out)[0]
    return [out, stem + ".json", stem + ".md"]


# -- usage: subset sizes and output paths ---------------------------------------------------


def _subset_case(label: str, size: str, message: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        path, _ = _scan(N_SCAN)(folder)
        out = os.path.join(folder, "fixture.npz")
        argv = ["fixture", "make", "--source", path, "--output", out, f"--subset-size={size}"]
        return Case(f"fixture-make-subset-size-{label}", argv, 2, message, inputs=[path], absent=_fixture_outputs(out))

    return build


def read_only_folder() -> str | None:
    """Return an existing folder where this process cannot create a file, or None.

    Running as root, permission bits do not stop a write; a kernel
    filesystem (sysfs, procfs) still refuses new files.
    """
    for folder in ("/sys", "/proc/sys", "/proc"):
        if not os.path.isdir(folder):
            continue
        try:
            fd, tmp = tempfile.mkstemp(dir=folder)
        except OSError:
            return folder
        os.close(fd)
        os.unlink(tmp)
    return None


def _output_folder(where: str, folder: str) -> str:
    if where == "missing-folder":
        return os.path.join(folder, "no-such-folder")
    if where == "file-as-folder":
        # A parent that is a file: no folder can be made there.
        blocker = os.path.join(folder, "not-a-folder")
        Path(blocker).write_text("a file")
        return os.path.join(blocker, "sub")
    ro = read_only_folder()
    if ro is None:
        msg = "no read-only folder on this machine"
        raise NotImplementedError(msg)
    return ro


OUTPUT_MESSAGES = {
    "missing-folder": "does not exist",
    "read-only-folder": "not writable",
    "file-as-folder": "is a file",
}


def _fixture_output_case(where: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        path, _ = _scan(N_SCAN)(folder)
        out = os.path.join(_output_folder(where, folder), "fixture.npz")
        argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET]
        return Case(
            f"fixture-make-output-in-{where}",
            argv,
            2,
            OUTPUT_MESSAGES[where],
            inputs=[path],
            absent=_fixture_outputs(out),
        )

    return build


def _fixture_sidecar_under_a_file(folder: str) -> Case:
    # fixture make makes missing folders, but not under a file.
    path, _ = _scan(N_SCAN)(folder)
    out = os.path.join(folder, "fixture.npz")
    meta = os.path.join(_output_folder("file-as-folder", folder), "fixture.json")
    argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET, "--metadata-out", meta]
    return Case(
        "fixture-make-sidecar-under-a-file", argv, 2, "is a file", inputs=[path], absent=[*_fixture_outputs(out), meta]
    )


def _fixture_output_is_source(folder: str) -> Case:
    path, _ = _scan(N_SCAN)(folder)
    argv = ["fixture", "make", "--source", path, "--output", path, "--subset-size", SUBSET]
    stem = os.path.splitext(path)[0]
    return Case(
        "fixture-make-output-is-source", argv, 2, "is the input", inputs=[path], absent=[stem + ".json", stem + ".md"]
    )


def _fixture_sidecar_is_source(folder: str) -> Case:
    path, _ = _scan(N_SCAN)(folder)
    out = os.path.join(folder, "fixture.npz")
    argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET, "--metadata-out", path]
    return Case("fixture-make-sidecar-is-source", argv, 2, "is the input", inputs=[path], absent=_fixture_outputs(out))


def _fixture_output_exists(folder: str) -> Case:
    path, _ = _scan(N_SCAN)(folder)
    out = os.path.join(folder, "fixture.npz")
    with open(out, "wb") as fh:
        fh.write(b"an earlier result the user wants to keep")
    argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET]
    stem = os.path.splitext(out)[0]
    return Case(
        "fixture-make-output-exists", argv, 2, "pass --force", inputs=[path, out], absent=[stem + ".json", stem + ".md"]
    )


# -- contracts --------------------------------------------------------------------------------


def _contract_file(folder: str, defect: str) -> str:
    path = os.path.join(folder, "contract.json")
    if defect == "syntax-error":
        text = '{"name": "mine",\n "fields": [ {"name": "diffraction",, } ]\n}\n'
    else:
        text = json.dumps({"name": "mine", "fields": [{"name": "diffraction", "dtypes": ["float33"]}]})
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


CONTRACT_MESSAGES = {"syntax-error": "is not valid JSON", "unknown-dtype": "unknown dtype 'float33'"}


def _contract_case(command: str, defect: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        contract = _contract_file(folder, defect)
        if command == "contract-show":
            argv, inputs = ["contract", "show", contract], [contract]
        else:
            data, _ = _scan(N_SCAN)(folder)
            argv, inputs = ["validate", data, "--contract", contract], [contract, data]
        return Case(f"{command}-contract-{defect}", argv, 2, CONTRACT_MESSAGES[defect], inputs=inputs)

    return build


# -- fixture verify ---------------------------------------------------------------------------


def _made_fixture(folder: str, name: str = "fixture.npz", seed: int = 0, size: int = 16) -> tuple[str, str, str]:
    """Cut a real fixture with the library; return (source, fixture, sidecar)."""
    from ptyevidence.fixture.make import make_fixture

    source = _save(folder, dataset_arrays(n=N_SCAN, h=SIDE, w=SIDE, seed=seed), f"source-{seed}.npz")
    result = make_fixture(source, os.path.join(folder, name), subset_size=size, progress=False)
    return source, result.path, result.metadata_path


def _verify_sidecar_missing_fields(folder: str) -> Case:
    source, fixture, sidecar = _made_fixture(folder)
    record = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    del record["content_digests"], record["indices"]
    with open(sidecar, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    return Case(
        "fixture-verify-sidecar-missing-fields",
        ["fixture", "verify", fixture],
        2,
        "lacks required field(s) 'indices', 'content_digests'",
        inputs=[source, fixture, sidecar],
    )


def _verify_sidecar_of_another_fixture(folder: str) -> Case:
    _, fixture, _ = _made_fixture(folder, "a.npz", seed=0)
    other_source, other, other_sidecar = _made_fixture(folder, "b.npz", seed=1)
    argv = ["fixture", "verify", fixture, "--metadata", other_sidecar]
    return Case(
        "fixture-verify-sidecar-of-another-fixture",
        argv,
        1,
        "FAIL  sha256_checksum",
        "stdout",
        inputs=[fixture, other, other_sidecar, other_source],
    )


def _verify_sidecar_not_json(folder: str) -> Case:
    _, fixture, sidecar = _made_fixture(folder)
    with open(sidecar, "w", encoding="utf-8") as fh:
        fh.write("{ truncated")
    return Case(
        "fixture-verify-sidecar-not-json",
        ["fixture", "verify", fixture],
        2,
        "is not valid JSON",
        inputs=[fixture, sidecar],
    )


def _verify_truncated_fixture(folder: str) -> Case:
    _, fixture, sidecar = _made_fixture(folder)
    blob = Path(fixture).read_bytes()
    with open(fixture, "wb") as fh:
        fh.write(blob[: len(blob) // 2])
    return Case(
        "fixture-verify-truncated-fixture",
        ["fixture", "verify", fixture],
        1,
        "FAIL  sha256_checksum",
        "stdout",
        inputs=[fixture, sidecar],
    )


def _verify_damaged_source(folder: str) -> Case:
    source, fixture, sidecar = _made_fixture(folder)
    blob = Path(source).read_bytes()
    with open(source, "wb") as fh:
        fh.write(blob[: len(blob) // 2])
    argv = ["fixture", "verify", fixture, "--source", source]
    return Case(
        "fixture-verify-truncated-source", argv, 2, "not a readable zip archive", inputs=[fixture, sidecar, source]
    )


# -- CXI (HDF5) ---------------------------------------------------------------------------------


def _cxi_missing(what: str) -> Callable[[str], str]:
    def build(folder: str) -> str:
        path = os.path.join(folder, "scan.cxi")
        cxi_files.write_cxi(path, n=N_SCAN, h=SIDE, w=SIDE)
        with h5py.File(path, "a") as f:
            del f[what]
        return path

    return build


def _cxi_length_mismatch(folder: str) -> str:
    path = os.path.join(folder, "scan.cxi")
    cxi_files.write_cxi(path, n=N_SCAN, h=SIDE, w=SIDE, translation=cxi_files.scan_translation(N_SCAN - 3))
    return path


def _cxi_truncated(folder: str) -> str:
    path = os.path.join(folder, "scan.cxi")
    cxi_files.write_cxi(path, n=N_SCAN, h=SIDE, w=SIDE)
    blob = Path(path).read_bytes()
    with open(path, "wb") as fh:
        fh.write(blob[: len(blob) // 3])
    return path


def _cxi_good(folder: str) -> str:
    path = os.path.join(folder, "scan.cxi")
    cxi_files.write_cxi(path, n=N_SCAN, h=SIDE, w=SIDE, probe=np.ones((SIDE, SIDE), np.complex64))
    return path


CXI = {
    "missing-frames": (_cxi_missing(cxi_files.FRAMES), "holds no diffraction frames"),
    "missing-translation": (_cxi_missing(cxi_files.TRANSLATION), "translation"),
    "length-mismatch": (_cxi_length_mismatch, "holds 17 positions but"),
    "truncated": (_cxi_truncated, "not a readable HDF5 file"),
}


def _cxi_case(command: str, defect: str) -> Callable[[str], Case]:
    builder, message = CXI[defect]

    def build(folder: str) -> Case:
        path = builder(folder)
        out = os.path.join(folder, "out.npz")
        if command == "convert":
            argv, absent = ["convert", path, out, "--object-shape", "64x64"], [out]
        elif command in ("validate", "coverage"):
            argv, absent = [command, path], []
        else:
            argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET]
            absent = _fixture_outputs(out)
        return Case(f"{command}-cxi-{defect}", argv, 2, message, inputs=[path], absent=absent)

    return build


def _convert_output_case(where: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        path = _cxi_good(folder)
        if where == "is-source":
            out, message = path, "is the input"
        else:
            out, message = os.path.join(_output_folder(where, folder), "out.npz"), OUTPUT_MESSAGES[where]
        argv = ["convert", path, out, "--object-shape", "64x64"]
        absent = [] if out == path else [out]
        return Case(f"convert-output-{where}", argv, 2, message, inputs=[path], absent=absent)

    return build


# -- gap with tensor dumps ----------------------------------------------------------------------


def _dumps(folder: str) -> tuple[str, str]:
    left, right = os.path.join(folder, "tf.npz"), os.path.join(folder, "torch.npz")
    np.savez(left, **tf_grouped_dump())
    np.savez(right, **torch_mmap_dump())
    return left, right


def _gap_dump_case(defect: str, message: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        left, right = _dumps(folder)
        os.unlink(left)
        os.replace(getattr(npz_damage, defect.replace("-", "_"))(folder), left)
        out = os.path.join(folder, "matrix.md")
        argv = ["gap", "--left-dump", left, "--right-dump", right, "--output", out]
        return Case(f"gap-dump-{defect}", argv, 2, message, inputs=[left, right], absent=[out])

    return build


def _gap_dump_object_array(folder: str) -> Case:
    # The dump is read and one of its tensors is unusable: a contract finding
    # in the (still printed) matrix, exit 1; the object array is never loaded.
    left, right = _dumps(folder)
    dump = tf_grouped_dump()
    dump["nn_indices"] = dump["nn_indices"].astype(object)
    np.savez(left, **dump)
    argv = ["gap", "--left-dump", left, "--right-dump", right]
    return Case("gap-dump-object-array", argv, 1, "key 'nn_indices' has dtype object", "stdout", inputs=[left, right])


def _gap_output_case(where: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        left, right = _dumps(folder)
        if where == "is-source":
            out, message = left, "is the input"
        else:
            out, message = os.path.join(_output_folder(where, folder), "matrix.md"), OUTPUT_MESSAGES[where]
        argv = ["gap", "--left-dump", left, "--right-dump", right, "--output", out]
        return Case(f"gap-output-{where}", argv, 2, message, inputs=[left, right], absent=[] if out == left else [out])

    return build


# -- coverage: subsets, sizes, plot folders ----------------------------------------------------


def _coverage_compare_size(label: str, size: str, message: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        path, _ = _scan(N_SCAN)(folder)
        argv = ["coverage", path, "--compare-strategies", f"--subset-size={size}"]
        return Case(f"coverage-compare-subset-size-{label}", argv, 2, message, inputs=[path])

    return build


def _coverage_plot_dir(where: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        path, _ = _scan(N_SCAN)(folder)
        plots = os.path.join(_output_folder(where, folder), "plots")
        message = "does not exist" if where == "missing-folder" else f"'{plots}'"
        argv = ["coverage", path, "--plot-dir", plots]
        return Case(f"coverage-plot-dir-in-{where}", argv, 2, message, inputs=[path], absent=[plots])

    return build


def _coverage_sidecar_of_another_fixture(folder: str) -> Case:
    source, fixture, sidecar = _made_fixture(folder, "a.npz", seed=0)
    _, _, other_sidecar = _made_fixture(folder, "b.npz", seed=1, size=18)
    Path(sidecar).write_bytes(Path(other_sidecar).read_bytes())
    argv = ["coverage", source, "--subset", fixture]
    return Case(
        "coverage-subset-with-sidecar-of-another-fixture",
        argv,
        2,
        "belongs to another fixture",
        inputs=[source, fixture, sidecar],
    )


def _coverage_subset_of_another_source(folder: str) -> Case:
    _, fixture, sidecar = _made_fixture(folder, "a.npz", seed=0)
    other = _save(folder, dataset_arrays(n=N_SCAN, h=SIDE, w=SIDE, seed=1), "other.npz")
    argv = ["coverage", other, "--subset", fixture]
    return Case("coverage-subset-of-another-source", argv, 2, "wrong source", inputs=[other, fixture, sidecar])


def _coverage_sidecar_missing_fields(folder: str) -> Case:
    source, _, sidecar = _made_fixture(folder)
    record = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    del record["indices"]
    Path(sidecar).write_text(json.dumps(record), encoding="utf-8")
    argv = ["coverage", source, "--indices-from", sidecar]
    return Case(
        "coverage-indices-from-sidecar-missing-fields",
        argv,
        2,
        "lacks required field(s) 'indices'",
        inputs=[source, sidecar],
    )


# -- report and demo-data ---------------------------------------------------------------------------


def _report_case(defect: str, message: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        if defect.startswith("cxi-"):
            path = CXI[defect[len("cxi-") :]][0](folder)
        else:
            path, _ = DATASETS[defect](folder)
        out = os.path.join(folder, "report")
        argv = ["report", "--source", path, "--out", out]
        return Case(f"report-source-{defect}", argv, 2, message, inputs=_files(path), absent=[out])

    return build


def _demo_output_case(where: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        inputs: list[str] = []
        if where == "exists":
            out, message = os.path.join(folder, "demo.npz"), "pass --force"
            Path(out).write_bytes(b"an earlier file the user wants to keep")
            inputs = [out]
        else:
            out = os.path.join(_output_folder(where, folder), "demo.npz")
            message = OUTPUT_MESSAGES[where]
        argv = ["demo-data", out, "--positions", "20"]
        return Case(f"demo-data-output-{where}", argv, 2, message, inputs=inputs, absent=[] if inputs else [out])

    return build


def _demo_positions_case(label: str, value: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        out = os.path.join(folder, "demo.npz")
        argv = ["demo-data", out, f"--positions={value}"]
        return Case(
            f"demo-data-positions-{label}", argv, 2, f"positions '{value}' is not a whole number >= 2", absent=[out]
        )

    return build


# -- held-out classes: headers, member names, dtypes, magnitudes, JSON, HDF5 links, faults ----------


def _with_member(key: str, payload: Callable[[dict], bytes]) -> Callable[[str], tuple[str, dict]]:
    """A scan whose member ``key`` is replaced by hand-written bytes (header and data)."""

    def build(folder: str) -> tuple[str, dict]:
        arrays = _arrays()
        members = fuzzing.members_of(arrays)
        for m in members:
            if m.name == f"{key}.npy":
                m.payload = payload(arrays)
        path = os.path.join(folder, "source.npz")
        fuzzing.write_zip(path, members)
        return path, arrays

    return build


def _header(descr: str, shape: str, data_bytes: int = 0) -> Callable[[dict], bytes]:
    return lambda a: fuzzing.raw_npy(
        f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}", bytes(data_bytes)
    )


def _members(change: Callable[[list], None]) -> Callable[[str], tuple[str, dict]]:
    """A scan whose zip members are edited by ``change`` before writing."""

    def build(folder: str) -> tuple[str, dict]:
        arrays = _arrays()
        members = fuzzing.members_of(arrays)
        change(members)
        path = os.path.join(folder, "source.npz")
        fuzzing.write_zip(path, members)
        return path, arrays

    return build


def _rename_member(old: str, new: str) -> Callable[[list], None]:
    def change(members: list) -> None:
        next(m for m in members if m.name == old).name = new

    return change


def _metadata_text(text: str) -> Callable[[dict], np.ndarray]:
    return lambda a: np.array(text)


def _structured_xcoords(a: dict) -> np.ndarray:
    out = np.zeros(a["xcoords"].shape, [("x", "f8"), ("sigma", "f8")])
    out["x"] = a["xcoords"]
    return out


HELDOUT_DATASETS: dict[str, Callable[[str], tuple[str, dict]]] = {
    "subarray-descr": _with_member("diffraction", _header("('<f4', (8,))", "(20, 8)", 5120)),
    "shape-overflow": _with_member("diffraction", _header("'<f4'", "(4294967296, 4294967296, 1)")),
    "zero-byte-items": _with_member("xcoords", _header("'|V0'", "(1000000000000,)")),
    "negative-shape": _with_member("xcoords", _header("'<f8'", "(-20,)")),
    "header-not-a-dict": _with_member("xcoords", lambda a: fuzzing.raw_npy("[1, 2, 3]", bytes(160))),
    "duplicate-member": _members(lambda m: m.append(fuzzing.Member("xcoords.npy", fuzzing.npy_bytes(np.zeros(20))))),
    "nul-in-member-name": _members(_rename_member("xcoords.npy", "xcoords\x00.bak.npy")),
    "separator-in-member-name": _members(_rename_member("xcoords.npy", "old/xcoords.npy")),
    "structured-xcoords": _with(xcoords=_structured_xcoords),
    "complex-xcoords": _with(xcoords=lambda a: a["xcoords"].astype(np.complex128)),
    "text-xcoords": _with(xcoords=lambda a: a["xcoords"].astype(str)),
    "huge-positions": _with(xcoords=lambda a: a["xcoords"] * 1e301, ycoords=lambda a: a["ycoords"] * 1e301),
    "metadata-deep-json": _with(_metadata=_metadata_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")),
    "metadata-huge-int": _with(_metadata=_metadata_text('{"layout": "canonical", "n": ' + "7" * 5000 + "}")),
    "metadata-nan": _with(_metadata=_metadata_text('{"layout": "canonical", "scale": NaN}')),
}

_NOT_NPY = "is not a valid .npy array"
_AMBIGUOUS = "the archive is ambiguous"
#: defect -> (validate, fixture make, coverage): (exit code, message)
HELDOUT = {
    "subarray-descr": ((2, "is a sub-array type"),) * 3,
    "shape-overflow": ((2, "more than any file holds"),) * 3,
    "zero-byte-items": ((2, "has items of 0 bytes"),) * 3,
    "negative-shape": ((2, "has a negative length"),) * 3,
    "header-not-a-dict": ((2, _NOT_NPY),) * 3,
    "duplicate-member": ((2, "'xcoords.npy' appears twice"),) * 3,
    "nul-in-member-name": ((2, "holds a NUL character"),) * 3,
    "separator-in-member-name": ((2, "holds a path separator"),) * 3,
    "structured-xcoords": (
        (1, "key 'xcoords' has dtype [('x', '<f8'), ('sigma', '<f8')] with named fields"),
        (2, "expected real numbers"),
        (2, "expected real numbers"),
    ),
    "complex-xcoords": (
        (1, "key 'xcoords' has dtype complex128; expected float64"),
        (2, "'xcoords' has dtype complex128; expected real numbers"),
        (2, "'xcoords' has dtype complex128; expected real numbers"),
    ),
    "text-xcoords": ((1, "key 'xcoords' has dtype str"), (2, "expected real numbers"), (2, "expected real numbers")),
    "huge-positions": ((0, "PASS"), (2, "lies beyond +-1e+150"), (2, "lies beyond +-1e+150")),
    # The contract's metadata-json-object rule reports what the bounded reader refuses;
    # the cut and coverage do not need the record.
    "metadata-deep-json": ((1, "nests arrays/objects deeper than 64 levels"), (0, "wrote"), (0, "")),
    "metadata-huge-int": ((1, "n is an integer of 5000 digits, beyond int64"), (0, "wrote"), (0, "")),
    "metadata-nan": ((1, "scale is the non-standard literal NaN"), (0, "wrote"), (0, "")),
}


def _heldout_case(command: str, defect: str) -> Callable[[str], Case]:
    code, message = HELDOUT[defect][("validate", "fixture-make", "coverage").index(command)]

    def build(folder: str) -> Case:
        path, arrays = HELDOUT_DATASETS[defect](folder)
        out = os.path.join(folder, "fixture.npz")
        if command == "fixture-make":
            argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET]
            absent = [] if code == 0 else _fixture_outputs(out)
        else:
            argv, absent = [command, path] + (["--json"] if command == "coverage" else []), []
        stream = "stderr" if code == 2 else "stdout"
        check = check_strict_json if "--json" in argv and code != 2 else None
        return Case(
            f"{command}-{defect}",
            argv,
            code,
            message,
            stream,
            inputs=_files(path),
            absent=absent,
            check=check,
            data=arrays,
        )

    return build


def check_strict_json(case: Case, proc: subprocess.CompletedProcess) -> None:
    """Standard output is standard JSON: no NaN or Infinity."""
    json.loads(proc.stdout, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))


# Sidecars and contracts whose JSON breaks the bounds; the message names the key path.
_BAD_JSON = {
    "deep-nesting": ("[" * 3000 + "]" * 3000, "nests arrays/objects deeper than 64 levels"),
    "int-beyond-conversion-limit": ("7" * 4301, "an integer of 4301 digits"),
    "int-beyond-int64": ("9223372036854775808", "an integer beyond int64"),
    "float-beyond-range": ("1e400", "a number beyond float range"),
    "nan-literal": ("NaN", "the non-standard literal NaN"),
    "infinity-literal": ("-Infinity", "the non-standard literal -Infinity"),
}


def _sidecar_json_case(command: str, defect: str) -> Callable[[str], Case]:
    value, problem = _BAD_JSON[defect]

    def build(folder: str) -> Case:
        source, fixture, sidecar = _made_fixture(folder)
        text = Path(sidecar).read_text(encoding="utf-8")
        Path(sidecar).write_text(text.replace('"seed": 0', f'"seed": {value}', 1), encoding="utf-8")
        if command == "fixture-verify":
            argv = ["fixture", "verify", fixture]
        else:
            argv = ["coverage", source, "--indices-from", sidecar]
        return Case(
            f"{command}-sidecar-{defect}",
            argv,
            2,
            f"seed{'[0]' if defect == 'deep-nesting' else ' '}",
            inputs=[source, fixture, sidecar],
            data={"problem": problem},
            check=_check_problem,
        )

    return build


def _check_problem(case: Case, proc: subprocess.CompletedProcess) -> None:
    assert case.data["problem"] in proc.stderr, proc.stderr


def _sidecar_duplicate_key(folder: str) -> Case:
    source, fixture, sidecar = _made_fixture(folder)
    text = Path(sidecar).read_text(encoding="utf-8")
    Path(sidecar).write_text(text.replace('"seed": 0', '"seed": 0, "seed": 1', 1), encoding="utf-8")
    return Case(
        "fixture-verify-sidecar-duplicate-key",
        ["fixture", "verify", fixture],
        2,
        "seed is a key that repeats in its object",
        inputs=[source, fixture, sidecar],
    )


def _contract_json_case(command: str, defect: str) -> Callable[[str], Case]:
    value, problem = _BAD_JSON[defect]

    def build(folder: str) -> Case:
        from ptyevidence.contract.model import load_contract

        contract = os.path.join(folder, "contract.json")
        doc = load_contract("data001").to_dict()
        doc["version"] = fuzzing.Raw(value)
        Path(contract).write_text(fuzzing.dump_json(doc), encoding="utf-8")
        if command == "contract-show":
            argv, inputs = ["contract", "show", contract], [contract]
        else:
            data, _ = _scan(N_SCAN)(folder)
            argv, inputs = ["validate", data, "--contract", contract], [contract, data]
        return Case(f"{command}-contract-{defect}", argv, 2, problem, inputs=inputs)

    return build


def _contract_layout_wrong_type(folder: str) -> Case:
    from ptyevidence.contract.model import load_contract

    contract = os.path.join(folder, "contract.json")
    doc = load_contract("data001").to_dict()
    doc["layout"]["canonical"] = 3.5
    Path(contract).write_text(json.dumps(doc), encoding="utf-8")
    data, _ = _scan(N_SCAN)(folder)
    out = os.path.join(folder, "fixture.npz")
    argv = ["fixture", "make", "--source", data, "--output", out, "--subset-size", SUBSET, "--contract", contract]
    return Case(
        "fixture-make-contract-layout-wrong-type",
        argv,
        2,
        "layout 'canonical' must be a non-empty list of dimension names",
        inputs=[contract, data],
        absent=_fixture_outputs(out),
    )


# CXI files that reach outside themselves, or cannot be decoded.
def _cxi_edit(edit: Callable[[h5py.File, str], None]) -> Callable[[str], str]:
    def build(folder: str) -> str:
        path = _cxi_good(folder)
        with h5py.File(path, "a") as f:
            edit(f, folder)
        return path

    return build


def _frames_elsewhere(folder: str, f: h5py.File) -> tuple[tuple, np.dtype]:
    frames = f[cxi_files.FRAMES][()]
    with h5py.File(os.path.join(folder, "frames.h5"), "w") as other:
        other["d"] = frames
    del f[cxi_files.FRAMES]
    return frames.shape, frames.dtype


def _loop(f: h5py.File, folder: str) -> None:
    del f[cxi_files.FRAMES]
    f[cxi_files.FRAMES] = h5py.SoftLink("/entry_1/frames_alias")
    f["entry_1/frames_alias"] = h5py.SoftLink("/" + cxi_files.FRAMES)


def _external(f: h5py.File, folder: str) -> None:
    _frames_elsewhere(folder, f)
    f[cxi_files.FRAMES] = h5py.ExternalLink("frames.h5", "/d")


def _virtual(missing: bool) -> Callable[[h5py.File, str], None]:
    def edit(f: h5py.File, folder: str) -> None:
        shape, dtype = _frames_elsewhere(folder, f)
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[...] = h5py.VirtualSource("frames.h5", "d", shape=shape)
        f.create_virtual_dataset(cxi_files.FRAMES, layout, fillvalue=0)
        if missing:
            os.unlink(os.path.join(folder, "frames.h5"))

    return edit


def _raw_storage(f: h5py.File, folder: str) -> None:
    frames = f[cxi_files.FRAMES][()]
    del f[cxi_files.FRAMES]
    frames.astype("<u2").tofile(os.path.join(folder, "frames.raw"))
    f.create_dataset(cxi_files.FRAMES, shape=frames.shape, dtype="<u2", external=[("frames.raw", 0, frames.size * 2)])


def _structured_translation(f: h5py.File, folder: str) -> None:
    del f[cxi_files.TRANSLATION]
    f[cxi_files.TRANSLATION] = np.zeros((N_SCAN, 3), [("x", "f8"), ("y", "f8")])


def _missing_filter(folder: str) -> str:
    """Frames compressed with a filter id no plugin provides (LZF's id patched in the file)."""
    path = _cxi_good(folder)
    with h5py.File(path, "a") as f:
        frames = f[cxi_files.FRAMES][()]
        del f[cxi_files.FRAMES]
        f.create_dataset(cxi_files.FRAMES, data=frames, compression="lzf", chunks=(4, SIDE, SIDE))
    blob = bytearray(Path(path).read_bytes())
    at = blob.find(b"lzf\x00")
    blob[at - 8 : at - 6] = struct.pack("<H", 32099)
    Path(path).write_bytes(bytes(blob))
    return path


_LINK_HINT = "pass --allow-external-links to follow it"
#: defect -> (builder, allow external links, exit code, message)
CXI_LINKS = {
    "soft-link-loop": (_cxi_edit(_loop), False, "goes through soft links that loop"),
    "external-link": (_cxi_edit(_external), False, "goes through the external link"),
    "virtual-dataset": (_cxi_edit(_virtual(missing=False)), False, "is a virtual dataset of 1 mapped part"),
    "virtual-source-missing": (_cxi_edit(_virtual(missing=True)), True, "which does not exist; HDF5 would read"),
    "external-raw-storage": (_cxi_edit(_raw_storage), False, "keeps its data in the external file(s)"),
    "missing-filter": (_missing_filter, False, "is compressed with HDF5 filter 32099"),
    "structured-translation": (_cxi_edit(_structured_translation), False, "expected (K, 3) real x, y, z"),
}


def _cxi_link_case(command: str, defect: str) -> Callable[[str], Case]:
    builder, allow, message = CXI_LINKS[defect]

    def build(folder: str) -> Case:
        path = builder(folder)
        out = os.path.join(folder, "out.npz")
        if command == "convert":
            argv, absent = ["convert", path, out, "--object-shape", "64x64"], [out]
        elif command == "validate":
            argv, absent = ["validate", path], []
        else:
            argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET]
            absent = _fixture_outputs(out)
        argv = (["--allow-external-links"] if allow else []) + argv
        inputs = [
            p
            for p in (path, os.path.join(folder, "frames.h5"), os.path.join(folder, "frames.raw"))
            if os.path.isfile(p)
        ]
        hint = _LINK_HINT if defect in ("external-link", "virtual-dataset", "external-raw-storage") else ""
        return Case(
            f"{command}-cxi-{defect}",
            argv,
            2,
            message,
            inputs=inputs,
            absent=absent,
            data={"hint": hint},
            check=_check_hint,
        )

    return build


def _check_hint(case: Case, proc: subprocess.CompletedProcess) -> None:
    """Links refused by policy say how to follow them."""
    assert case.data["hint"] in proc.stderr, proc.stderr


def check_linked_files(case: Case, proc: subprocess.CompletedProcess) -> None:
    """The sidecar lists and hashes the file the external link read."""
    sidecar = json.loads(Path(case.data["sidecar"]).read_text(encoding="utf-8"))
    linked = sidecar["source_linked_files"]
    other = case.data["linked"]
    assert [entry["path"] for entry in linked] == [os.path.realpath(other)]
    assert linked[0]["sha256"] == hashlib.sha256(Path(other).read_bytes()).hexdigest()


def _fixture_make_through_external_link(folder: str) -> Case:
    path = _cxi_edit(_external)(folder)
    out = os.path.join(folder, "out.npz")
    argv = [
        "fixture",
        "make",
        "--source",
        path,
        "--output",
        out,
        "--subset-size",
        SUBSET,
        "--allow-external-links",
        "--source-hash",
        "full",
    ]
    other = os.path.join(folder, "frames.h5")
    # Written with its FAIL verdict (exit 1): the CXI holds no object, which data001 requires.
    return Case(
        "fixture-make-cxi-external-link-allowed",
        argv,
        1,
        "wrote",
        "stdout",
        inputs=[path, other],
        check=check_linked_files,
        data={"sidecar": os.path.join(folder, "out.json"), "linked": other},
    )


# Tensor dumps: all NaN (compared without a word on stderr), nested _metadata, a text role.
def _gap_dump_values(defect: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        left, right = _dumps(folder)
        for path, dump in ((left, tf_grouped_dump()), (right, torch_mmap_dump())):
            if defect == "all-nan":
                dump = {k: np.full(v.shape, np.nan, v.dtype) if v.dtype.kind in "fc" else v for k, v in dump.items()}
            elif defect == "deep-metadata" and path == left:
                dump["_metadata"] = np.array('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
            elif defect == "text-role" and path == left:
                dump["coords_relative"] = dump["coords_relative"].astype(str)
            np.savez(path, **dump)
        argv = ["gap", "--left-dump", left, "--right-dump", right, "--format", "json"]
        code, message = {"all-nan": (0, '"role"'), "deep-metadata": (0, '"role"'), "text-role": (1, "coords_relative")}[
            defect
        ]
        return Case(f"gap-dump-{defect}", argv, code, message, "stdout", inputs=[left, right], check=check_strict_json)

    return build


# Faults: a full disk (writes beyond a file-size limit fail with EFBIG), a small memory budget.
_DISK_FULL = (
    "import resource, signal\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
)


def _disk_full_case(command: str) -> Callable[[str], Case]:
    def build(folder: str) -> Case:
        out = os.path.join(folder, "out.npz")
        if command == "convert":
            path = os.path.join(folder, "scan.cxi")
            cxi_files.write_cxi(path, n=N_SCAN, h=64, w=64, probe=np.ones((64, 64), np.complex64))
            argv, absent, inputs = ["convert", path, out, "--object-shape", "128x128"], [out], [path]
        elif command == "fixture-make":
            path = _save(folder, dataset_arrays(n=N_SCAN, h=64, w=64, object_shape=(128, 128)))
            argv = ["fixture", "make", "--source", path, "--output", out, "--subset-size", SUBSET]
            absent, inputs = _fixture_outputs(out), [path]
        else:
            argv, absent, inputs = ["demo-data", out, "--positions", "64"], [out], []
        return Case(
            f"{command}-disk-full",
            argv,
            2,
            f"cannot write '{out}': File too large (EFBIG)",
            inputs=inputs,
            absent=absent,
            code=_DISK_FULL + GUARDED_CLI,
        )

    return build


def _convert_object_over_budget(folder: str) -> Case:
    path = _cxi_good(folder)
    out = os.path.join(folder, "out.npz")
    argv = ["--memory-budget", "256M", "convert", path, out, "--object-shape", "12000x12000"]
    return Case(
        "convert-object-over-memory-budget",
        argv,
        2,
        "the placeholder objectGuess of 12000x12000 needs 1099 MiB, over the memory budget",
        inputs=[path],
        absent=[out],
    )


# -- the registry -------------------------------------------------------------------------------

_BUILDERS: dict[str, Callable[[str], Case]] = {}


def _register(name: str, build: Callable[[str], Case]) -> None:
    assert name not in _BUILDERS, name
    _BUILDERS[name] = build


for _defect in VALIDATE:
    _register(f"validate-{_defect}", _validate_case(_defect))
for _defect in FIXTURE_MAKE:
    _register(f"fixture-make-{_defect}", _fixture_make_case(_defect))
for _label, _size, _message in (
    ("zero", "0", "--subset-size 0 is out of range: use 16 to 20"),
    ("negative", "-3", "--subset-size -3 is out of range"),
    ("above-n", "21", "--subset-size 21 is out of range: use 16 to 20"),
    ("not-an-integer", "2.5", "--subset-size: '2.5' is not an integer"),
    ("text", "many", "--subset-size: 'many' is not an integer"),
):
    _register(f"fixture-make-subset-size-{_label}", _subset_case(_label, _size, _message))
for _where in ("missing-folder", "read-only-folder"):
    _register(f"convert-output-{_where}", _convert_output_case(_where))
    _register(f"gap-output-{_where}", _gap_output_case(_where))
for _where in ("file-as-folder", "read-only-folder"):
    _register(f"fixture-make-output-in-{_where}", _fixture_output_case(_where))
_register("convert-output-is-source", _convert_output_case("is-source"))
_register("gap-output-is-source", _gap_output_case("is-source"))
_register("fixture-make-sidecar-under-a-file", _fixture_sidecar_under_a_file)
_register("fixture-make-output-is-source", _fixture_output_is_source)
_register("fixture-make-sidecar-is-source", _fixture_sidecar_is_source)
_register("fixture-make-output-exists", _fixture_output_exists)
for _command in ("contract-show", "validate"):
    for _defect in CONTRACT_MESSAGES:
        _register(f"{_command}-contract-{_defect}", _contract_case(_command, _defect))
_register("fixture-verify-sidecar-missing-fields", _verify_sidecar_missing_fields)
_register("fixture-verify-sidecar-of-another-fixture", _verify_sidecar_of_another_fixture)
_register("fixture-verify-sidecar-not-json", _verify_sidecar_not_json)
_register("fixture-verify-truncated-fixture", _verify_truncated_fixture)
_register("fixture-verify-truncated-source", _verify_damaged_source)
for _command in ("convert", "validate", "fixture-make"):
    for _defect in CXI:
        _register(f"{_command}-cxi-{_defect}", _cxi_case(_command, _defect))
for _defect, _message in (
    ("not-a-zip", "not a readable zip archive"),
    ("truncated-zip", "not a readable zip archive"),
    ("bad-crc", "Bad CRC-32"),
):
    _register(f"gap-dump-{_defect}", _gap_dump_case(_defect, _message))
_register("gap-dump-object-array", _gap_dump_object_array)

for _defect in COVERAGE:
    _register(f"coverage-{_defect}", _coverage_case(_defect))
for _label, _size, _message in (
    ("zero", "0", "--subset-size 0 is out of range"),
    ("above-n", "21", "--subset-size 21 is out of range"),
    ("text", "many", "subset size 'many' is not an integer"),
):
    _register(f"coverage-compare-subset-size-{_label}", _coverage_compare_size(_label, _size, _message))
for _where in ("missing-folder", "read-only-folder"):
    _register(f"coverage-plot-dir-in-{_where}", _coverage_plot_dir(_where))
    _register(f"demo-data-output-{_where}", _demo_output_case(_where))
_register("coverage-subset-with-sidecar-of-another-fixture", _coverage_sidecar_of_another_fixture)
_register("coverage-subset-of-another-source", _coverage_subset_of_another_source)
_register("coverage-indices-from-sidecar-missing-fields", _coverage_sidecar_missing_fields)
for _defect in ("missing-translation", "length-mismatch", "truncated"):
    _register(f"coverage-cxi-{_defect}", _cxi_case("coverage", _defect))
for _defect, _message in (
    ("not-a-zip", "not a readable zip archive"),
    ("empty-file", "is empty (0 bytes)"),
    ("truncated-zip", "not a readable zip archive"),
    ("cxi-length-mismatch", "holds 17 positions but"),
):
    _register(f"report-source-{_defect}", _report_case(_defect, _message))
_register("demo-data-output-exists", _demo_output_case("exists"))
for _label, _value in (("one", "1"), ("text", "many")):
    _register(f"demo-data-positions-{_label}", _demo_positions_case(_label, _value))

for _defect in HELDOUT:
    for _command in ("validate", "fixture-make", "coverage"):
        _register(f"{_command}-{_defect}", _heldout_case(_command, _defect))
for _defect in _BAD_JSON:
    for _command in ("fixture-verify", "coverage"):
        _register(f"{_command}-sidecar-{_defect}", _sidecar_json_case(_command, _defect))
    for _command in ("contract-show", "validate"):
        _register(f"{_command}-contract-{_defect}", _contract_json_case(_command, _defect))
_register("fixture-verify-sidecar-duplicate-key", _sidecar_duplicate_key)
_register("fixture-make-contract-layout-wrong-type", _contract_layout_wrong_type)
for _defect in CXI_LINKS:
    for _command in ("validate", "fixture-make", "convert"):
        _register(f"{_command}-cxi-{_defect}", _cxi_link_case(_command, _defect))
_register("fixture-make-cxi-external-link-allowed", _fixture_make_through_external_link)
for _defect in ("all-nan", "deep-metadata", "text-role"):
    _register(f"gap-dump-{_defect}", _gap_dump_values(_defect))
for _command in ("fixture-make", "convert", "demo-data"):
    _register(f"{_command}-disk-full", _disk_full_case(_command))
_register("convert-object-over-memory-budget", _convert_object_over_budget)

#: Cases that still fail because of a bug in a module being finished elsewhere:
#: name -> the bug (the test marks them xfail, strictly, so a fix is noticed).
KNOWN_BUGS: dict[str, str] = {}

#: Every case name, in registry order (stable test ids).
CASE_NAMES = list(_BUILDERS)


def build_case(name: str, folder: str | os.PathLike) -> Case:
    """Build case ``name`` into ``folder`` (created if needed) and return its record."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    return _BUILDERS[name](folder)


def build_corpus(folder: str | os.PathLike) -> list[Case]:
    """Build every case, each into its own subfolder of ``folder``.

    Cases this machine cannot build (no read-only folder) are left out.
    """
    cases = []
    for name in CASE_NAMES:
        try:
            cases.append(build_case(name, os.path.join(os.fspath(folder), name)))
        except NotImplementedError:
            continue
    return cases
