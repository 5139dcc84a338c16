"""Writers: deterministic NPZ archives and CXI-to-NPZ conversion.

:func:`write_npz` writes members in a fixed order with fixed timestamps, so
the same arrays always give the same bytes; :class:`StreamedArray` lets a
member be written block by block. :func:`convert_cxi` turns a CXI file into
a DATA-001 NPZ.
"""

from .convert import (
    convert_cxi,
    load_probe,
    minimum_object_shape,
    parse_object_shape,
    read_metadata,
)
from .npz import StreamedArray, write_npz

__all__ = [
    "StreamedArray",
    "convert_cxi",
    "load_probe",
    "minimum_object_shape",
    "parse_object_shape",
    "read_metadata",
    "write_npz",
]
