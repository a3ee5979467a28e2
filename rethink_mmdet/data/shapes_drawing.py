"""Drawing of the built-in shapes images, shared by the detection set
(:mod:`.shapes`) and the classification set that stands in for ImageNet
(:mod:`.shapes_classification`, He et al. 2019 Sec. 5: a different task on
images with the same low-level statistics): textured backgrounds, the four
shapes' masks and poses, visible-boundary rims and colours that stand out
from the local background. Every draw comes from the caller's generator.
"""
import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    'SHAPES_CLASSES', 'background', 'sample_pose', 'draw_polygon',
    'shape_mask', 'inner_boundary', 'pick_color'
]

#: The detection set's classes (the four shapes drawn here).
SHAPES_CLASSES = ('circle', 'triangle', 'square', 'star')
MIN_DIAMETER = 0.1  # relative to image_size
MAX_DIAMETER = 0.4
MIN_COLOR_DIST = 100.0  # Euclidean RGB distance to the local background
STAR_INNER_RATIO = 0.45


def background(rng, size):
    """Render a textured background.

    The background is a linear combination of a few separable planes (a
    constant, a linear gradient, sinusoidal stripes and gaussian blobs) with
    random RGB weights, accumulated per channel.

    Args:
        rng (np.random.Generator): Per-image random generator.
        size (int): Image side length in pixels.

    Returns:
        np.ndarray: Float32 array of shape (size, size, 3), roughly within
        [0, 255].
    """
    coords = np.arange(size, dtype=np.float32)
    num_stripes = int(rng.integers(1, 3))
    num_blobs = int(rng.integers(1, 5))
    num_planes = 2 + num_stripes + num_blobs
    planes = np.empty((num_planes, size, size), dtype=np.float32)
    weights = np.empty((num_planes, 3), dtype=np.float32)
    # smooth colour gradient from c0 to c1 along a random direction
    c0 = rng.uniform(30, 225, 3)
    c1 = rng.uniform(30, 225, 3)
    ang = rng.uniform(0, 2 * np.pi)
    gx = coords * np.float32(np.cos(ang))
    gy = coords * np.float32(np.sin(ang))
    gx -= gx.min()
    gy -= gy.min()
    scale = max(float(gx.max() + gy.max()), 1e-6)
    planes[0] = 1
    weights[0] = c0
    np.add(
        gy[:, None] / np.float32(scale),
        gx[None, :] / np.float32(scale),
        out=planes[1])
    weights[1] = c1 - c0
    i = 2
    # faint sinusoidal stripes: sin(a + b) = sin(a)cos(b) + cos(a)sin(b)
    for _ in range(num_stripes):
        ang = rng.uniform(0, np.pi)
        freq = 2 * np.pi / (rng.uniform(0.05, 0.25) * size)
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(4, 10)
        tint = rng.uniform(0.5, 1.0, 3)
        ax = coords * np.float32(freq * np.cos(ang)) + np.float32(phase)
        by = coords * np.float32(freq * np.sin(ang))
        np.multiply(np.cos(by)[:, None], np.sin(ax)[None, :], out=planes[i])
        planes[i] += np.sin(by)[:, None] * np.cos(ax)[None, :]
        weights[i] = amp * tint
        i += 1
    # faint gaussian blobs (separable)
    for _ in range(num_blobs):
        cx, cy = rng.uniform(0, size, 2)
        sigma = rng.uniform(0.05, 0.2) * size
        amp = rng.uniform(10, 25) * rng.choice([-1.0, 1.0])
        tint = rng.uniform(0.5, 1.0, 3)
        k = np.float32(-0.5 / sigma**2)
        ex = np.exp((coords - np.float32(cx))**2 * k)
        ey = np.exp((coords - np.float32(cy))**2 * k)
        np.multiply(ey[:, None], ex[None, :], out=planes[i])
        weights[i] = amp * tint
        i += 1
    # explicit per-channel accumulation (no BLAS: fast for this shape and
    # independent of the BLAS thread count)
    img = np.empty((size, size, 3), dtype=np.float32)
    for c in range(3):
        acc = planes[0] * weights[0, c]
        for p in range(1, num_planes):
            acc += planes[p] * weights[p, c]
        img[..., c] = acc
    return img


