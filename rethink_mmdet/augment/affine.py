"""Affine maps of the released detection AutoAugment geometric ops.

Coordinates. ``cv2.warpAffine`` (like TF's ``tf.contrib.image.transform``)
works in pixel-index coordinates: pixel ``(i, j)`` has its centre at
``(j, i)``. mmdet boxes and polygons live in continuous coordinates, where
that pixel covers ``[j, j + 1) x [i, i + 1)``. The matrices below are built
in index coordinates exactly as the TF ops build theirs, and
:func:`to_continuous` gives the same map for boxes and polygons, so image,
masks and boxes move together to the sub-pixel (mmdet's ``Rotate`` applies
the index-coordinate matrix to boxes too: a half-pixel offset).

Directions follow the released code (``autoaugment_utils.py``), for a
signed magnitude ``m`` (the transforms negate it at random):

- ``translate_x(image, m)`` moves the content by ``-m`` pixels,
- ``shear_x(image, m)`` maps a point ``(x, y)`` to ``(x - m * y, y)``
  (about the top-left pixel, not the image centre),
- ``rotate(image, m)`` rotates counter-clockwise by ``m`` degrees about the
  image centre (``tf.contrib.image.rotate``).
"""
import cv2
import numpy as np
from mmcv.image.geometric import cv2_interp_codes

from . import levels


def translate_matrix(offset, horizontal=True):
    """``translate_x`` / ``translate_y``: content moves by ``-offset``."""
    if horizontal:
        return np.array([[1., 0., -offset], [0., 1., 0.]])
    return np.array([[1., 0., 0.], [0., 1., -offset]])


def shear_matrix(factor, horizontal=True):
    """``shear_x`` / ``shear_y`` (projective ``[1, f, 0, 0, 1, 0]``,
    forward map ``x' = x - f * y``), about pixel (0, 0)."""
    if horizontal:
        return np.array([[1., -factor, 0.], [0., 1., 0.]])
    return np.array([[1., 0., 0.], [-factor, 1., 0.]])


def rotate_matrix(degrees, height, width):
    """``rotate``: counter-clockwise by ``degrees`` about the image centre
    (``((w - 1) / 2, (h - 1) / 2)`` in index coordinates)."""
    centre = ((width - 1) * 0.5, (height - 1) * 0.5)
    return cv2.getRotationMatrix2D(centre, float(degrees), 1.0)


class WarpArgs:
    """Mixin: the fill / sign / interpolation config keys shared by the
    ``*_BBox`` and ``*_Only_BBoxes`` affine ops."""

    def _init_warp_args(self, img_border_value, mask_border_value,
                        seg_ignore_label, reversal_prob, interpolation):
        if isinstance(img_border_value, (int, float)):
            img_border_value = (float(img_border_value), ) * 3
        self.img_border_value = tuple(img_border_value)
        self.mask_border_value = mask_border_value
        self.seg_ignore_label = seg_ignore_label
        self.reversal_prob = levels.check_probability(reversal_prob,
                                                      'reversal_prob',
                                                      type(self).__name__)
        if interpolation not in cv2_interp_codes:
            raise ValueError(f'{type(self).__name__}: interpolation must be '
                             f'one of {sorted(cv2_interp_codes)}, got '
                             f'{interpolation!r}.')
        self.interpolation = interpolation

    def _warp_args_repr(self):
        return (f'img_border_value={self.img_border_value}, '
                f'mask_border_value={self.mask_border_value}, '
                f'seg_ignore_label={self.seg_ignore_label}, '
                f'reversal_prob={self.reversal_prob}, '
                f'interpolation={self.interpolation}')


#: ``Args:`` entry of the ops whose magnitude is in pixels.
REFERENCE_SIZE_DOC = """\
        reference_size (int, optional): Image size (px) the pixel magnitude
            is for: None keeps the released constant (made for COCO-sized
            images, 640 px); an int ``R`` scales the released pixels by
            ``R / 640`` (``reference/papers.md`` §2: "In a miniature, pixel
            magnitudes must scale with the image"). Defaults to None.
"""


class TranslateOp:
    """Mixin: magnitude ``L/10 * translate_const`` px (times
    ``reference_size / 640`` when given), matrix :func:`translate_matrix`
    (``horizontal`` picks X or Y). Adds the ``reference_size`` keyword to
    the constructor of the op it is mixed into."""

    horizontal = True
    translate_const = levels.TRANSLATE_CONST

    def __init__(self, *args, reference_size=None, **kwargs):
        # set before the base constructor, which calls _magnitude
        self.reference_size = levels.check_reference_size(
            reference_size,
            type(self).__name__)
        super().__init__(*args, **kwargs)

    def _magnitude(self, level):
        return levels.translate_pixels(level, self.translate_const,
                                       self.reference_size)

    def __repr__(self):
        return (f'{super().__repr__()[:-1]}, '
                f'reference_size={self.reference_size})')

    def _matrix(self, signed, height, width):
        return translate_matrix(signed, self.horizontal)


