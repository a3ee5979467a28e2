"""Small helpers shared by the package: the one atomic-write helper, the
JSON writer, the progress bar, value checks and (scalars.py) the reader of
mmengine's scalars.json logs."""
from .atomic_io import (TMP_MARKER, atomic_output, atomic_write, dump_json,
                        is_temp_file, temp_path_for)
from .misc import is_int, progress

__all__ = [
    'TMP_MARKER', 'atomic_output', 'atomic_write', 'dump_json', 'is_temp_file',
    'temp_path_for', 'is_int', 'progress'
]
