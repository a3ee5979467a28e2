"""Shared pieces of the segmentation student tests: the tiny GN
Semantic-FPN of the shapes configs at 64 px, and human/pseudo batches from a
real ``MultiSourceDataset`` of two ``ShapesSegDataset`` sources through
real pipelines ending in ``PackSegInputs`` (with ``data_source``)."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_seg import make_shapes_seg
from rethink_mmdet.self_training.sources import HUMAN, PSEUDO

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_DIR = osp.join(REPO, 'configs', 'shapes', 'seg')
TEACHER_CFG = osp.join(SEG_DIR, 'fpn_r18-tiny-scratch_gn_shapes-seg.py')
STUDENT_CFG = osp.join(SEG_DIR,
                       'fpn_r18-tiny-scratch_gn_selftrain_shapes-seg.py')
SIZE = 64
IGNORE = 255
GN = dict(type='GN', num_groups=8, requires_grad=True)
AUX_HEAD = dict(
    type='FCNHead',
    in_channels=32,
    in_index=2,
    channels=16,
    num_convs=1,
    concat_input=False,
    dropout_ratio=0.,
    num_classes=5,
    norm_cfg=GN,
    align_corners=False,
    loss_decode=dict(
        type='CrossEntropyLoss', loss_weight=0.4, avg_non_ignore=True))


def make_seg_data(root):
    """Shapes images at 64 px with their class maps (8 train, 4 val)."""
    make_shapes(
        root, num_train=8, num_val=4, num_unlabeled=0, seed=0, image_size=SIZE)
    make_shapes_seg(root, splits=('train', 'val'))
    return root.rstrip('/') + '/'


def seg_model_cfg(aux=False):
    """The shapes configs' tiny segmentor at 64 px, without dropout (so
    that two forwards draw no different masks); ``aux``: with an FCN
    auxiliary head."""
    model = copy.deepcopy(Config.fromfile(TEACHER_CFG).model)
    model.data_preprocessor.size = (SIZE, SIZE)
    model.data_preprocessor.size_divisor = None  # one of the two
    model.decode_head.dropout_ratio = 0.
    if aux:
        model.auxiliary_head = copy.deepcopy(AUX_HEAD)
    return model


def pipeline(meta_keys):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs', meta_keys=meta_keys)
    ]


def source_dataset_cfg(root, meta_keys):
    """``mmdet.MultiSourceDataset`` (from mmseg's scope) of the train split
    as ``human`` and the val split as ``pseudo``."""
    return dict(
        type='mmdet.MultiSourceDataset',
        sources=[HUMAN, PSEUDO],
        datasets=[
            dict(
                type='ShapesSegDataset',
                data_root=root,
                data_prefix=dict(
                    img_path=split + '/', seg_map_path=f'seg_maps/{split}/'),
                pipeline=pipeline(meta_keys)) for split in ('train', 'val')
        ])


def make_batch(dataset, sources, model, edit=None, start=0):
    """Preprocessed ``(inputs, data_samples)`` of items of ``dataset``, one
    per name in ``sources`` (``'human'`` / ``'pseudo'``, in that batch
    order); ``edit(label_map, source)`` may change each label map first."""
    human = [i for i in range(len(dataset)) if dataset.source_of(i) == HUMAN]
    pseudo = [i for i in range(len(dataset)) if dataset.source_of(i) == PSEUDO]
    pools = {HUMAN: iter(human[start:]), PSEUDO: iter(pseudo[start:])}
    items = [dataset[next(pools[s])] for s in sources]
    if edit is not None:
        for item, source in zip(items, sources):
            edit(item['data_samples'].gt_sem_seg.data, source)
    data = model.data_preprocessor(pseudo_collate(items), True)
    return data['inputs'], data['data_samples']


def build_pair(model_cfg, seed=0, **student_kwargs):
    """A plain segmentor and a ``SelfTrainingSegmentor`` around the same
    config, with the same weights (the plain keys load into the student)."""
    from mmseg.registry import MODELS
    torch.manual_seed(seed)
    plain = MODELS.build(copy.deepcopy(model_cfg))
    plain.init_weights()
    student = MODELS.build(
        dict(
            type='SelfTrainingSegmentor',
            segmentor=copy.deepcopy(model_cfg),
            **student_kwargs))
    student.load_state_dict(plain.state_dict(), strict=True)
    return plain.train(), student.train()
