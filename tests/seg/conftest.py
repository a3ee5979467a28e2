"""Fixtures of the segmentation tests.

Every test here runs in mmseg's default scope, restored afterwards: a
default scope left set (by ``init_default_scope`` or a Runner) would
make later detection tests look their transforms up in mmseg.

Small shapes class maps (64 px) and a tiny Semantic-FPN teacher checkpoint
(random init, its classifier scaled so that the averaged probabilities
fall on both sides of 0.5)."""
import os.path as osp

import pytest

from tests.conftest import REPO

SEG_TEACHER = osp.join(REPO, 'configs', 'shapes', 'seg',
                       'fpn_r18-tiny-scratch_gn_shapes-seg.py')
#: The shapes images are 64 px here: the teacher's test Resize follows.
IMAGE_SIZE = 64
#: ``--cfg-options`` (and in-process edit) for 64 px images.
SIZE_OPTION = f'test_dataloader.dataset.pipeline.1.scale=({IMAGE_SIZE},' \
              f'{IMAGE_SIZE})'
#: Factor on the random classifier: spreads the logits so that some
#: pixels pass the 0.5 threshold and others do not.
LOGIT_SCALE = 40.0


def seg_teacher_cfg():
    """The tiny teacher config, its test Resize set to the 64 px images."""
    from mmengine.config import Config
    cfg = Config.fromfile(SEG_TEACHER)
    cfg.test_dataloader.dataset.pipeline[1]['scale'] = (IMAGE_SIZE, IMAGE_SIZE)
    return cfg


@pytest.fixture(scope='session')
def seg_shapes_root(tmp_path_factory):
    """Shapes data with class maps: 4 train, 2 val, 8 unlabeled, 64 px."""
    from rethink_mmdet.data.shapes import make_shapes
    from rethink_mmdet.data.shapes_seg import make_shapes_seg
    root = str(tmp_path_factory.mktemp('shapes_seg'))
    make_shapes(
        root,
        num_train=4,
        num_val=2,
        num_unlabeled=8,
        seed=0,
        image_size=IMAGE_SIZE)
    make_shapes_seg(root)
    return root


@pytest.fixture(scope='session')
def seg_teacher(tmp_path_factory):
    """An mmengine-style checkpoint of the tiny teacher (seed 0)."""
    import torch
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    import rethink_mmdet.seg  # noqa: F401
    from rethink_mmdet.data.shapes_seg import SEG_CLASSES
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(seg_teacher_cfg().model)
    model.init_weights()
    state = model.state_dict()
    for key in ('decode_head.conv_seg.weight', 'decode_head.conv_seg.bias'):
        state[key] = state[key] * LOGIT_SCALE
    path = str(tmp_path_factory.mktemp('seg_teacher') / 'teacher.pth')
    torch.save(
        dict(
            state_dict=state,
            meta=dict(dataset_meta=dict(classes=SEG_CLASSES))), path)
    return path


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Each test in mmseg's default scope, the previous one restored."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
