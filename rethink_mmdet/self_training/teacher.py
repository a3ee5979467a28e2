"""The teacher as the labeler runs it (Zoph et al. 2020, Sec. 3): built
from its config in eval mode with its checkpoint, its class names, its test
score thresholds lowered to the labeler's floor, and the identity a store
records of it (config text and hash, checkpoint hash).
"""
import copy
import json
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from .label_identity import checkpoint_identity, config_sha256
from .score_floor import lower_score_floor
from .unlabeled_images import test_pipeline_cfg

__all__ = [
    'SEG_SCOPE', 'build_teacher', 'is_segmentation_config', 'teacher_meta',
    'teacher_test_cfg'
]

#: ``default_scope`` of a segmentation (MMSegmentation) teacher config: its
#: labels are label maps (:mod:`rethink_mmdet.seg.labeler`), not boxes.
SEG_SCOPE = 'mmseg'


def is_segmentation_config(cfg: Config) -> bool:
    """Whether ``cfg`` is an MMSegmentation config (Zoph et al. 2020,
    Sec. 3.2: the segmentation half), by its ``default_scope``."""
    return cfg.get('default_scope') == SEG_SCOPE


def _detector_cfg(model_cfg):
    """The detector's own config inside a wrapper that keeps it under
    ``detector`` (a ``SelfTrainingDetector`` student used as the next
    teacher, ``JointTrainingDetector``)."""
    while 'detector' in model_cfg and isinstance(model_cfg['detector'], dict):
        model_cfg = model_cfg['detector']
    return model_cfg


def build_teacher(cfg: Config,
                  checkpoint: str,
                  device: str,
                  score_thr: Optional[float] = None):
    """Build the teacher in eval mode with ``checkpoint`` loaded
    (mmengine's ``load_checkpoint``, i.e. weights-only loading) and its
    class names in ``model.dataset_meta``: the checkpoint's
    ``meta.dataset_meta`` if present, else the test dataset's metainfo.
    With ``score_thr`` (the labeler's floor), the model's own test score
    thresholds above it are lowered to it (:func:`lower_score_floor`), so
    that the floor the labeler reports is the one applied.

    The model and (for the class names) the test dataset are built in the
    config's ``default_scope``: mmdet's registries switch to that scope's,
    so an mmseg segmentor config (``default_scope='mmseg'``, the
    segmentation labeler :mod:`rethink_mmdet.seg.labeler`, no
    ``score_thr``) builds its segmentor."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmdet.registry import DATASETS, MODELS
    model_cfg = copy.deepcopy(cfg.model)
    if score_thr is not None:
        for change in lower_score_floor(model_cfg, score_thr):
            print_log(
                f'teacher test score threshold lowered to the '
                f'labeler\'s floor: {change}', 'current')
    model_cfg.pop('init_cfg', None)
    if 'init_cfg' in model_cfg.get('backbone', {}):
        model_cfg.backbone.init_cfg = None  # no pre-trained download
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    ckpt = load_checkpoint(
        model, checkpoint, map_location='cpu', logger='current')
    meta = (ckpt.get('meta') or {}).get('dataset_meta') or {}
    classes = meta.get('classes')
    if classes is None:
        dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
        while 'dataset' in dataset_cfg and 'type' in dataset_cfg.dataset:
            dataset_cfg = dataset_cfg.dataset
        dataset_cfg['lazy_init'] = True
        classes = DATASETS.build(dataset_cfg).metainfo.get('classes')
    if classes is None:
        raise ValueError(
            f'no class names for teacher {cfg.filename}: neither the '
            f'checkpoint {checkpoint} (meta.dataset_meta.classes) nor the '
            'test dataset (metainfo.classes) names them. Set '
            'test_dataloader.dataset.metainfo.classes with --cfg-options.')
    model.dataset_meta = dict(meta, classes=tuple(classes))
    model.cfg = cfg
    return model.to(device).eval()


def teacher_meta(cfg: Config,
                 checkpoint: str,
                 recorded: Optional[dict] = None) -> dict:
    """The store meta's ``teacher`` section: config path, text and
    :func:`~.label_identity.config_sha256`, checkpoint path, sha256, size
    and mtime (the hash reused from ``recorded`` for an unchanged file)."""
    model_cfg = _plain(cfg.model)
    return dict(
        config=osp.abspath(cfg.filename) if cfg.filename else None,
        config_text=_config_text(cfg),
        config_sha256=config_sha256(model_cfg, _plain(test_pipeline_cfg(cfg))),
        **checkpoint_identity(checkpoint, recorded))


def _config_text(cfg: Config) -> str:
    try:
        return cfg.pretty_text
    except Exception:  # noqa: BLE001 (yapf cannot format some configs)
        return cfg.text


def _plain(obj):
    """ConfigDict/tuples -> JSON-serialisable builtins."""
    return json.loads(
        json.dumps(
            obj.to_dict() if hasattr(obj, 'to_dict') else obj, default=str))


def teacher_test_cfg(cfg: Config):
    """The teacher detector's ``test_cfg`` as plain builtins (recorded in
    the store's meta)."""
    return _plain(_detector_cfg(cfg.model).get('test_cfg'))
