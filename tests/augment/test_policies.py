"""Detection AutoAugment policies v0..v3, detection RandAugment and the TF
colour ops: the released tables, the draws and their
frequencies, the released magnitudes, reproducibility in one process and
across dataloader workers.
"""
import copy
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmengine.dataset import pseudo_collate, worker_init_fn
from mmengine.registry import init_default_scope
from scipy import stats
from torch.utils.data import DataLoader

from mmdet.registry import DATASETS, TRANSFORMS
from rethink_mmdet.augment.policies import (BBOX_ONLY_OPS, OP_NAMES, POLICIES,
                                            DetectionAutoAugment, op_config)
from rethink_mmdet.augment.randaugment import (EFFICIENTDET_OPS,
                                               DetectionRandAugment)
from .conftest import assert_rows_aligned, detection_results, random_results

# A chi-square / binomial check fails by chance with probability < 1e-4.
P_MIN = 1e-4


def binomial_ok(count, trials, prob):
    """``count`` successes are plausible for Binomial(trials, prob)."""
    low = stats.binom.ppf(P_MIN / 2, trials, prob)
    high = stats.binom.isf(P_MIN / 2, trials, prob)
    return low <= count <= high


def uniform_ok(counts):
    """The counts are plausible for a uniform draw (chi-square)."""
    return stats.chisquare(counts).pvalue > P_MIN


def sample(seed=0, **kwargs):
    kwargs.setdefault('height', 48)
    kwargs.setdefault('width', 56)
    return random_results(seed=seed, **kwargs)


def test_released_tables():
    # tensorflow/tpu autoaugment_utils.policy_v0 (papers.md section 2)
    assert POLICIES['v0'] == (
        (('TranslateX_BBox', 0.6, 4), ('Equalize', 0.8, 10)),
        (('TranslateY_Only_BBoxes', 0.2, 2), ('Cutout', 0.8, 8)),
        (('Sharpness', 0.0, 8), ('ShearX_BBox', 0.4, 0)),
        (('ShearY_BBox', 1.0, 2), ('TranslateY_Only_BBoxes', 0.6, 6)),
        (('Rotate_BBox', 0.6, 10), ('Color', 1.0, 6)),
    )
    sizes = {
        name: (len(t), {len(sub)
                        for sub in t})
        for name, t in POLICIES.items()
    }
    assert sizes == dict(
        v0=(5, {2}), v1=(20, {2}), v2=(15, {2, 3}), v3=(15, {2}))
    assert POLICIES['v1'][:5] == POLICIES['v0']
    for table in POLICIES.values():
        for sub in table:
            for name, prob, level in sub:
                assert name in OP_NAMES
                assert 0.0 <= prob <= 1.0 and level in range(11)


@pytest.mark.parametrize('name', OP_NAMES)
def test_every_op_builds_and_keeps_rows(name):
    for level in (0, 6, 10, 15):
        op = TRANSFORMS.build(op_config(name, 1.0, level))
        for seed in range(3):
            res = op(sample(seed))
            assert res['img'].dtype == np.uint8
            assert_rows_aligned(res, 3)


_POLICY_CACHE = {}


@pytest.mark.parametrize('policy', sorted(POLICIES))
@settings(deadline=None, max_examples=25)
@given(results=detection_results(max_side=72), seed=st.integers(0, 10**6))
def test_policy_on_random_inputs(policy, results, seed):
    aug = _POLICY_CACHE.setdefault(policy, DetectionAutoAugment(policy))
    height, width = results['img'].shape[:2]
    num = len(results['gt_bboxes'])
    np.random.seed(seed)
    out = aug(results)
    assert out['img'].dtype == np.uint8
    assert out['img'].shape == (height, width, 3)
    assert_rows_aligned(out, num)
    boxes = out['gt_bboxes'].tensor.numpy()
    assert np.isfinite(boxes).all()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()
    assert (boxes[:, 2] > boxes[:, 0]).all()
    assert (boxes[:, 3] > boxes[:, 1]).all()


def test_sub_policies_drawn_uniformly():
    for policy, table in POLICIES.items():
        aug = DetectionAutoAugment(policy)
        np.random.seed(0)
        draws = [aug.random_pipeline_index() for _ in range(400 * len(table))]
        counts = np.bincount(draws, minlength=len(table))
        assert len(counts) == len(table)
        assert uniform_ok(counts), (policy, counts)


def fired(op, seed):
    """Whether ``op`` changed a one-box sample (per-box draw for the bbox-only
    ops): the image or the boxes differ, or it recorded a homography."""
    res = sample(seed, num_boxes=1, min_box=16)
    before = copy.deepcopy(res)
    out = op(res)
    return ('homography_matrix' in out
            or not np.array_equal(out['img'], before['img'])
            or len(out['gt_bboxes']) != 1)