class ShearOp:
    """Mixin: coefficient ``L/10*0.3``, matrix :func:`shear_matrix`."""

    horizontal = True

    def _magnitude(self, level):
        return levels.shear_factor(level)

    def _matrix(self, signed, height, width):
        return shear_matrix(signed, self.horizontal)


class RotateOp:
    """Mixin: ``L/10*30`` degrees, matrix :func:`rotate_matrix` about the
    centre of the array being warped."""

    def _magnitude(self, level):
        return levels.rotate_degrees(level)

    def _matrix(self, signed, height, width):
        return rotate_matrix(signed, height, width)


def to_continuous(matrix):
    """The index-coordinate 2x3 ``matrix`` as a map of continuous
    coordinates: ``p -> M (p - 0.5) + 0.5``."""
    out = np.array(matrix, dtype=np.float64)
    out[:, 2] += 0.5 - out[:, :2].sum(axis=1) * 0.5
    return out


def homography(matrix):
    """2x3 affine -> 3x3 float32 homography (mmdet's
    ``homography_matrix`` convention)."""
    return np.vstack([matrix, [0., 0., 1.]]).astype(np.float32)


def warp(array, matrix, interpolation='bilinear', border_value=0):
    """Warp an ``(H, W)`` or ``(H, W, C)`` array with the index-coordinate
    ``matrix``: ``cv2.warpAffine`` (per channel beyond 4 channels), or
    slicing for a whole-pixel translation; shape and dtype are kept."""
    height, width = array.shape[:2]
    if array.size == 0:
        return array.copy()
    if array.dtype == bool:  # e.g. rasterised PolygonMasks
        return warp(array.view(np.uint8), matrix, interpolation,
                    border_value).astype(bool)
    shift = _integer_shift(matrix)
    if shift is not None:
        return _shift(array, shift, border_value)
    flags = cv2_interp_codes[interpolation]
    if np.isscalar(border_value):
        # cv2 reads a scalar as (v, 0, 0, 0): give every channel the value
        border_value = (float(border_value), ) * 4
    if array.ndim == 3 and array.shape[2] > 4:
        # cv2 has no fast path for > 4 channels (and fills only the first
        # with a scalar border): one 2-D warp per channel is faster
        planes = [
            warp(array[..., i], matrix, interpolation, border_value)
            for i in range(array.shape[2])
        ]
        return np.stack(planes, axis=2)
    out = cv2.warpAffine(
        np.ascontiguousarray(array),
        np.asarray(matrix, dtype=np.float64), (width, height),
        flags=flags,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value)
    return out.reshape(array.shape)


def _integer_shift(matrix):
    """``(dx, dy)`` if ``matrix`` is a whole-pixel translation, else None.
    """
    (a, b, dx), (c, d, dy) = np.asarray(matrix, dtype=np.float64).tolist()
    if (a, b, c, d) == (1.0, 0.0, 0.0, 1.0) and dx.is_integer() and \
            dy.is_integer():
        return int(dx), int(dy)
    return None


