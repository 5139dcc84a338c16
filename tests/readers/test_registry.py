"""The reader registry: every reader returns a :class:`Source`, and open_source checks it."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cxi_files import write_cxi
from ptyevidence import open_source
from ptyevidence.readers import (
    CxiSource,
    IntegrityCheck,
    NpzSource,
    Source,
    register_reader,
)
from ptyevidence.readers import registry as _registry


@pytest.fixture
def readers(monkeypatch):
    """Let a test register readers without leaving them registered."""
    monkeypatch.setattr(_registry, "_READERS", list(_registry._READERS))


def test_built_in_readers_are_sources(make_npz, tmp_path):
    npz = make_npz()
    cxi = str(tmp_path / "scan.cxi")
    write_cxi(cxi)
    for path, cls in ((npz, NpzSource), (cxi, CxiSource)):
        with open_source(path) as src:
            assert isinstance(src, cls)
            assert isinstance(src, Source)


def test_npz_source_protocol_values(make_npz):
    with open_source(make_npz()) as src:
        frames = src.take("diffraction", [2, 0])
        assert src.frame_transform(frames) is frames
        assert src.frame_transform_notes() == []
        assert (src.format, src.layout, src.position_units) == ("npz", None, "object pixels")
        assert src.ignored_members == []
        assert src.full_check_bytes() == src.file_size() == os.path.getsize(src.path)
        assert isinstance(src.member_crc_check(), IntegrityCheck)


def test_a_format_that_states_nothing_else_has_the_protocol_defaults(make_npz):
    with open_source(make_npz()) as src:
        assert (src.counts, src.geometry_assumed) == (False, False)
        assert src.intensity_summary() is None
        assert src.position_statement() is None
        assert src.stated_geometry() == {}
        assert src.reader_record() is None
        assert src.linked_files() == []


def test_cxi_source_states_its_counts_geometry_and_record(tmp_path):
    path = str(tmp_path / "scan.cxi")
    write_cxi(path, distance_m=2.0, pixel_size_m=(75e-6, 75e-6))
    with open_source(path) as src:
        assert src.counts is True
        assert src.intensity_summary().max_count > 0
        assert src.geometry_assumed is True  # the file does not say far-field
        assert src.position_statement().startswith("positions in object pixels: far-field geometry assumed")
        stated = src.stated_geometry()
        assert stated["detector_distance_m"] == (2.0, "the CXI detector distance")
        assert stated["detector_pixel_size_m"] == (75e-6, "the CXI detector pixel size")
        assert stated["object_pixel_width_m"][0] == src.sample_pixel_size[0]
        assert src.reader_record() == src.metadata
        assert src.linked_files() == []


def test_a_pair_states_the_geometry_of_its_frames_file(make_npz, tmp_path):
    from ptyevidence.readers.pair import PairedSource

    path = str(tmp_path / "scan.cxi")
    write_cxi(path, n=6)
    positions = make_npz(n=6)
    with CxiSource(path) as frames, open_source(positions) as pos:
        expected = frames.stated_geometry()
        pair = PairedSource(frames, pos)
        assert pair.stated_geometry() == expected
        assert isinstance(pair, Source)


def test_a_pair_states_how_its_positions_file_put_positions_in_pixels(make_npz, tmp_path):
    from ptyevidence import validate_dataset

    path = str(tmp_path / "scan.cxi")
    write_cxi(path, n=6)
    frames = make_npz("frames.npz", arrays={"diffraction": np.ones((6, 8, 8), np.float32)})
    with open_source(frames, positions_from=path) as pair, CxiSource(path, geometry=None) as positions:
        assert pair.position_statement() == positions.position_statement()
        assert pair.geometry_assumed is positions.geometry_assumed is True
    report = validate_dataset(frames, "data001", positions_from=path)
    assert [f.severity for f in report.findings if f.rule == "geometry"] == ["warning"]


def test_compressed_npz_counts_the_inflation_in_full_check_bytes(make_npz):
    with open_source(make_npz(compressed=True)) as src:
        assert src.full_check_bytes() > src.file_size()


def test_cxi_source_protocol_values(tmp_path):
    path = str(tmp_path / "scan.cxi")
    write_cxi(path)
    with open_source(path) as src:
        assert (src.format, src.layout, src.position_units) == ("cxi", "canonical", "object pixels")
        assert src.ignored_members == []
        assert src.full_check_bytes() == src.file_size()
        assert src.member_crc_check() is None


def test_opening_a_cxi_file_does_not_scan_its_frames(tmp_path):
    """The isinstance check must not compute the transform notes (a pass over every frame)."""
    path = str(tmp_path / "scan.cxi")
    write_cxi(path)
    with open_source(path) as src:
        assert src._summary is None
        assert src.frame_transform_notes()
        assert src._summary is not None


def test_a_registered_reader_that_is_a_source_is_used(readers, make_npz):
    class Tagged(NpzSource):
        format = "tagged"

    # numpy.savez names every file *.npz: the registered reader goes by the stem.
    register_reader("tagged", lambda path, head: "tagged" in os.path.basename(path), Tagged)
    path = make_npz("tagged.npz")
    with open_source(path) as src:
        assert src.format == "tagged"
        np.testing.assert_array_equal(src.read("xcoords"), np.load(path)["xcoords"])


def test_a_registered_reader_that_is_not_a_source_is_refused(readers, make_npz):
    class Partial:
        def __init__(self, path: str) -> None:
            self.path = path

        def keys(self) -> list[str]:
            return []

    register_reader("partial", lambda path, head: "partial" in os.path.basename(path), Partial)
    with pytest.raises(TypeError, match="reader 'partial' returned a Partial") as err:
        open_source(make_npz("partial.npz"))
    message = str(err.value)
    assert "not a ptyevidence Source" in message
    assert "take" in message
    assert "keys" not in message.split("missing:")[1]
