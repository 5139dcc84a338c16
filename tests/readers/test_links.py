"""HDF5 links by policy: refused by default with the link and its target named, followed on request."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

import cxi_files
from ptyevidence.exceptions import InputError
from ptyevidence.fixture import make_fixture, verify_fixture
from ptyevidence.readers.cxi import CxiSource
from ptyevidence.readers.links import set_external_links


def _scan(tmp_path, n=20):
    path = str(tmp_path / "scan.cxi")
    written = cxi_files.write_cxi(path, n=n, h=8, w=8, probe=np.ones((8, 8), np.complex64))
    return path, written["counts"]


def _frames_in_other_file(tmp_path, path, name="frames.h5"):
    with h5py.File(path, "a") as f:
        frames = f[cxi_files.FRAMES][()]
        del f[cxi_files.FRAMES]
    with h5py.File(tmp_path / name, "w") as other:
        other["d"] = frames
    return frames


def _external(tmp_path):
    path, _ = _scan(tmp_path)
    frames = _frames_in_other_file(tmp_path, path)
    with h5py.File(path, "a") as f:
        f[cxi_files.FRAMES] = h5py.ExternalLink("frames.h5", "/d")
    return path, frames


def _virtual(tmp_path):
    path, _ = _scan(tmp_path)
    frames = _frames_in_other_file(tmp_path, path)
    with h5py.File(path, "a") as f:
        layout = h5py.VirtualLayout(shape=frames.shape, dtype=frames.dtype)
        layout[...] = h5py.VirtualSource("frames.h5", "d", shape=frames.shape)
        f.create_virtual_dataset(cxi_files.FRAMES, layout, fillvalue=0)
    return path, frames


def test_external_link_is_refused_by_default_naming_link_and_target(tmp_path):
    path, _ = _external(tmp_path)
    with pytest.raises(
        InputError,
        match=r"external link '/entry_1/instrument_1/detector_1/data' -> "
        r"'frames\.h5:/d', which is not followed by default; "
        r"pass allow_external_links=True",
    ):
        CxiSource(path)


def test_external_link_followed_on_request_lists_the_file(tmp_path):
    path, frames = _external(tmp_path)
    with CxiSource(path, allow_external_links=True) as src:
        np.testing.assert_array_equal(src.read("diffraction"), frames)
        assert src.linked_files() == [os.path.realpath(tmp_path / "frames.h5")]


def test_the_process_policy_applies_when_a_reader_is_not_told(tmp_path):
    path, _ = _external(tmp_path)
    set_external_links(True)
    try:
        with CxiSource(path) as src:
            assert src.linked_files()
    finally:
        set_external_links(None)
    with pytest.raises(InputError, match="not followed by default"):
        CxiSource(path)


def test_virtual_dataset_is_refused_by_default_and_read_on_request(tmp_path):
    path, frames = _virtual(tmp_path)
    with pytest.raises(InputError, match=r"is a virtual dataset of 1 mapped part\(s\) \(first: 'frames\.h5:d'\)"):
        CxiSource(path)
    with CxiSource(path, allow_external_links=True) as src:
        np.testing.assert_array_equal(src.read("diffraction"), frames)
        assert src.linked_files() == [os.path.realpath(tmp_path / "frames.h5")]


def test_a_missing_virtual_source_is_an_error_not_zeros(tmp_path):
    path, _ = _virtual(tmp_path)
    os.unlink(tmp_path / "frames.h5")
    with pytest.raises(
        InputError,
        match=r"mapping 'd' of 'frames\.h5', which does not exist; HDF5 would "
        r"read that part as fill values \(zeros\)",
    ):
        CxiSource(path, allow_external_links=True)


def test_soft_link_loop_is_named(tmp_path):
    path, _ = _scan(tmp_path)
    with h5py.File(path, "a") as f:
        del f[cxi_files.FRAMES]
        f[cxi_files.FRAMES] = h5py.SoftLink("/alias")
        f["alias"] = h5py.SoftLink("/" + cxi_files.FRAMES)
    for allow in (False, True):  # a loop is an error whatever the policy
        with pytest.raises(InputError, match=r"goes through soft links that loop \('/entry_1/.*' -> '/alias'"):
            CxiSource(path, allow_external_links=allow)


def test_relative_soft_links_resolve_from_their_group(tmp_path):
    path, counts = _scan(tmp_path)
    with h5py.File(path, "a") as f:
        frames = f[cxi_files.FRAMES][()]
        del f[cxi_files.FRAMES]
        f["entry_1/instrument_1/detector_1/stack"] = frames
        f[cxi_files.FRAMES] = h5py.SoftLink("stack")
    with CxiSource(path) as src:
        np.testing.assert_array_equal(src.read("diffraction"), counts)
        assert src.linked_files() == []


def test_external_raw_storage_is_refused_by_default(tmp_path):
    path, counts = _scan(tmp_path)
    with h5py.File(path, "a") as f:
        del f[cxi_files.FRAMES]
        counts.astype("<u2").tofile(tmp_path / "frames.raw")
        f.create_dataset(
            cxi_files.FRAMES, shape=counts.shape, dtype="<u2", external=[("frames.raw", 0, counts.size * 2)]
        )
    with pytest.raises(InputError, match=r"keeps its data in the external file\(s\) 'frames\.raw'"):
        CxiSource(path)


def test_a_filter_without_its_plugin_is_named_at_open(tmp_path):
    path, counts = _scan(tmp_path)
    with h5py.File(path, "a") as f:
        del f[cxi_files.FRAMES]
        f.create_dataset(cxi_files.FRAMES, data=counts, compression="lzf", chunks=(4, 8, 8))
    blob = bytearray((tmp_path / "scan.cxi").read_bytes())
    at = blob.find(b"lzf\x00")
    blob[at - 8 : at - 6] = (32099).to_bytes(2, "little")  # an id nobody registers
    (tmp_path / "scan.cxi").write_bytes(bytes(blob))
    with pytest.raises(
        InputError,
        match=r"'entry_1/instrument_1/detector_1/data' is compressed with HDF5 "
        r"filter 32099 \(lzf\), which is not available here",
    ):
        CxiSource(path)


def test_fixture_sidecar_hashes_every_file_read_and_verify_checks_them(tmp_path):
    path, _ = _external(tmp_path)
    set_external_links(True)
    try:
        result = make_fixture(path, tmp_path / "fx.npz", subset_size=16, source_hash="full", progress=False)
        linked = result.sidecar["source_linked_files"]
        assert [entry["path"] for entry in linked] == [os.path.realpath(tmp_path / "frames.h5")]
        first = verify_fixture(result.path, source=path, progress=False)
        # The CXI holds no object, which data001 requires: the fixture carries that FAIL verdict;
        # every other check, the linked file's among them, matches.
        assert [c.name for c in first.mismatches] == ["contract"]
        assert "source_linked_files[0]" in [c.name for c in first.checks if c.ok]
        with h5py.File(tmp_path / "frames.h5", "a") as other:
            other["d"][0, 0, 0] += 1
        report = verify_fixture(result.path, source=path, progress=False)
    finally:
        set_external_links(None)
    assert "source_linked_files[0]" in [c.name for c in report.mismatches]


def test_a_pair_lists_the_files_its_frames_file_links_to(tmp_path):
    """positions_from makes a pair; the frames file's linked files still reach the sidecar."""
    path, _ = _external(tmp_path)
    set_external_links(True)
    try:
        with CxiSource(path) as src:
            x, y = src.read("xcoords"), src.read("ycoords")
        positions = tmp_path / "positions.npz"
        np.savez(
            positions,
            xcoords=x,
            ycoords=y,
            probeGuess=np.ones((8, 8), np.complex64),
            objectGuess=np.ones((64, 64), np.complex64),
        )
        result = make_fixture(
            path, tmp_path / "fx.npz", subset_size=16, positions_from=positions, source_hash="full", progress=False
        )
        linked = result.sidecar["source_linked_files"]
        assert [entry["path"] for entry in linked] == [os.path.realpath(tmp_path / "frames.h5")]
        with h5py.File(tmp_path / "frames.h5", "a") as other:
            other["d"][0, 0, 0] += 1
        report = verify_fixture(result.path, source=path, progress=False)
    finally:
        set_external_links(None)
    assert "source_linked_files[0]" in [c.name for c in report.mismatches]


def test_closing_a_source_closes_the_files_its_links_opened(tmp_path):
    """HDF5 opens a file read-only once; a dataset still held must not keep the linked file open after close."""
    path, _ = _external(tmp_path)
    src = CxiSource(path, allow_external_links=True)
    src.take("diffraction", [0, 1])
    src.close()
    with h5py.File(tmp_path / "frames.h5", "a") as other:  # refused while another handle has it open
        other["d"][0, 0, 0] += 1
    assert src.linked_files() == [os.path.realpath(tmp_path / "frames.h5")]
