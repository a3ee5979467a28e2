"""Zoph et al. 2020 self-training: the pseudo-label store, the labeler that
fills it and the dataset that serves it (the student wrapper comes next)."""
from .dataset import PseudoLabelDataset
from .labeler import (IMAGE_EXTENSIONS, SOURCE_KINDS, ImageSourceError,
                      UnlabeledImages, build_teacher, label_images,
                      list_images, test_pipeline_cfg)
from .store import (FORMAT, FORMAT_VERSION, PseudoLabelStore,
                    PseudoLabelStoreError, completed_chunks, export_coco,
                    finalize_store, import_coco_results, write_chunk)

__all__ = [
    'FORMAT', 'FORMAT_VERSION', 'PseudoLabelStore', 'PseudoLabelStoreError',
    'completed_chunks', 'export_coco', 'finalize_store',
    'import_coco_results', 'write_chunk', 'PseudoLabelDataset',
    'IMAGE_EXTENSIONS', 'SOURCE_KINDS', 'ImageSourceError', 'UnlabeledImages',
    'build_teacher', 'label_images', 'list_images', 'test_pipeline_cfg'
]
