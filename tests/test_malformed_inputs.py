"""Every command meets malformed input the same way (corpus in ``malformed.py``).

For each case: the expected exit code (2 unusable input or usage, 1 contract
violation or mismatch, 0 legal), the message, one ``ptyevidence: error:``
line on stderr for errors, no traceback, no unpickling, no output or
temporary file left behind, and every input byte-for-byte unchanged with the
same mtime. Legal borderline inputs (big-endian, Fortran order, legacy
layout...) must also be read right.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import malformed
from conftest import dataset_arrays
from ptyevidence.exceptions import InputError
from ptyevidence.fixture import make_fixture
from ptyevidence.fixture.sidecar import file_sha256
from ptyevidence.readers.npz import NpzSource


def _fingerprint(path: str) -> tuple[str, int]:
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return digest, os.stat(path).st_mtime_ns


def _listing(folder: str) -> list[str] | None:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else None


CASES = [
    pytest.param(name, marks=pytest.mark.xfail(reason=malformed.KNOWN_BUGS[name], strict=True))
    if name in malformed.KNOWN_BUGS
    else name
    for name in malformed.CASE_NAMES
]


@pytest.mark.parametrize("name", CASES)
def test_command_meets_input(name, tmp_path):
    try:
        case = malformed.build_case(name, tmp_path)
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    inputs = {path: _fingerprint(path) for path in case.inputs}
    folders = {os.path.dirname(os.path.abspath(path)) for path in case.absent}
    listings = {folder: _listing(folder) for folder in folders}

    proc = malformed.run_case(case)

    everything = proc.stdout + proc.stderr
    assert "Traceback" not in everything
    assert proc.returncode != malformed.PICKLE_EXIT, "the command tried to unpickle data"
    assert proc.returncode == case.exit_code, everything
    assert case.message in (proc.stderr if case.stream == "stderr" else proc.stdout), everything
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    if case.stream == "stderr" and case.exit_code != 0:
        assert len(errors) == 1, proc.stderr
        assert errors[0].startswith("ptyevidence")
        assert "error:" in errors[0]
        assert proc.stdout == ""
    elif case.exit_code == 1:
        assert len(errors) <= 1, proc.stderr  # a report on stdout, at most a summary line
    else:
        assert errors == []
    for path in case.absent:
        assert not os.path.exists(path), f"{path} was left behind"
    for folder, listing in listings.items():
        assert _listing(folder) == listing, f"files appeared in {folder}"
    for path, fingerprint in inputs.items():
        assert _fingerprint(path) == fingerprint, f"input {path} changed"
    if case.check is not None:
        case.check(case, proc)


def test_pickle_guard_stops_an_unpickling_process(tmp_path):
    """The guard the corpus runs under does catch a pickle load (so its silence means something)."""
    path = str(tmp_path / "objects.npz")
    np.savez(path, diffraction=np.arange(4.0).astype(object))
    code = malformed.PICKLE_GUARD + "import numpy\nnumpy.load(sys.argv[1], allow_pickle=True)['diffraction']\n"
    proc = malformed.run_guarded([path], code=code)
    assert proc.returncode == malformed.PICKLE_EXIT, proc.stderr
    assert "PICKLE LOAD ATTEMPTED" in proc.stderr


def test_corpus_builds_every_case_into_one_folder(tmp_path):
    """build_corpus returns one record per name, each with inputs that exist."""
    cases = malformed.build_corpus(tmp_path)
    names = [c.name for c in cases]
    assert names == [n for n in malformed.CASE_NAMES if n in names]
    # Only cases needing a read-only folder may be missing (a machine without one).
    assert all("read-only" in n for n in set(malformed.CASE_NAMES) - set(names))
    assert len(cases) >= 30
    for case in cases:
        assert case.argv
        assert case.exit_code in (0, 1, 2)
        assert case.stream in ("stderr", "stdout")
        assert all(os.path.isfile(p) for p in case.inputs), case.name


# -- damage outside the rows a fixture reads ----------------------------------------------------


def _flip_byte_in_member(path: str, member: str, fraction: float) -> None:
    """Flip one bit at ``fraction`` of ``member``'s stored bytes (located via the zip headers)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    blob = bytearray(Path(path).read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", blob, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    blob[start + int(info.compress_size * fraction)] ^= 0x10
    Path(path).write_bytes(bytes(blob))


@pytest.mark.parametrize(
    ("compressed", "fraction"),
    # Stored: a byte of frame 4 of 40, which a 16-of-40 stratified cut skips.
    # Deflated: near the end of the stream, past the last frame the cut inflates.
    [(False, 0.11), (True, 0.995)],
    ids=["stored", "deflated"],
)
def test_fixture_make_refuses_a_source_damaged_outside_the_cut(tmp_path, compressed, fraction):
    """The source hash pass checks every member's CRC, so damage the cut never reads is caught."""
    arrays = dataset_arrays(n=40, h=32, w=32, object_shape=(64, 64))
    path = str(tmp_path / "source.npz")
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    _flip_byte_in_member(path, "diffraction.npy", fraction)
    before = _fingerprint(path)
    # Control: reading only the chosen rows does not see the damage.
    skipped = make_fixture(path, tmp_path / "unchecked.npz", subset_size=16, source_hash="none", progress=False)
    assert 4 not in skipped.indices.tolist()
    out = tmp_path / "checked.npz"
    with pytest.raises(InputError, match="member 'diffraction.npy' is corrupt"):
        make_fixture(path, out, subset_size=16, progress=False)
    assert not out.exists()
    assert not (tmp_path / "checked.json").exists()
    assert _fingerprint(path) == before


@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_member_crc_check_passes_an_intact_archive(tmp_path, compressed):
    """Fed every block of a hashing pass, the check accepts an undamaged file."""
    path = str(tmp_path / "source.npz")
    (np.savez_compressed if compressed else np.savez)(path, **dataset_arrays(n=40, h=32, w=32))
    with NpzSource(path) as src:
        check = src.member_crc_check()
        file_sha256(path, progress=False, on_block=check.feed)
        check.finish()
