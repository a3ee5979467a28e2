"""mmdet's ``RandomCrop`` and ``FilterAnnotations`` with every per-box key
kept in step.

mmdet 3.3's ``RandomCrop`` drops the rows of ``gt_bboxes``,
``gt_bboxes_labels``, ``gt_ignore_flags``, ``gt_masks`` and
``gt_instances_ids`` of boxes that leave the crop, and ``FilterAnnotations``
those of the first four; any other per-box column -- the self-training
student's ``gt_scores`` -- would go out of step with the boxes. These
subclasses drop the same rows of every key in
:data:`rethink_mmdet.augment.instances.INSTANCE_KEYS`. They are the crop and
filter of the Aug-S1..S4 scale jitter (``configs/_base_/augment/``).
"""
import numpy as np
import torch

from mmdet.datasets.transforms import FilterAnnotations, RandomCrop
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import autocast_box_type
from .instances import INSTANCE_KEYS, check_instances, filter_instances

# The per-box keys mmdet's RandomCrop indexes itself.
_CROP_KEYS = ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_masks')
# mmdet's RandomCrop keeps this column in step with the boxes; it carries
# the row index through the crop.
_IDS_KEY = 'gt_instances_ids'


@TRANSFORMS.register_module()
class RandomCropInstances(RandomCrop):
    """mmdet's ``RandomCrop`` that also drops, with the boxes that leave
    the crop, the rows of the per-box keys it does not know (``gt_scores``).

    Required Keys: those of mmdet's ``RandomCrop`` (img, gt_bboxes,
    gt_bboxes_labels, gt_ignore_flags, gt_masks, gt_seg_map, all but img
    optional), and

    - gt_scores (np.float32) (optional)

    Modified Keys: those of mmdet's ``RandomCrop`` (img, img_shape, the
    per-box keys, gt_seg_map), and

    - gt_scores (the rows of the boxes kept)

    Added Keys:

    - homography_matrix

    Args:
        crop_size (tuple): As in mmdet's ``RandomCrop`` (``(w, h)`` for
            'absolute').
        crop_type (str): As in mmdet's ``RandomCrop``. Defaults to
            'absolute'.
        allow_negative_crop (bool): Keep a crop with no box (else the
            transform returns None and the dataset draws another image).
            Defaults to False.
        recompute_bbox (bool): With masks, each box becomes the tight box
            of its cropped mask. Defaults to False.
        bbox_clip_border (bool): Clip boxes to the crop. Defaults to True.
    """

    def _crop_data(self, results, crop_size, allow_negative_crop):
        extra = [
            key for key in INSTANCE_KEYS
            if key not in _CROP_KEYS and results.get(key) is not None
        ]
        num = check_instances(results)
        if not extra or num is None:
            return super()._crop_data(results, crop_size, allow_negative_crop)
        ids = results.get(_IDS_KEY)
        results[_IDS_KEY] = np.arange(num)
        out = super()._crop_data(results, crop_size, allow_negative_crop)
        if out is None:
            return None
        kept = np.asarray(out.pop(_IDS_KEY), dtype=np.int64)
        if ids is not None:
            out[_IDS_KEY] = ids[kept]
        for key in extra:
            value = out[key]
            out[key] = value[torch.as_tensor(kept)] if isinstance(
                value, torch.Tensor) else value[kept]
        check_instances(out)
        return out


@TRANSFORMS.register_module()
class FilterInstances(FilterAnnotations):
    """mmdet's ``FilterAnnotations`` that drops the rows of every per-box key
    (``INSTANCE_KEYS``, with ``gt_scores``), not only boxes, labels, masks
    and ignore flags.

    Required Keys: those of mmdet's ``FilterAnnotations`` (gt_bboxes;
    gt_bboxes_labels, gt_masks, gt_ignore_flags optional), and

    - gt_scores (np.float32) (optional)

    Modified Keys:

    - gt_bboxes, and the rows of every other per-box key

    Args:
        min_gt_bbox_wh (tuple[float]): A box is kept if its width and height
            are both larger. Defaults to (1, 1).
        min_gt_mask_area (int): With ``by_mask``, a box is kept if its mask
            has at least this many pixels. Defaults to 1.
        by_box (bool): Filter by box size. Defaults to True.
        by_mask (bool): Filter by mask area. Defaults to False.
        keep_empty (bool): mmdet's name, inverted meaning: True returns None
            (the dataset draws another image) when no box is left; False
            keeps the image with no box, as a negative. Defaults to True.
    """

    @autocast_box_type()
    def transform(self, results):
        """Drop the rows of the boxes that fail the tests."""
        if 'gt_bboxes' not in results:
            raise KeyError(f'{type(self).__name__}: results has no '
                           "'gt_bboxes'; put it after LoadAnnotations.")
        boxes = results['gt_bboxes']
        if len(boxes) == 0:
            return results
        keep = np.ones(len(boxes), dtype=bool)
        if self.by_box:
            keep &= ((boxes.widths > self.min_gt_bbox_wh[0]) &
                     (boxes.heights > self.min_gt_bbox_wh[1])).numpy()
        if self.by_mask:
            if results.get('gt_masks') is None:
                raise KeyError(f'{type(self).__name__}(by_mask=True): '
                               "results has no 'gt_masks'; load masks "
                               '(LoadAnnotations(with_mask=True)) or set '
                               'by_mask=False.')
            keep &= results['gt_masks'].areas >= self.min_gt_mask_area
        if not keep.any() and self.keep_empty:
            return None
        return filter_instances(results, keep)
