"""Zoph et al. 2020 self-training: the pseudo-label store, the labeler that
fills it, the dataset that serves it, mixed human/pseudo batches, the
student wrapper with loss normalization and iterative rounds, and joint
training with a classification source (Table 7)."""
from .dataset import PseudoLabelDataset
from .joint import (CLASSIFICATION, JointNonFiniteLossError,
                    JointTrainingDetector)
from .joint_data import ImageFolderClsDataset, PackJointClsInputs
from .joint_head import JointClsHead
from .joint_hook import JointStateHook
from .labeler import (IMAGE_EXTENSIONS, SOURCE_KINDS, ImageSourceError,
                      UnlabeledImages, build_teacher, label_images,
                      list_images, test_pipeline_cfg)
from .loading import LoadPseudoAnnotations
from .loss_norm import LossNormalizer, NonFiniteLossError
from .mixed_batch_sampler import MixedSourceBatchSampler
from .sampler import MixedSourceSampler
from .sources import (HUMAN, PSEUDO, SOURCE_KEY, STUDENT_META_KEYS,
                      MultiSourceDataset, PackStudentInputs, SetDataSource)
from .store import (FORMAT, FORMAT_VERSION, PseudoLabelStore,
                    PseudoLabelStoreError, completed_chunks, export_coco,
                    finalize_store, import_coco_results, write_chunk)
from .student import SelfTrainingDetector
from .student_init_hook import StudentInitCheckHook

__all__ = [
    'FORMAT', 'FORMAT_VERSION', 'PseudoLabelStore', 'PseudoLabelStoreError',
    'completed_chunks', 'export_coco', 'finalize_store', 'import_coco_results',
    'write_chunk', 'PseudoLabelDataset', 'IMAGE_EXTENSIONS', 'SOURCE_KINDS',
    'ImageSourceError', 'UnlabeledImages', 'build_teacher', 'label_images',
    'list_images', 'test_pipeline_cfg', 'MixedSourceBatchSampler',
    'MixedSourceSampler', 'HUMAN', 'PSEUDO', 'SOURCE_KEY', 'STUDENT_META_KEYS',
    'MultiSourceDataset', 'PackStudentInputs', 'SetDataSource',
    'LoadPseudoAnnotations', 'LossNormalizer', 'NonFiniteLossError',
    'SelfTrainingDetector', 'StudentInitCheckHook', 'CLASSIFICATION',
    'JointClsHead', 'JointNonFiniteLossError', 'JointTrainingDetector',
    'ImageFolderClsDataset', 'PackJointClsInputs', 'JointStateHook'
]
