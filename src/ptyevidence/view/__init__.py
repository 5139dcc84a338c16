"""The data, shown: diffraction frames, the probe, the object with the scan over it.

:func:`read_scene` and :func:`read_frame_sample` read what is shown (bounded by
the figures, not the file); :func:`plot_frames`, :func:`plot_probe` and
:func:`plot_object` draw it for the report's ``dataset`` notebook.

Examples
--------
>>> import os, tempfile
>>> from ptyevidence.demo import make_demo_data
>>> path = make_demo_data(os.path.join(tempfile.mkdtemp(), "demo.npz"), n_positions=64)
>>> scene = read_scene(path)
>>> scene.object.shape, round(scene.probe_diameter, 1)
((227, 226), 27.9)
"""

from .plots import plot_frames, plot_object, plot_probe
from .read import MEAN_FRAMES, FrameSample, Scene, read_frame_sample, read_scene, shown_frame_indices

__all__ = [
    "MEAN_FRAMES",
    "FrameSample",
    "Scene",
    "plot_frames",
    "plot_object",
    "plot_probe",
    "read_frame_sample",
    "read_scene",
    "shown_frame_indices",
]