def test_each_op_of_v0_fires_at_its_probability():
    aug = DetectionAutoAugment('v0')
    trials = 300
    np.random.seed(1)
    for sub, ops in zip(POLICIES['v0'], aug.transforms):
        assert len(ops.transforms) == len(sub)
        for (name, prob, level), op in zip(sub, ops.transforms):
            # bbox-only ops: the op always runs, each box with prob / 3
            expected = prob / 3 if name in BBOX_ONLY_OPS else prob
            count = sum(fired(op, seed) for seed in range(trials))
            assert binomial_ok(count, trials, expected), (name, prob, count)


def test_custom_table_and_errors():
    aug = DetectionAutoAugment(policies=[[('Equalize', 1.0, 0)]])
    res = aug(sample())
    assert res['img'].dtype == np.uint8 and aug.policy == 'custom'
    with pytest.raises(KeyError, match='unknown policy'):
        DetectionAutoAugment('v9')
    with pytest.raises(KeyError, match='Unknown detection AutoAugment op'):
        DetectionAutoAugment(policies=[[('Invert', 0.5, 3)]])
    with pytest.raises(ValueError, match='tuple'):
        DetectionAutoAugment(policies=[[dict(type='Equalize')]])


def test_same_seed_same_result_in_one_process():
    aug = DetectionAutoAugment('v0')
    outs = []
    for seed in (3, 3, 4):
        np.random.seed(seed)
        outs.append([aug(sample(k)) for k in range(6)])
    for a, b in zip(outs[0], outs[1]):
        np.testing.assert_array_equal(a['img'], b['img'])
        np.testing.assert_array_equal(a['gt_bboxes'].tensor,
                                      b['gt_bboxes'].tensor)
    assert any(not np.array_equal(a['img'], c['img'])
               for a, c in zip(outs[0], outs[2]))


def _worker_run(dataset, seed):
    """All items of ``dataset`` through a 2-worker DataLoader seeded the way
    mmengine's Runner seeds its workers."""
    loader = DataLoader(
        dataset,
        batch_size=2,
        num_workers=2,
        collate_fn=pseudo_collate,
        worker_init_fn=functools.partial(
            worker_init_fn, num_workers=2, rank=0, seed=seed))
    images, boxes = [], []
    for batch in loader:
        images += [x.numpy() for x in batch['inputs']]
        boxes += [
            s.gt_instances.bboxes.tensor.numpy() for s in batch['data_samples']
        ]
    return images, boxes


@pytest.mark.parametrize('augment', [
    dict(type='DetectionAutoAugment', policy='v0'),
    dict(type='DetectionRandAugment', num_ops=2, magnitude=6)
])
def test_same_seed_same_result_across_workers(shapes_root, augment):
    init_default_scope('mmdet')
    dataset = DATASETS.build(
        dict(
            type='ShapesDataset',
            data_root=shapes_root,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True), augment,
                dict(type='PackDetInputs')
            ]))
    first, second, other = (_worker_run(dataset, seed) for seed in (0, 0, 1))
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first[0], other[0]))


def test_randaugment_draws():
    aug = DetectionRandAugment(num_ops=3)
    np.random.seed(0)
    draws = [aug._draw() for _ in range(1000)]
    index = np.concatenate([d[0] for d in draws])
    prob = np.concatenate([d[1] for d in draws])
    assert all(len(d[0]) == 3 for d in draws)
    assert uniform_ok(np.bincount(index, minlength=len(EFFICIENTDET_OPS)))
    assert prob.min() >= 0.2 and prob.max() <= 0.8
    assert stats.kstest(prob, stats.uniform(0.2, 0.6).cdf).pvalue > P_MIN


def test_randaugment_probabilities_follow_released_code():
    trials = 300
    np.random.seed(2)
    # released: a chosen op that takes no prob argument always runs
    always = DetectionRandAugment(ops=['TranslateX_BBox'], magnitude=4)
    assert sum(fired(always, s) for s in range(trials)) == trials
    # gate_all_ops: fires with p ~ U(0.2, 0.8), i.e. with probability 0.5
    gated = DetectionRandAugment(
        ops=['TranslateX_BBox'], magnitude=4, gate_all_ops=True)
    assert binomial_ok(
        sum(fired(gated, s) for s in range(trials)), trials, 0.5)
    # a bbox-only op gets p itself: each box with p / 3, 1/6 on average
    bbox_only = DetectionRandAugment(ops=['Flip_Only_BBoxes'])
    assert binomial_ok(
        sum(fired(bbox_only, s) for s in range(trials)), trials, 1 / 6)


