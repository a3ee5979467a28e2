"""Pre-training: the package's ImageNet stand-in for He et al. 2019's
pre-trained arm (a classifier around a detector backbone, its packer and
accuracy metric, and the shapes classification dataset)."""
from rethink_mmdet.data.shapes_classification import make_shapes_classification
from rethink_mmdet.data.shapes_cls_dataset import ShapesClsDataset
from .classifier import BackboneClassifier
from .metric import TopKAccuracy
from .pretrained_file_hook import PretrainedFileHook
from .transforms import PackClsInputs

__all__ = [
    'BackboneClassifier', 'PackClsInputs', 'PretrainedFileHook',
    'ShapesClsDataset', 'TopKAccuracy', 'make_shapes_classification'
]
