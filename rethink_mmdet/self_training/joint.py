# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Joint training: image classification beside detection (Zoph et al. 2020).

Zoph et al. 2020 ("Rethinking Pre-training and Self-training", Sec. 4.4 and
App. H) [V]: ImageNet classification trained jointly with COCO detection,
"the exact setup as self-training" (every batch split between the
sources), with the total loss::

    L = L_COCO + w * L_ImageNet

``w = 0.5`` for joint training alone and ``w = 0.2`` together with
self-training (Table 7). In the three-source case (human + pseudo +
classification images) ``L_COCO`` is the self-training student's loss with
the pseudo term normalized (App. B, :class:`~.loss_norm.LossNormalizer`).

:class:`JointTrainingDetector` is the :class:`~.student.SelfTrainingDetector`
with a classification term: the samples of the classification source
(``metainfo['data_source']``, set by :class:`~.sources.MultiSourceDataset`)
are taken out of the batch, the detection samples go to the student's own
``loss`` unchanged, and the classification images pass the inner
detector's backbone and :class:`~.joint_head.JointClsHead` (global average
pooling of the last backbone output, one linear layer, cross-entropy
against the image-level label packed by
:class:`~.joint_data.PackJointClsInputs`).
"""
import math
from collections import OrderedDict
from typing import Dict, List, Optional, Union

import torch
from mmengine import dist
from mmengine.logging import print_log
from torch import Tensor, nn

from mmdet.registry import MODELS
from mmdet.structures import SampleList
from .joint_head import CLS_HEAD_KEY
from .loss_norm import PSEUDO_TERM, NonFiniteLossError, _current_iteration
from .part_forward import slice_batch
from .sources import SOURCE_KEY
from .student import LOSS_NORM_KEY, TOTAL_KEY, SelfTrainingDetector

__all__ = [
    'CLS_TERM', 'CLASSIFICATION', 'JOINT_STATE_PREFIXES', 'DEFAULT_CLS_WEIGHT',
    'JointNonFiniteLossError', 'JointTrainingDetector'
]

#: Name of the classification term (messages, ``NonFiniteLossError.term``).
CLS_TERM = 'classification'
#: Default source name of the classification images.
CLASSIFICATION = 'classification'
#: ``state_dict`` prefixes of the wrapper's own state (not the detector's):
#: :class:`~.joint_hook.JointStateHook` keeps them out of the checkpoint's
#: ``state_dict``.
JOINT_STATE_PREFIXES = (CLS_HEAD_KEY + '.', LOSS_NORM_KEY + '.')
#: Zoph et al. 2020, App. H [V]: w = 0.5 for joint training alone (0.2 with
#: self-training).
DEFAULT_CLS_WEIGHT = 0.5
#: Log keys of the student that mean nothing without a pseudo source.
_PSEUDO_LOG_KEYS = ('loss_pseudo', 'loss_pseudo_avg', 'pseudo_weight',
                    'pseudo_boxes_per_image')


class JointNonFiniteLossError(NonFiniteLossError):
    """The classification loss ``L_cls`` of joint training is NaN or
    infinite: a :class:`~.loss_norm.NonFiniteLossError` whose ``term`` is
    :data:`CLS_TERM`.

    Args:
        where (str): The iteration, e.g. ``'training iteration 13'``.
        detail (str): What else is known (value on this rank, ranks).
    """

    def __init__(self, where: str, detail: str = '') -> None:
        super().__init__(CLS_TERM, where, detail)
        self.args = (
            f'Joint training: the {CLS_TERM} loss L_cls is not finite at '
            f'{where}{" (" + detail + ")" if detail else ""}. Training stops '
            'rather than skip the step. Check the classification labels '
            '(gt_label within cls_head.num_classes) and images, lower '
            'model.cls_weight or the learning rate, or clip gradients '
            '(optim_wrapper.clip_grad).', )


@MODELS.register_module()
class JointTrainingDetector(SelfTrainingDetector):
    """Detection trained jointly with image classification, around any mmdet
    detector (Zoph et al. 2020, Sec. 4.4, Table 7, App. H).

    Config form (``_delete_=True``, else the base model's keys are merged
    into this dict)::

        model = dict(_delete_=True, type='JointTrainingDetector',
                     detector={{_base_.model}},
                     cls_head=dict(num_classes=1000),
                     cls_weight=0.5)
        # + self-training (human + pseudo + classification):
        #   self_training=True, loss_norm=dict(pseudo_weight=2.0),
        #   cls_weight=0.2

    **Loss.** Each batch is split by ``metainfo['data_source']``: the samples
    of ``cls_source`` are the classification part, all others go to the
    self-training student's ``loss`` (:class:`~.student.SelfTrainingDetector`,
    same ``source_terms``, ``part_forward``, ``score_weighted``), whose total
    is ``L_det``::

        L = L_det + w * L_cls          # Zoph et al. 2020, Sec. 4.4 / App. H

    - ``self_training=False`` (joint training alone): the detection part
      holds human images only and ``L_det = L_h`` exactly (the student's
      plain joint loss with ``a = 0``); a pseudo-labelled image is an error.
    - ``self_training=True`` (the three-source case): ``L_det`` is the
      student's ``1/(1+a) * (L_h + a * Lbar_h / Lbar_p * L_p)`` (App. B,
      ``loss_norm``). How the paper adds ``w L_cls`` to the normalized
      loss is not stated [U]: here it is added to the normalized ``L_det``.

    ``L_cls`` is the cross-entropy of :class:`~.joint_head.JointClsHead` on
    the last output of the detector's backbone for the classification
    images. They pass the backbone in their own forward (neck and heads do
    not run on them); with GN (or frozen BN) that is the same as one forward
    of the whole batch, with BN their statistics are their own [U]. Every
    batch needs a classification part (``MixedSourceSampler`` gives each
    source its share) and a detection part.

    Logged beside the student's items: ``loss`` (= L), ``loss_det``,
    ``loss_cls`` (L_cls before weighting), ``cls_weight`` (w), ``cls_acc``
    (top-1 accuracy of the batch's classification images). Without
    self-training the student's pseudo items are not logged.

    **Checkpoints.** ``state_dict`` keys are the plain detector's plus
    ``cls_head.*`` and ``loss_norm.*`` (:data:`JOINT_STATE_PREFIXES`).
    :class:`~.joint_hook.JointStateHook` (in ``custom_hooks`` of every joint
    config) moves those to ``checkpoint['joint_state_dict']`` when saving,
    as mmengine's ``EMAHook`` keeps ``ema_state_dict``, so the checkpoint's
    ``state_dict`` loads into the plain detector config with
    ``strict=True``, and puts them back when resuming. A checkpoint
    without them (the plain detector's, e.g. the teacher) loads into this
    model with a fresh head and fresh averages.

    Args:
        detector (dict): The mmdet detector config (as the student's).
        cls_head (dict): :class:`~.joint_head.JointClsHead` keys:
            ``num_classes`` (required), ``in_channels`` (default:
            ``neck.in_channels[-1]`` of the built detector), ``init_cfg``;
            ``type`` defaults to ``'JointClsHead'``.
        cls_weight (float): ``w``, the weight of ``L_cls``, >= 0. Defaults
            to 0.5 (Zoph et al. 2020, App. H: joint training alone; 0.2
            with self-training) [V].
        cls_source (str): The source name (``MultiSourceDataset.sources``)
            of the classification images. Defaults to ``'classification'``.
        self_training (bool): Whether the detection part also holds
            pseudo-labelled images (see **Loss**). Defaults to False.
        loss_norm (dict, optional): The student's ``loss_norm``
            (:class:`~.loss_norm.LossNormalizer` keys); only with
            ``self_training=True``. Defaults to None (its defaults).
        score_weighted (bool): As the student's; only with
            ``self_training=True``. Defaults to False.
        **student_kwargs: The student's other keys, with its defaults:
            ``source_terms`` (detection sources only), ``part_forward``,
            ``data_preprocessor``, ``init_cfg`` (of the wrapper itself).
    """

    def __init__(self,
                 detector: dict,
                 cls_head: dict,
                 cls_weight: float = DEFAULT_CLS_WEIGHT,
                 cls_source: str = CLASSIFICATION,
                 self_training: bool = False,
                 loss_norm: Optional[dict] = None,
                 score_weighted: bool = False,
                 **student_kwargs) -> None:
        if isinstance(cls_weight, bool) or not isinstance(
                cls_weight, (int, float)) or not math.isfinite(cls_weight) \
                or cls_weight < 0:
            raise ValueError(
                f'JointTrainingDetector: cls_weight={cls_weight!r} must be a '
                'finite number >= 0 (w of L = L_det + w * L_cls; Zoph et al. '
                '2020, App. H: 0.5 for joint training, 0.2 with '
                'self-training). Set model.cls_weight.')
        if not isinstance(cls_source, str) or not cls_source:
            raise ValueError(
                f'JointTrainingDetector: cls_source={cls_source!r} must be '
                'the (non-empty) source name of the classification images.')
        source_terms = student_kwargs.get('source_terms') or {}
        if cls_source in source_terms:
            raise ValueError(
                f'JointTrainingDetector: cls_source={cls_source!r} is also a '
                f'detection source in source_terms={source_terms}; give the '
                'classification images a source name of their own.')
        if not self_training:
            extra = [
                k for k, v in (('loss_norm', loss_norm), ('score_weighted',
                                                          score_weighted)) if v
            ]
            if extra:
                raise ValueError(
                    f'JointTrainingDetector: {extra} configure the pseudo '
                    'term, but self_training=False (joint training alone: '
                    'L = L_h + w * L_cls). Set model.self_training=True for '
                    'the three-source arm, or remove them.')
            # the student's plain joint loss L_h + a * L_p with a = 0: L_h
            loss_norm = dict(pseudo_weight=0., normalize=False)
        super().__init__(
            detector=detector,
            loss_norm=loss_norm,
            score_weighted=score_weighted,
            **student_kwargs)
        if CLS_HEAD_KEY in self.detector._modules:
            raise ValueError(
                f'JointTrainingDetector: the inner '
                f'{type(self.detector).__name__} has a submodule named '
                f'{CLS_HEAD_KEY!r}, which the wrapper uses.')
        if not isinstance(getattr(self.detector, 'backbone', None), nn.Module):
            raise TypeError(
                'JointTrainingDetector: the inner '
                f'{type(self.detector).__name__} has no `backbone` module '
                'for the classification head to sit on.')
        if not isinstance(cls_head, dict) or 'num_classes' not in cls_head:
            raise ValueError(
                f'JointTrainingDetector: cls_head={cls_head!r} must be a '
                'dict with num_classes (the classification source\'s, e.g. '
                'cls_head=dict(num_classes=1000) for ImageNet).')
        head_cfg = dict(type='JointClsHead')
        head_cfg.update(cls_head)
        if head_cfg.get('in_channels') is None:
            head_cfg['in_channels'] = self._last_backbone_channels()
        self.cls_head = MODELS.build(head_cfg)
        self.cls_weight = float(cls_weight)
        self.cls_source = cls_source
        self.self_training = bool(self_training)

    def _last_backbone_channels(self) -> int:
        """Channels of the backbone's last output, from an FPN-like neck's
        ``in_channels`` list."""
        neck = getattr(self.detector, 'neck', None)
        if isinstance(neck, nn.Sequential) and len(neck):
            neck = neck[0]
        channels = getattr(neck, 'in_channels', None)
        if isinstance(channels, (list, tuple)) and channels:
            channels = channels[-1]
        if isinstance(channels, int) and not isinstance(channels, bool):
            return channels
        raise ValueError(
            'JointTrainingDetector: cannot tell the channels of the last '
            f'backbone output of {type(self.detector).__name__} (no neck '
            f'with in_channels). Set model.{CLS_HEAD_KEY}.in_channels.')

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def split_classification(self, batch_data_samples: SampleList):
        """Batch indexes of the classification and the detection samples.

        Raises:
            ValueError: A batch without classification images or without
                detection images.
        """
        cls_idx, det_idx = [], []
        for i, sample in enumerate(batch_data_samples):
            is_cls = sample.metainfo.get(SOURCE_KEY) == self.cls_source
            (cls_idx if is_cls else det_idx).append(i)
        if not cls_idx:
            found = sorted(
                {str(s.metainfo.get(SOURCE_KEY))
                 for s in batch_data_samples})
            raise ValueError(
                'JointTrainingDetector: the batch has no image of the '
                f'classification source model.cls_source={self.cls_source!r}'
                f' (sources in the batch: {found}). Joint training needs one '
                'in every batch: add the classification dataset to '
                "train_dataloader.dataset (type='MultiSourceDataset', "
                f"sources=[..., {self.cls_source!r}]) with a share in "
                "train_dataloader.sampler (type='MixedSourceSampler', "
                'source_ratio), or set model.cls_source to its source name.')
        if not det_idx:
            raise ValueError(
                'JointTrainingDetector: the batch has classification images '
                'only; every batch needs detection images too (give the '
                'detection sources a share in MixedSourceSampler.'
                'source_ratio).')
        return cls_idx, det_idx

    def split_sources(self,
                      batch_data_samples: SampleList) -> Dict[str, List[int]]:
        """The student's split of the detection samples; without
        self-training a pseudo-labelled sample is an error."""
        parts = super().split_sources(batch_data_samples)
        if parts[PSEUDO_TERM] and not self.self_training:
            raise ValueError(
                'JointTrainingDetector(self_training=False): the batch holds '
                f'{len(parts[PSEUDO_TERM])} pseudo-labelled images, whose '
                'loss would be dropped. Set model.self_training=True (and '
                'model.loss_norm) for the three-source arm, or remove the '
                'pseudo source from train_dataloader.dataset.')
        return parts

    def _classification_loss(self, inputs: Union[Tensor, list],
                             samples: SampleList) -> Dict[str, Tensor]:
        """``loss_cls`` and ``cls_acc`` of the classification images; a
        non-finite ``L_cls`` on any rank raises on every rank."""
        if not isinstance(inputs, Tensor):
            inputs = torch.stack(list(inputs))
        out = self.cls_head.loss(self.detector.backbone(inputs), samples)
        value = out['loss_cls'].detach().float().reshape(())
        bad = (~torch.isfinite(value)).float().reshape(1)
        if self.training:
            dist.all_reduce(bad, op='sum')
        if bad.item():
            world = dist.get_world_size()
            raise JointNonFiniteLossError(
                f'{_current_iteration()}the classification part of the '
                'batch', f'{float(value):g} on this rank' +
                (f', non-finite on {int(bad.item())} of {world} ranks'
                 if world > 1 else ''))
        return out

    def loss(self, batch_inputs: Union[Tensor, list],
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """``L = L_det + w * L_cls`` of the batch (see the class docstring).

        Returns:
            dict: :data:`TOTAL_KEY` (the total) and logged items;
            :meth:`parse_losses` sums none of them.
        """
        cls_idx, det_idx = self.split_classification(batch_data_samples)
        num = len(batch_data_samples)

        def part(idx):
            if isinstance(batch_inputs, Tensor):
                return slice_batch(batch_inputs, idx, num)
            return [batch_inputs[i] for i in idx]

        cls = self._classification_loss(
            part(cls_idx), [batch_data_samples[i] for i in cls_idx])
        det = super().loss(
            part(det_idx), [batch_data_samples[i] for i in det_idx])
        loss_det = det.pop(TOTAL_KEY)
        result = OrderedDict()
        result[TOTAL_KEY] = loss_det + self.cls_weight * cls['loss_cls']
        result['loss_det'] = loss_det.detach()
        result['loss_cls'] = cls['loss_cls'].detach()
        result['cls_weight'] = loss_det.detach().new_tensor(self.cls_weight)
        result['cls_acc'] = cls['cls_acc']
        for key, value in det.items():
            if self.self_training or not (key in _PSEUDO_LOG_KEYS or
                                          key.startswith(PSEUDO_TERM + '_')):
                result[key] = value
        return result

    # ------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys,
                              error_msgs) -> None:
        """The student's loading (plain detector keys accepted) with the
        ``cls_head.*`` keys kept for the head; a checkpoint without them
        (a plain detector's, or a joint one loaded without resuming) leaves
        the head as it is and reports no missing key."""
        head = prefix + CLS_HEAD_KEY + '.'
        own = {
            k: state_dict.pop(k)
            for k in list(state_dict) if k.startswith(head)
        }
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if not own:
            own = {head + k: v for k, v in self.cls_head.state_dict().items()}
            print_log(
                'JointTrainingDetector: the checkpoint has no classification '
                'head (a plain detector checkpoint, or a joint one loaded '
                'without resuming): the head keeps its initialization.',
                logger='current')
        state_dict.update(own)
