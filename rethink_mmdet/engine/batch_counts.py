"""What one training iteration adds to the images, instances and pixels
seen (He et al. 2019, Fig. 2: convergence compared by what the network has
seen), counted by :class:`~.images_seen.ImagesSeenHook`.

Definitions (what one training iteration adds, per image of the batch):

- images: ``len(data_samples)`` -- every image the sampler served, repeats
  included (a distributed sampler pads its shards with repeats; those are
  trained on and are counted);
- instances: ``len(data_sample.gt_instances)`` -- the ground-truth instances
  as fed to the loss, after the pipeline. Ignored instances (COCO
  ``iscrowd=1``, in ``data_sample.ignored_instances``) are *not* counted:
  they take no part in the loss;
- pixels: ``h * w`` of ``metainfo['img_shape']`` -- the image as fed to the
  network after resizing, *not* the padded batch shape (``pad_shape`` /
  ``batch_input_shape``): padding is no image content, and He et al. count
  the pixels of the ~800x1333 resized images.
"""
from typing import Sequence, Tuple

__all__ = ['count_data_batch']


def count_data_batch(data_batch: dict) -> Tuple[int, int, int]:
    """Count images, ground-truth instances and pixels in one batch.

    Args:
        data_batch (dict): A batch from the train dataloader as given to
            ``after_train_iter``: ``dict(inputs=..., data_samples=[...])``
            with :class:`DetDataSample` items.

    Returns:
        tuple[int, int, int]: ``(images, instances, pixels)``; ignored
        instances are not counted, pixels are ``h * w`` of ``img_shape``.

    Raises:
        TypeError: If the batch holds no list of data samples.
        KeyError: If a data sample lacks ``img_shape`` in its metainfo.
    """
    samples = data_batch.get('data_samples') if isinstance(data_batch,
                                                           dict) else None
    if not isinstance(samples, Sequence):
        raise TypeError(
            'ImagesSeenHook counts a batch of the form dict(inputs=..., '
            'data_samples=[DetDataSample, ...]) as mmdet dataloaders yield '
            f'it, got data_samples of type {type(samples).__name__}. For '
            'multi-branch batches, count the branch that is trained on.')
    instances = pixels = 0
    for sample in samples:
        img_shape = sample.metainfo.get('img_shape')
        if img_shape is None:
            raise KeyError(
                "ImagesSeenHook needs 'img_shape' in the data samples' "
                'metainfo to count pixels; add it to the meta_keys of '
                'PackDetInputs in the train pipeline.')
        h, w = img_shape[:2]
        pixels += int(h) * int(w)
        if 'gt_instances' in sample:
            instances += len(sample.gt_instances)
    return len(samples), instances, pixels