def _shift(array, shift, border_value):
    """Whole-pixel translation by slicing: what ``cv2.warpAffine`` gives
    for such a matrix with any interpolation, several times faster."""
    dx, dy = shift
    height, width = array.shape[:2]
    fill = np.ravel(border_value)
    channels = array.shape[2] if array.ndim == 3 else 1
    fill = fill[:channels] if len(fill) >= channels > 1 else fill[0]
    fill = np.asarray(fill).astype(array.dtype)
    out = np.empty_like(array)
    y0, y1 = min(max(dy, 0), height), max(min(height + dy, height), 0)
    x0, x1 = min(max(dx, 0), width), max(min(width + dx, width), 0)
    out[:y0] = fill
    out[y1:] = fill
    out[y0:y1, :x0] = fill
    out[y0:y1, x1:] = fill
    if y0 < y1 and x0 < x1:
        out[y0:y1, x0:x1] = array[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    return out


def warp_masks(masks, matrix, interpolation='bilinear', border_value=0):
    """Warp an ``(N, H, W)`` mask stack, one 2-D warp per mask (about
    twice as fast as mmdet's single ``(H, W, N)`` warp for N > 4)."""
    if len(masks) == 0 or masks.dtype == bool or \
            _integer_shift(matrix) is not None:
        return warp(
            masks.transpose(1, 2, 0), matrix, interpolation,
            border_value).transpose(2, 0, 1)
    height, width = masks.shape[1:]
    masks = np.ascontiguousarray(masks)  # cv2 refuses strided planes
    out = np.empty_like(masks)
    for i, mask in enumerate(masks):
        cv2.warpAffine(
            mask,
            np.asarray(matrix, dtype=np.float64), (width, height),
            dst=out[i],
            flags=cv2_interp_codes[interpolation],
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=float(border_value))
    return out


def transform_points(points, matrix):
    """Apply a 2x3 ``matrix`` to ``(..., 2)`` points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def corner_boxes(boxes, matrix):
    """Enclosing boxes of the four transformed corners of each x1y1x2y2 box
    (the released ``_rotate_bbox`` / ``_shear_bbox`` / ``_shift_bbox`` rule,
    without their integer truncation)."""
    corners = boxes[:, [0, 1, 2, 1, 0, 3, 2, 3]].reshape(-1, 4, 2)
    moved = transform_points(corners, matrix)
    return np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1)


def bitmap_boxes(masks):
    """Tight boxes ``[x1, y1, x2 + 1, y2 + 1]`` of an ``(N, H, W)`` stack and
    whether each mask is non-empty (vectorised
    ``HorizontalBoxes.from_instance_masks``)."""
    num, height, width = masks.shape
    rows = masks.any(axis=2)
    cols = masks.any(axis=1)
    nonempty = rows.any(axis=1)
    x1, y1 = cols.argmax(axis=1), rows.argmax(axis=1)
    x2 = width - cols[:, ::-1].argmax(axis=1)
    y2 = height - rows[:, ::-1].argmax(axis=1)
    boxes = np.stack([x1, y1, x2, y2], axis=1).astype(np.float64)
    boxes[~nonempty] = 0.
    return boxes, nonempty


def _clip_half_plane(points, axis, bound, keep_below):
    """One Sutherland-Hodgman pass of a closed polygon ``(n, 2)``."""
    if len(points) == 0:
        return points
    coord = points[:, axis]
    inside = coord <= bound if keep_below else coord >= bound
    nxt = np.concatenate([points[1:], points[:1]])
    nxt_inside = np.concatenate([inside[1:], inside[:1]])
    crossing = inside != nxt_inside
    denom = np.where(crossing, nxt[:, axis] - coord, 1.0)
    t = np.where(crossing, (bound - coord) / denom, 0.0)
    hits = points + t[:, None] * (nxt - points)
    # per edge: [current if inside, intersection if the edge crosses]
    both = np.stack([points, hits], axis=1).reshape(-1, 2)
    emit = np.stack([inside, crossing], axis=1).reshape(-1)
    return both[emit]


def clip_polygon(points, height, width):
    """Clip a closed polygon ``(n, 2)`` to the image ``[0, w] x [0, h]``."""
    for axis, bound, below in ((0, 0., False), (0, float(width), True),
                               (1, 0., False), (1, float(height), True)):
        points = _clip_half_plane(points, axis, bound, below)
    return points


def _area(points):
    """Shoelace area of a closed polygon ``(n, 2)``."""
    x, y = points[:, 0], points[:, 1]
    twice = np.dot(x[:-1], y[1:]) - np.dot(y[:-1], x[1:])
    return 0.5 * abs(twice + x[-1] * y[0] - y[-1] * x[0])


def transform_polygons(polygons, matrix, height, width):
    """Apply a continuous-coordinate ``matrix`` to mmdet polygon lists and
    clip them to the image (only the parts that leave it are clipped).

    Args:
        polygons (list[list[np.ndarray]]): ``PolygonMasks.masks``.
        matrix (np.ndarray): 2x3 continuous-coordinate affine.
        height (int): Image height.
        width (int): Image width.

    Returns:
        tuple: the new polygon lists (parts clipped to nothing removed; an
        object with no part left gets a zero-area placeholder), their tight
        boxes ``(N, 4)`` and a non-empty flag per object.
    """
    num = len(polygons)
    out = [[] for _ in range(num)]
    parts, owner = [], []
    for i, obj in enumerate(polygons):
        for part in obj:
            if len(part) >= 6:
                parts.append(np.asarray(part, np.float64).reshape(-1, 2))
                owner.append(i)
    low = np.full((num, 2), np.inf)
    high = np.full((num, 2), -np.inf)
    if parts:
        starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
        points = transform_points(np.concatenate(parts), matrix)
        part_low = np.minimum.reduceat(points, starts, axis=0)
        part_high = np.maximum.reduceat(points, starts, axis=0)
        keep = (part_low >= 0).all(1) & (part_high[:, 0] <= width) & \
            (part_high[:, 1] <= height)
        for k, part in enumerate(np.split(points, starts[1:])):
            if not keep[k]:  # only parts leaving the image are clipped
                part = clip_polygon(part, height, width)
                if len(part) < 3 or _area(part) <= 0:
                    continue
                keep[k] = True
                part_low[k], part_high[k] = part.min(0), part.max(0)
            out[owner[k]].append(part)
        owner = np.asarray(owner)[keep]
        np.minimum.at(low, owner, part_low[keep])
        np.maximum.at(high, owner, part_high[keep])
    nonempty = np.isfinite(low[:, 0])
    boxes = np.where(nonempty[:, None], np.concatenate([low, high], 1), 0.)
    for i, obj in enumerate(polygons):
        dtype = obj[0].dtype if len(obj) else np.float32
        if not np.issubdtype(dtype, np.floating):
            dtype = np.float32
        # an object clipped away keeps a zero-area placeholder so rows stay
        # aligned until the caller drops it (PolygonMasks needs one part)
        out[i] = [p.reshape(-1).astype(dtype)
                  for p in out[i]] or [np.zeros(6, dtype)]
    return out, boxes, nonempty