def test_randaugment_magnitude_15_and_errors():
    aug = DetectionRandAugment()
    assert aug.num_ops == 1 and aug.magnitude == 15
    assert aug.ops == EFFICIENTDET_OPS
    np.random.seed(0)
    for seed in range(20):
        out = aug(sample(seed))
        assert out['img'].dtype == np.uint8
        assert_rows_aligned(out, 3)
    with pytest.raises(ValueError, match='num_ops'):
        DetectionRandAugment(num_ops=0)
    with pytest.raises(KeyError, match='unknown ops'):
        DetectionRandAugment(ops=['Invert'])
    with pytest.raises(ValueError, match='prob_range'):
        DetectionRandAugment(prob_range=(0.8, 0.2))


def apply(name, level, img):
    op = TRANSFORMS.build(op_config(name, 1.0, level))
    return op(dict(img=img.copy(), img_shape=img.shape[:2]))['img']


def pixels(*values):
    """A 1 x n BGR image of grey pixels."""
    return np.repeat(np.array(values, np.uint8)[None, :, None], 3, axis=2)


def test_solarize_and_posterize_get_released_magnitudes():
    # Solarize L3: threshold int(0.3 * 256) = 76 (mmdet's own level=3 maps
    # to 76.8 and would keep 76)
    np.testing.assert_array_equal(
        apply('Solarize', 3, pixels(75, 76))[0, :, 0], [75, 179])
    # Posterize L4: int(1.6) = 1 bit (mmdet's level=4 keeps ceil(1.6) = 2);
    # L2: 0 bits, which TF's CPU kernels clamp to a 7-bit shift = 1 bit.
    for level in (2, 4):
        np.testing.assert_array_equal(
            apply('Posterize', level, pixels(200, 100))[0, :, 0], [128, 0])
    np.testing.assert_array_equal(
        apply('Posterize', 6, pixels(200, 100))[0, :, 0], [192, 64])


SOLARIZE_PIXELS = (0, 1, 127, 128, 200, 255)


@pytest.mark.parametrize(
    'level,threshold,expected',
    [
        # 256 converted to uint8 is 0: every pixel v becomes 255 - v
        (10, 0, [255, 254, 128, 127, 55, 0]),
        # 384 -> 128: the pixels >= 128 are inverted
        (15, 128, [0, 1, 127, 127, 55, 0]),
        # below 10 the threshold fits in uint8: L8 = 204
        (8, 204, [0, 1, 127, 128, 200, 0]),
    ])
def test_solarize_above_255_wraps_as_released(level, threshold, expected):
    """The released ``solarize`` compares the uint8 image with the threshold
    ``int(L/10*256)`` converted to uint8 (modulo 256); ``'clip'`` is the
    no-op reading of thresholds above 255. The same through both policy
    transforms."""
    img = pixels(*SOLARIZE_PIXELS)
    wrap = TRANSFORMS.build(op_config('Solarize', 1.0, level))
    assert wrap.threshold == threshold
    np.testing.assert_array_equal(
        wrap(dict(img=img.copy()))['img'][0, :, 0], expected)
    clip = TRANSFORMS.build(
        op_config('Solarize', 1.0, level, solarize_threshold_overflow='clip'))
    out = clip(dict(img=img.copy()))['img'][0, :, 0]
    if level >= 10:
        np.testing.assert_array_equal(out, SOLARIZE_PIXELS)
    else:
        np.testing.assert_array_equal(out, expected)
    for overflow, want in (('wrap', expected), ('clip', out)):
        augments = (DetectionAutoAugment(
            policies=[[('Solarize', 1.0, level)]],
            solarize_threshold_overflow=overflow),
                    DetectionRandAugment(
                        ops=['Solarize'],
                        magnitude=level,
                        solarize_threshold_overflow=overflow))
        for augment in augments:
            res = augment(dict(img=img.copy(), img_shape=img.shape[:2]))
            np.testing.assert_array_equal(res['img'][0, :, 0], want)
            assert f"solarize_threshold_overflow={overflow!r}" in repr(augment)


def test_solarize_threshold_overflow_is_checked():
    with pytest.raises(ValueError, match='threshold_overflow'):
        TRANSFORMS.build(
            dict(type='TFSolarize', level=10, threshold_overflow='mod'))
    with pytest.raises(ValueError, match='threshold_overflow'):
        op_config('Solarize', 1.0, 10, solarize_threshold_overflow=None)
    with pytest.raises(ValueError, match='threshold_overflow'):
        DetectionRandAugment(solarize_threshold_overflow='no-op')


