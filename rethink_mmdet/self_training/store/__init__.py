"""The pseudo-label store: compact, memory-mapped teacher labels (Zoph et
al. 2020, Sec. 3). One concern per module: :mod:`.layout` (the format),
:mod:`.columns` (column I/O), :mod:`.chunks` (writing), :mod:`.merge`
(finalizing), :mod:`.reader` (:class:`PseudoLabelStore`), :mod:`.coco`
(COCO interchange)."""
from .chunks import completed_chunks, write_chunk, write_chunk_columns
from .coco import export_coco, import_coco_results
from .columns import offsets
from .layout import *  # noqa: F401,F403  (the format's names)
from .layout import FORMAT, FORMAT_VERSION, PseudoLabelStoreError
from .merge import finalize_store
from .reader import PseudoLabelStore

__all__ = [
    'FORMAT', 'FORMAT_VERSION', 'PseudoLabelStore', 'PseudoLabelStoreError',
    'completed_chunks', 'export_coco', 'finalize_store', 'import_coco_results',
    'offsets', 'write_chunk', 'write_chunk_columns'
]
