"""Zoph et al. 2020 augmentation strength Aug-S1..S4: the detection
AutoAugment operations and policies v0..v3 (Zoph et al. 2019, released
tensorflow/tpu ``autoaugment_utils.py``), detection RandAugment (EfficientDet)
and large scale jitter, as mmdet transforms registered in
``mmdet.registry.TRANSFORMS``."""
# yapf: disable  (isort's layout; yapf would move the noqa)
from . import (bbox_only, bbox_only_pixel, colour, crop, cutout,  # noqa: F401
               geometric, instances, levels, policies, randaugment)

# yapf: enable