def released_autocontrast(img):
    """The released ``autocontrast`` in NumPy float32 (one rounding per TF
    op: ``255 / (hi - lo)``, ``-lo * scale``, ``v * scale``, ``+ offset``),
    clipped and truncated to uint8, channel by channel."""
    out = img.copy()
    for c in range(img.shape[2]):
        ch = img[..., c]
        lo, hi = np.float32(ch.min()), np.float32(ch.max())
        if hi > lo:
            scale = np.float32(255.0) / (hi - lo)
            offset = -lo * scale
            val = ch.astype(np.float32) * scale + offset
            out[..., c] = np.clip(val, np.float32(0.0),
                                  np.float32(255.0)).astype(np.uint8)
    return out


def test_autocontrast_differs_from_release_only_where_whole():
    """mmdet's AutoContrast (float64) against the released float32
    arithmetic: equal, except +-1 where ``(v - lo) * 255 / (hi - lo)`` is a
    whole number, in both directions (examples of colour.py)."""
    # lo=0, hi=7: released 7 -> 254 (254.99998), ours 255
    assert released_autocontrast(pixels(0, 7))[0, 1, 0] == 254
    assert apply('AutoContrast', 0, pixels(0, 7))[0, 1, 0] == 255
    # lo=0, hi=25: released 25 -> 255, ours 254 (254.99999999999997)
    assert released_autocontrast(pixels(0, 25))[0, 1, 0] == 255
    assert apply('AutoContrast', 0, pixels(0, 25))[0, 1, 0] == 254
    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(300):
        lo, hi = sorted(rng.choice(256, size=2, replace=False))
        img = pixels(*range(lo, hi + 1))
        ours = apply('AutoContrast', 0, img).astype(int)
        diff = ours - released_autocontrast(img).astype(int)
        v = np.arange(lo, hi + 1)
        whole = (v - lo) * 255 % (hi - lo) == 0
        assert (np.abs(diff) <= 1).all() and not diff[0, ~whole].any()
        differ += np.count_nonzero(diff)
    assert differ > 0


def test_tf_colour_ops_hand_computed():
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 2] = 255  # BGR: grey int(0.2989 * 255.5) = 76
    # Color L2: factor 0.46 -> 76 + 0.46 * (c - 76), truncated
    np.testing.assert_array_equal(apply('Color', 2, red)[0, 0], [41, 41, 158])
    # Color L6: factor 1.18 extrapolates and clips
    np.testing.assert_array_equal(apply('Color', 6, red)[0, 0], [0, 0, 255])
    # Brightness L2: 0.46 * 101 = 46.46 -> 46 (mmdet rounds the factor to 0.5)
    assert apply('Brightness', 2, pixels(101))[0, 0, 0] == 46
    # Contrast on 256 x 256: released "mean" 65536 / 256 -> 255
    img = np.full((256, 256, 3), 100, np.uint8)
    assert apply('Contrast', 2, img)[5, 5, 0] == 183  # 255 - 0.46 * 155
    mean_grey = TRANSFORMS.build(
        dict(type='TFContrast', level=2, released_mean=False))
    assert mean_grey(dict(img=img.copy()))['img'][5, 5, 0] == 100
    # Sharpness L10 (1.9): one pixel of 130 in zeros -> smoothed 50 / 10
    img = np.zeros((5, 5, 3), np.uint8)
    img[2, 2] = 130
    out = apply('Sharpness', 10, img)[..., 0]
    assert out[2, 2] == 202 and out[2, 1] == 0 and out[1, 1] == 0
    flat = np.full((6, 7, 3), 77, np.uint8)
    np.testing.assert_array_equal(apply('Sharpness', 10, flat), flat)
    # SolarizeAdd L4: +44 below 128; L15: +165, clipped
    np.testing.assert_array_equal(
        apply('SolarizeAdd', 4, pixels(100, 127, 128, 250))[0, :, 0],
        [144, 171, 128, 250])
    assert apply('SolarizeAdd', 15, pixels(100))[0, 0, 0] == 255


def test_tf_colour_ops_need_uint8_bgr():
    op = TRANSFORMS.build(op_config('Color', 1.0, 6))
    with pytest.raises(TypeError, match='uint8'):
        op(dict(img=np.zeros((4, 4, 3), np.float32)))
    with pytest.raises(TypeError, match='level is required'):
        TRANSFORMS.build(dict(type='TFColor'))


def test_ops_take_the_fill_value():
    cfg = op_config('Cutout', 1.0, 10, img_border_value=7)
    img = np.full((20, 20, 3), 200, np.uint8)
    out = TRANSFORMS.build(cfg)(dict(img=img, img_shape=(20, 20)))['img']
    assert (out == 7).any() and set(np.unique(out)) <= {7, 200}
