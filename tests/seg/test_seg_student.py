"""SelfTrainingSegmentor (Zoph et al. 2020, Sec. 3.2, App. B) around the real
tiny GN Semantic-FPN of the shapes configs, on real shapes class maps at
64 px: the per-part losses of the two ``part_forward`` modes, ignored
pixels, empty and non-finite parts, the plain segmentor's predictions and
checkpoint keys, and segmentor classes other than ``EncoderDecoder``."""
import copy
import logging

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, MODELS

from rethink_mmdet.seg.student import (SEG_STUDENT_META_KEYS,
                                       SelfTrainingSegmentor)
from rethink_mmdet.self_training.loss_norm import NonFiniteLossError
from rethink_mmdet.self_training.sources import HUMAN, PSEUDO
from .student_data import (GN, IGNORE, build_pair, make_batch, make_seg_data,
                           seg_model_cfg, source_dataset_cfg)

# interleaved, so that the parts are not contiguous slices of the batch
ORDER = [PSEUDO, HUMAN, HUMAN, PSEUDO]
HUMAN_IDX = [i for i, s in enumerate(ORDER) if s == HUMAN]
PSEUDO_IDX = [i for i, s in enumerate(ORDER) if s == PSEUDO]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = make_seg_data(str(tmp_path_factory.mktemp('shapes_seg')))
    # module-scoped: before conftest's per-test scope; restored after
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(source_dataset_cfg(root, SEG_STUDENT_META_KEYS))


def count_calls(module):
    """Batch sizes of the calls of ``module`` (its input: images)."""
    calls = []
    module.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    return calls


def grads(model):
    return {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }


def assert_close_grads(a, b, rtol=1e-3):
    assert a.keys() == b.keys() and a
    for name in a:
        scale = float(b[name].abs().max()) + 1e-12
        torch.testing.assert_close(
            a[name], b[name], rtol=rtol, atol=rtol * scale, msg=name)


def plain_loss(plain, inputs, samples, idx):
    """The plain segmentor's summed loss of the batch items ``idx``."""
    raw = plain.loss(inputs[idx], [samples[i] for i in idx])
    return plain.parse_losses(raw)[0]


@pytest.mark.parametrize('aux', [False, True])
def test_shared_features_equal_per_part_and_plain_parts(dataset, aux):
    cfg = seg_model_cfg(aux=aux)
    plain, shared = build_pair(cfg, part_forward='auto')
    _, per_part = build_pair(cfg, part_forward='per_part')
    assert shared.part_forward == 'shared_features'
    inputs, samples = make_batch(dataset, ORDER, plain)
    out = {}
    for name, model in (('shared', shared), ('per_part', per_part)):
        calls = count_calls(model.segmentor.backbone)
        losses = model.loss(inputs, samples)
        total, log_vars = model.parse_losses(losses)
        assert total is losses['loss']
        total.backward()
        out[name] = (losses, grads(model))
        # backbone once per batch (shared), once per part (per part)
        assert calls == ([4] if name == 'shared' else [2, 2])
    a, b = out['shared'][0], out['per_part'][0]
    for key in ('loss', 'loss_human', 'loss_pseudo', 'human_decode.loss_ce',
                'pseudo_decode.loss_ce'):
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=0)
    if aux:
        assert 'pseudo_aux.loss_ce' in a and 'pseudo_aux.loss_ce' in b
    assert_close_grads(out['shared'][1], out['per_part'][1])
    # each part's loss is the plain segmentor's loss of that part alone
    for term, idx in (('loss_human', HUMAN_IDX), ('loss_pseudo', PSEUDO_IDX)):
        torch.testing.assert_close(
            a[term],
            plain_loss(plain, inputs, samples, idx).detach(),
            rtol=1e-4,
            atol=0)
    # App. B, a = 1: L = 1/2 (L_h + Lbar_h / Lbar_p L_p); at the first
    # step each average is its term's value
    ratio = float(a['loss_human'] / a['loss_pseudo'])
    assert float(a['human_weight']) == pytest.approx(0.5)
    assert float(a['pseudo_weight']) == pytest.approx(0.5 * ratio)
    torch.testing.assert_close(a['loss'], a['loss_human'])


