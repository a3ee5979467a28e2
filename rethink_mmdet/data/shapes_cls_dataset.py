"""``ShapesClsDataset``: the shapes classification images (the package's
ImageNet stand-in for He et al. 2019, Sec. 5; written by
:func:`~.shapes_classification.make_shapes_classification`) as an mmengine
dataset.
"""
from mmengine.dataset import BaseDataset

from mmdet.registry import DATASETS

__all__ = ['ShapesClsDataset']


@DATASETS.register_module()
class ShapesClsDataset(BaseDataset):
    """The shapes classification dataset written by
    :func:`make_shapes_classification`.

    mmengine's ``BaseDataset`` reads the ``metainfo`` / ``data_list`` JSON;
    the class names are the file's ``metainfo.classes`` (the generator
    writes them: :data:`SHAPES_CLS_CLASSES` by default, the detection
    data's four for ``families='detection'``) unless a ``metainfo``
    argument overrides them; this class checks every label against them.
    Accepts every argument of :class:`mmengine.dataset.BaseDataset`;
    configs pass ``data_prefix=dict(img_path='train/')``.
    """

    def load_data_list(self) -> list:
        """Load the annotation file; ``metainfo['classes']`` becomes a
        tuple.

        Returns:
            list[dict]: The parsed entries.
        """
        data_list = super().load_data_list()
        if 'classes' in self._metainfo:
            self._metainfo['classes'] = tuple(self._metainfo['classes'])
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Join ``img_path`` with its prefix and check ``gt_label``.

        Args:
            raw_data_info (dict): One entry of ``data_list``.

        Returns:
            dict: The entry with the full ``img_path``.
        """
        classes = self._metainfo.get('classes')
        if not classes:
            raise ValueError(
                f'{self.ann_file}: no class names in its metainfo.classes; '
                'regenerate it with tools/make_shapes_classification.py.')
        label = raw_data_info.get('gt_label')
        num_classes = len(classes)
        if not isinstance(label, int) or not 0 <= label < num_classes:
            raise ValueError(
                f'{self.ann_file}: entry {raw_data_info!r} has gt_label '
                f'{label!r}; expected an int in [0, {num_classes}). '
                'Regenerate it with tools/make_shapes_classification.py.')
        return super().parse_data_info(raw_data_info)

    def get_cat_ids(self, idx: int) -> list:
        """The label of image ``idx`` as a one-element list (for
        class-aware samplers).

        Args:
            idx (int): Index of the image.

        Returns:
            list[int]: ``[gt_label]``.
        """
        return [self.get_data_info(idx)['gt_label']]