def sample_pose(rng,
                size,
                min_diameter=MIN_DIAMETER,
                max_diameter=MAX_DIAMETER):
    """Sample the placement of one object on a ``size`` canvas.

    The diameter is uniform in ``[min_diameter, max_diameter] * size``
    (the detection objects': ``[0.1, 0.4]``); the centre keeps at
    least ~70% of the radius inside the canvas, so objects may be slightly
    truncated by the border.

    Args:
        rng (np.random.Generator): Per-image random generator.
        size (int): Canvas side length in pixels.
        min_diameter (float): Smallest diameter relative to ``size``.
        max_diameter (float): Largest diameter relative to ``size``.

    Returns:
        tuple[float, float, float, float]: Centre ``cx``, ``cy``, radius
        ``r`` and rotation ``theta`` (radians).
    """
    diameter = rng.uniform(min_diameter, max_diameter) * size
    r = diameter / 2
    cx, cy = rng.uniform(0.7 * r, size - 0.7 * r, 2)
    theta = rng.uniform(0, 2 * np.pi)
    return cx, cy, r, theta


def draw_polygon(draw, cx, cy, radii, angles, fill=1):
    """Fill the polygon with vertices at polar ``(radii, angles)`` around
    ``(cx, cy)``.

    Args:
        draw (PIL.ImageDraw.ImageDraw): Drawing context of the mask.
        cx (float): Centre x.
        cy (float): Centre y.
        radii (np.ndarray): Vertex distances from the centre.
        angles (np.ndarray): Vertex angles in radians.
        fill (int): Fill value. Defaults to 1.
    """
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)],
                   1)
    draw.polygon([(float(x), float(y)) for x, y in pts], fill=fill)


def shape_mask(rng, cls_idx, size):
    """Sample the geometry of one object and rasterise its binary mask.

    Args:
        rng (np.random.Generator): Per-image random generator.
        cls_idx (int): Index into :data:`SHAPES_CLASSES`.
        size (int): Image side length in pixels.

    Returns:
        np.ndarray: Boolean mask of shape (size, size).
    """
    cx, cy, r, theta = sample_pose(rng, size)
    canvas = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    name = SHAPES_CLASSES[cls_idx]
    if name == 'circle':
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
    else:
        if name == 'triangle':
            radii = np.full(3, r)
        elif name == 'square':
            radii = np.full(4, r)
        else:  # star
            radii = np.tile([r, r * STAR_INNER_RATIO], 5)
        angles = theta + np.arange(len(radii)) * (2 * np.pi / len(radii))
        draw_polygon(draw, cx, cy, radii, angles)
    return np.asarray(canvas, dtype=np.uint8).astype(bool)


def inner_boundary(mask, width):
    """Pixels of ``mask`` within ``width`` pixels of its border.

    Args:
        mask (np.ndarray): Boolean mask.
        width (int): Border width in pixels.

    Returns:
        np.ndarray: Boolean mask, a subset of ``mask``.
    """
    eroded = mask.copy()
    for _ in range(width):
        nxt = eroded.copy()
        nxt[1:, :] &= eroded[:-1, :]
        nxt[:-1, :] &= eroded[1:, :]
        nxt[:, 1:] &= eroded[:, :-1]
        nxt[:, :-1] &= eroded[:, 1:]
        eroded = nxt
    return mask & ~eroded


def pick_color(rng, local_bg):
    """Sample a fill colour clearly different from the local background.

    Args:
        rng (np.random.Generator): Per-image random generator.
        local_bg (np.ndarray): Mean RGB colour under the object.

    Returns:
        np.ndarray: Float32 RGB colour.
    """
    cands = rng.uniform(0, 255, (16, 3)).astype(np.float32)
    dist = np.linalg.norm(cands - local_bg, axis=1)
    ok = np.flatnonzero(dist >= MIN_COLOR_DIST)
    return cands[ok[0] if len(ok) else int(np.argmax(dist))]