def test_ignored_pixels_are_out_of_the_pseudo_loss(dataset):
    plain, student = build_pair(seg_model_cfg())

    def left_half_ignored(label, source):
        if source == PSEUDO:
            label[..., :label.shape[-1] // 2] = IGNORE

    inputs, samples = make_batch(dataset, ORDER, plain, left_half_ignored)
    logits = []

    def keep(module, args, output):
        output.retain_grad()
        logits.append(output)

    student.segmentor.decode_head.register_forward_hook(keep)
    losses = student.loss(inputs, samples)
    losses['loss'].backward()
    (seg_logits, ) = logits
    grad = seg_logits.grad  # (4, 5, 16, 16): stride 4 of the 64 px maps
    # a logit column j reaches output columns below 4 * j + 6 (bilinear x4):
    # columns 0..5 reach only ignored pixels of the pseudo maps
    assert (grad[PSEUDO_IDX, :, :, :6] == 0).all()
    assert (grad[PSEUDO_IDX, :, :, 10:] != 0).any()
    assert (grad[HUMAN_IDX, :, :, :6] != 0).any()
    # L_p is the cross-entropy mean over the kept pixels only
    # (CrossEntropyLoss(avg_non_ignore=True))
    labels = torch.stack([samples[i].gt_sem_seg.data for i in PSEUDO_IDX])
    up = F.interpolate(
        seg_logits[PSEUDO_IDX].detach(),
        size=labels.shape[-2:],
        mode='bilinear',
        align_corners=False)
    want = F.cross_entropy(up, labels[:, 0].long(), ignore_index=IGNORE)
    torch.testing.assert_close(losses['loss_pseudo'], want, rtol=1e-5, atol=0)
    assert float(losses['pseudo_kept_fraction']) == pytest.approx(0.5)


@pytest.mark.parametrize('part_forward', ['shared_features', 'per_part'])
def test_all_ignored_pseudo_part_enters_with_zero_weight(
        dataset, part_forward):
    plain, student = build_pair(seg_model_cfg(), part_forward=part_forward)
    _, human_only = build_pair(seg_model_cfg(), part_forward=part_forward)

    def all_ignored(label, source):
        if source == PSEUDO:
            label[...] = IGNORE

    inputs, samples = make_batch(dataset, ORDER, plain, all_ignored)
    backbone = count_calls(student.segmentor.backbone)
    losses = student.loss(inputs, samples)
    # computed (same forwards on every rank), with zero weight
    assert sum(backbone) == 4
    assert float(losses['pseudo_weight']) == 0
    assert float(losses['human_weight']) == pytest.approx(0.5)
    assert float(losses['loss_pseudo']) == 0
    assert float(losses['pseudo_kept_fraction']) == 0
    norm = student.loss_norm
    assert int(norm.pseudo_count) == 0 and int(norm.human_count) == 1
    losses['loss'].backward()
    # the gradient is the human part's alone: that of a batch without a
    # pseudo part (an empty part: no loss)
    h_inputs, h_samples = inputs[HUMAN_IDX], [samples[i] for i in HUMAN_IDX]
    ref = human_only.loss(h_inputs, h_samples)
    assert float(ref['pseudo_weight']) == 0
    assert 'pseudo_decode.loss_ce' not in ref
    ref['loss'].backward()
    torch.testing.assert_close(losses['loss'], ref['loss'], rtol=1e-4, atol=0)
    assert_close_grads(grads(student), grads(human_only))


def test_all_ignored_human_part_enters_with_zero_weight(dataset):
    """An all-ignored human map has no loss at all (unlike a detection
    image without boxes, whose background loss is real): absent too."""
    plain, student = build_pair(seg_model_cfg())

    def all_ignored(label, source):
        if source == HUMAN:
            label[...] = IGNORE

    inputs, samples = make_batch(dataset, ORDER, plain, all_ignored)
    losses = student.loss(inputs, samples)
    assert float(losses['human_weight']) == 0
    # no human average yet: ratio 1, L = 1/(1+a) * a * L_p
    assert float(losses['pseudo_weight']) == pytest.approx(0.5)
    norm = student.loss_norm
    assert int(norm.human_count) == 0 and int(norm.pseudo_count) == 1


@pytest.mark.parametrize('term,value', [(HUMAN, float('nan')),
                                        (PSEUDO, float('inf'))])
def test_non_finite_loss_names_the_term(dataset, term, value):
    plain, student = build_pair(seg_model_cfg())
    inputs, samples = make_batch(dataset, ORDER, plain)
    idx = HUMAN_IDX if term == HUMAN else PSEUDO_IDX
    inputs = inputs.clone()
    inputs[idx] = value
    with pytest.raises(NonFiniteLossError) as info:
        student.loss(inputs, samples)
    assert info.value.term == term
    symbol = 'L_h' if term == HUMAN else 'L_p'
    assert symbol in str(info.value)
    assert f'{term}_decode.loss_ce' in str(info.value)
    # the averages are not poisoned
    assert int(student.loss_norm.human_count) == 0


def test_predict_forward_and_features_are_the_segmentors(dataset):
    plain, student = build_pair(seg_model_cfg())
    plain.eval()
    student.eval()
    inputs, samples = make_batch(dataset, ORDER, plain)
    metas = [s.metainfo for s in samples]
    with torch.no_grad():
        for a, b in zip(
                student.extract_feat(inputs), plain.extract_feat(inputs)):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(
            student.encode_decode(inputs, metas),
            plain.encode_decode(inputs, metas))
        torch.testing.assert_close(
            student(inputs, samples, mode='tensor'),
            plain(inputs, samples, mode='tensor'))
        got = student(inputs, copy.deepcopy(samples), mode='predict')
        want = plain.predict(inputs, copy.deepcopy(samples))
    for a, b in zip(got, want):
        torch.testing.assert_close(a.pred_sem_seg.data, b.pred_sem_seg.data)
    assert student.num_classes == plain.num_classes == 5
    assert student.with_neck and not student.with_auxiliary_head


def test_state_dict_keys_are_the_plain_segmentors():
    plain, student = build_pair(seg_model_cfg(aux=True))
    state = student.state_dict()
    own = {k for k in state if k.startswith('loss_norm.')}
    assert own and not any(k.startswith('segmentor.') for k in state)
    assert set(state) - own == set(plain.state_dict())
    fresh = MODELS.build(seg_model_cfg(aux=True))
    fresh.load_state_dict({
        k: v
        for k, v in state.items() if k not in own
    },
                          strict=True)
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(v, state[k])


def test_rejects_bad_configs_and_samples(dataset):
    with pytest.raises(TypeError, match='BaseSegmentor'):
        SelfTrainingSegmentor(segmentor=dict(seg_model_cfg().decode_head))
    with pytest.raises(ValueError, match='source_terms'):
        SelfTrainingSegmentor(
            segmentor=seg_model_cfg(), source_terms=dict(extra='teacher'))
    with pytest.raises(ValueError, match='not one of'):
        SelfTrainingSegmentor(segmentor=seg_model_cfg(), part_forward='x')
    plain, student = build_pair(seg_model_cfg())
    inputs, samples = make_batch(dataset, ORDER, plain)
    bare = copy.deepcopy(samples)
    for s in bare:
        s.set_metainfo(dict(data_source=None))
    with pytest.raises(KeyError, match='PackSegInputs'):
        student.loss(inputs, bare)
    for s in bare:
        s.set_metainfo(dict(data_source='web'))
    with pytest.raises(ValueError, match='source_terms'):
        student.loss(inputs, bare)
    mapped = SelfTrainingSegmentor(
        segmentor=seg_model_cfg(), source_terms=dict(web=PSEUDO))
    assert float(mapped.loss(inputs, bare)['human_weight']) == 0


# CascadeEncoderDecoder (OCRNet's FCN + OCR heads): its decode step is its
# own, so 'auto' falls back to one segmentor forward per part
def cascade_cfg():
    model = seg_model_cfg()
    model.type = 'CascadeEncoderDecoder'
    model.num_stages = 2
    model.pop('neck')
    model.backbone.out_indices = (2, 3)
    ce = dict(type='CrossEntropyLoss', avg_non_ignore=True)
    model.decode_head = [
        dict(
            type='FCNHead',
            in_channels=128,
            in_index=1,
            channels=16,
            num_convs=1,
            concat_input=False,
            dropout_ratio=0.,
            num_classes=5,
            norm_cfg=GN,
            loss_decode=dict(ce, loss_weight=0.4)),
        dict(
            type='OCRHead',
            in_channels=128,
            in_index=1,
            channels=16,
            ocr_channels=16,
            dropout_ratio=0.,
            num_classes=5,
            norm_cfg=GN,
            loss_decode=ce)
    ]
    return model


def test_other_segmentors_run_per_part(dataset):
    cfg = cascade_cfg()
    with pytest.raises(ValueError, match="part_forward='per_part'"):
        SelfTrainingSegmentor(segmentor=cfg, part_forward='shared_features')
    plain, student = build_pair(cfg)
    assert student.part_forward == 'per_part'
    inputs, samples = make_batch(dataset, ORDER, plain)
    calls = count_calls(student.segmentor.backbone)
    losses = student.loss(inputs, samples)
    assert calls == [2, 2]
    for term, idx in (('loss_human', HUMAN_IDX), ('loss_pseudo', PSEUDO_IDX)):
        torch.testing.assert_close(
            losses[term],
            plain_loss(plain, inputs, samples, idx).detach(),
            rtol=1e-4,
            atol=0)
    assert 'pseudo_decode_1.loss_ce' in losses


class KeepMessages(logging.Handler):
    """The messages logged while it is attached."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_mean_over_all_pixels_is_flagged():
    cfg = seg_model_cfg()
    cfg.decode_head.loss_decode.avg_non_ignore = False
    keep = KeepMessages()
    logger = MMLogger.get_instance('test_mean_over_all_pixels')  # current
    logger.addHandler(keep)
    try:
        SelfTrainingSegmentor(segmentor=cfg)
        SelfTrainingSegmentor(segmentor=seg_model_cfg())
    finally:
        logger.removeHandler(keep)
    flagged = [m for m in keep.messages if 'avg_non_ignore=True' in m]
    assert len(flagged) == 1 and 'decode_head.loss_decode' in flagged[0]
