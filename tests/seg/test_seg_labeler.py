"""tools/pseudo_label.py with an mmseg teacher (Zoph et al. 2020, Sec. 3.2):
multi-scale + flip probabilities averaged, kept at >= 0.5, label-map PNGs;
the same bytes on 1 and 2 real CPU processes and after a kill; reruns."""
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from rethink_mmdet.seg.multi_scale import (PAPER_SCALES, hard_labels,
                                           multi_scale_pipeline)
from rethink_mmdet.seg.pseudo_reader import PseudoSegStore
from rethink_mmdet.seg.pseudo_store import label_relpath
from tests.conftest import REPO, python_tool, run_tool
from tests.self_training.test_labeler import free_port
from .conftest import SEG_TEACHER, SIZE_OPTION, seg_teacher_cfg

#: Averaged probabilities closer than this to the threshold may fall on
#: either side of it on another code path; comparisons skip them.
PROB_MARGIN = 1e-4


def seg_label_cmd(ckpt, images, out, *extra, chunk_size=3, batch_size=2):
    return python_tool('pseudo_label.py', SEG_TEACHER, ckpt, '--images',
                       images, '--out', out, '--chunk-size', chunk_size,
                       '--batch-size', batch_size, '--num-workers', 0, *extra,
                       '--cfg-options', SIZE_OPTION)


def store_bytes(store):
    """Every file of a store (relative path -> bytes), meta.json aside."""
    out = {}
    for dirpath, _, files in os.walk(store):
        for name in files:
            path = osp.join(dirpath, name)
            rel = osp.relpath(path, store)
            if rel != 'meta.json':
                out[rel] = open(path, 'rb').read()
    return out


@pytest.fixture(scope='module')
def seg_reference(seg_teacher, seg_shapes_root, tmp_path_factory):
    """Uninterrupted single-process CLI run over the unlabeled folder."""
    out = str(tmp_path_factory.mktemp('seg_labels') / 'store')
    log = run_tool(
        seg_label_cmd(seg_teacher, osp.join(seg_shapes_root, 'unlabeled'),
                      out))
    return out, log


def reference_probabilities(model, img_path, scales, flip):
    """Independent of the labeler: one view at a time through its own
    pipeline (LoadImageFromFile, Resize(scale 64 * s), a flip,
    PackSegInputs) and ``test_step``; softmax averaged."""
    from mmcv.transforms import Compose
    probs = []
    for s in scales:
        for f in ((False, True) if flip else (False, )):
            size = int(round(64 * s))
            pipeline = Compose([
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(size, size), keep_ratio=True),
                dict(
                    type='RandomFlip',
                    prob=1.0 if f else 0.0,
                    direction='horizontal'),
                dict(type='PackSegInputs')
            ])
            data = pipeline(dict(img_path=img_path))
            pred = model.test_step(
                dict(
                    inputs=[data['inputs']],
                    data_samples=[data['data_samples']]))[0]
            probs.append(pred.seg_logits.data.softmax(0))
    return torch.stack(probs).mean(0)


def test_store_is_the_averaged_multi_scale_flip_prediction(
        seg_reference, seg_teacher, seg_shapes_root):
    """Each label map is the argmax of the softmax averaged over the six
    scales x 2 flips where that average is >= 0.5 and 255 elsewhere, at
    the original size; the confidence columns match; kept pixels agree
    with mmseg's own SegTTAModel on the same views."""
    from mmengine.dataset import pseudo_collate
    from mmseg.models import SegTTAModel

    from rethink_mmdet.self_training.teacher import build_teacher
    from rethink_mmdet.self_training.unlabeled_images import test_pipeline_cfg
    store = PseudoSegStore(seg_reference[0])
    assert len(store) == 8 and store.meta['scales'] == list(PAPER_SCALES)
    assert store.meta['flip'] is True and store.meta['prob_thr'] == 0.5
    assert '12 views per image' in seg_reference[1]
    cfg = seg_teacher_cfg()
    model = build_teacher(cfg, seg_teacher, 'cpu')
    tta = SegTTAModel(module=model).eval()
    from mmcv.transforms import Compose
    tta_pipeline = Compose(
        multi_scale_pipeline(test_pipeline_cfg(cfg), PAPER_SCALES, True))
    kept_any = ignored_any = 0
    for i in (0, 5):
        img = store.image_path(i)
        assert img == osp.join(seg_shapes_root, 'unlabeled', f'{i:06d}.png')
        label = np.array(Image.open(store.label_path(i)))
        assert Image.open(store.label_path(i)).mode == 'L'
        assert label.shape == (64, 64) and label.dtype == np.uint8
        with torch.no_grad():
            probs = reference_probabilities(model, img, PAPER_SCALES, True)
            top, arg = probs.max(0)
            data = pseudo_collate([tta_pipeline(dict(img_path=img))])
            mmseg_pred = tta.test_step(data)[0].pred_sem_seg.data[0]
        clear = (top - 0.5).abs() > PROB_MARGIN
        kept = top >= 0.5
        np.testing.assert_array_equal(label[clear.numpy()] != 255,
                                      kept[clear].numpy())
        sure = (kept & clear).numpy()
        np.testing.assert_array_equal(label[sure], arg.numpy()[sure])
        np.testing.assert_array_equal(label[sure], mmseg_pred.numpy()[sure])
        mean_conf, ignored = store.confidence(i)
        assert mean_conf == pytest.approx(float(top.mean()), abs=1e-5)
        assert ignored == pytest.approx(float((label == 255).mean()))
        kept_any += sure.sum()
        ignored_any += (label == 255).sum()
    assert kept_any > 0 and ignored_any > 0  # both sides of 0.5 tested


def test_multi_scale_pipeline_views_and_hard_labels():
    test = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(256, 128), keep_ratio=True),
        dict(type='PackSegInputs')
    ]
    tta = multi_scale_pipeline(test, PAPER_SCALES, flip=True)
    assert [t['type'] for t in tta] == ['LoadImageFromFile', 'TestTimeAug']
    resizes, flips, pack = tta[1]['transforms']
    assert [r['scale'] for r in resizes] == [(128, 64), (192, 96), (256, 128),
                                             (320, 160), (384, 192),
                                             (448, 224)]
    assert [f['prob'] for f in flips] == [0.0, 1.0]
    assert pack == [dict(type='PackSegInputs')]
    no_flip = multi_scale_pipeline(test, (1.0, 2.0), flip=False)
    assert len(no_flip[1]['transforms'][1]) == 1
    annotated = multi_scale_pipeline(test[::2], (0.5, ), with_annotations=True)
    assert annotated[1]['transforms'][0] == [
        dict(type='Resize', scale_factor=0.5, keep_ratio=True)
    ]
    assert annotated[1]['transforms'][2] == [dict(type='LoadAnnotations')]
    with pytest.raises(ValueError, match='at least one scale'):
        multi_scale_pipeline(test, ())

    probs = torch.tensor([[[0.6, 0.3]], [[0.4, 0.5]], [[0.0, 0.2]]])
    label, conf, ignored = hard_labels(probs, 0.5)
    np.testing.assert_array_equal(label, [[0, 1]])
    assert conf == pytest.approx(0.55) and ignored == 0.0
    label, _, ignored = hard_labels(probs, 0.55)
    np.testing.assert_array_equal(label, [[0, 255]])
    assert ignored == 0.5
    with pytest.raises(ValueError, match='uint8 label map'):
        hard_labels(torch.zeros(256, 1, 1))


def test_two_processes_give_the_same_store(seg_reference, seg_teacher,
                                           seg_shapes_root, tmp_path):
    out = tmp_path / 'store'
    cmd = seg_label_cmd(seg_teacher, osp.join(seg_shapes_root, 'unlabeled'),
                        out)
    log = run_tool([
        'bash', f'{REPO}/tools/dist_pseudo_label.sh', SEG_TEACHER, seg_teacher,
        '2', *cmd[4:]
    ],
                   env={'PORT': str(free_port())})
    assert 'on 2 rank(s)' in log
    reference = store_bytes(seg_reference[0])
    assert label_relpath(7) in reference and len(reference) == 8 + 7
    assert store_bytes(out) == reference


def test_resume_after_kill_gives_identical_store(seg_reference, seg_teacher,
                                                 seg_shapes_root, tmp_path):
    out = tmp_path / 'store'
    kill = ('import os, signal, sys, runpy; '
            'import rethink_mmdet.seg.labeler as labeler; '
            'labeler.finalize_seg_store = '
            'lambda *a: os.kill(os.getpid(), signal.SIGKILL); '
            'sys.argv = sys.argv[1:]; '
            'runpy.run_path(sys.argv[0], run_name="__main__")')
    cmd = seg_label_cmd(seg_teacher, osp.join(seg_shapes_root, 'unlabeled'),
                        out)
    proc = subprocess.run([sys.executable, '-c', kill, *cmd[1:]],
                          cwd=REPO,
                          env=dict(os.environ, OMP_NUM_THREADS='1'),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    chunks = out / 'chunks'
    assert sorted(os.listdir(chunks)) == [f'chunk-{i:06d}'
                                          for i in range(3)] + ['run.json']
    # killed while writing chunk 1: its directory and a label map are gone
    shutil.rmtree(chunks / 'chunk-000001')
    os.remove(out / label_relpath(4))
    log = run_tool(cmd)
    assert 'skipping chunks [0, 2]' in log and '1 chunks to label' in log
    assert store_bytes(out) == store_bytes(seg_reference[0])
    assert not chunks.exists()


def test_rerun_does_nothing_or_names_differences(seg_reference, seg_teacher,
                                                 seg_shapes_root, tmp_path):
    out = tmp_path / 'store'
    shutil.copytree(seg_reference[0], out)
    before = store_bytes(out)
    images = osp.join(seg_shapes_root, 'unlabeled')
    log = run_tool(seg_label_cmd(seg_teacher, images, out, chunk_size=5))
    assert 'is finished already' in log and 'pseudo-labeling' not in log
    assert store_bytes(out) == before

    cmd = seg_label_cmd(seg_teacher, images, out, '--prob-thr', '0.6',
                        '--no-flip')
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert f'{out} is a finished pseudo-label store' in proc.stderr
    assert ('probability threshold (--prob-thr): store 0.5, now 0.6'
            in proc.stderr)
    assert 'horizontal flip (--no-flip): store True, now False' in proc.stderr
    assert 'inference scales' not in proc.stderr
    assert 'teacher checkpoint' not in proc.stderr
    assert store_bytes(out) == before


def test_detection_options_refused_for_a_segmentation_teacher(
        seg_teacher, seg_shapes_root, tmp_path):
    cmd = seg_label_cmd(seg_teacher, osp.join(seg_shapes_root, 'unlabeled'),
                        tmp_path / 'store', '--score-thr', '0.3')
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 1
    assert '--score-thr only apply to a detection teacher' in proc.stderr
    assert not (tmp_path / 'store').exists()


def test_unreadable_image_is_skipped(seg_teacher, seg_shapes_root, tmp_path):
    """In process, one scale: a corrupt file is listed in meta ``skipped``
    and has no label map; the others keep their source index."""
    from rethink_mmdet.seg.labeler import label_seg_images
    images = tmp_path / 'images'
    shutil.copytree(osp.join(seg_shapes_root, 'unlabeled'), images)
    (images / '000002.png').write_bytes(b'not a png')
    meta = label_seg_images(
        seg_teacher_cfg(),
        seg_teacher,
        str(images),
        str(tmp_path / 'store'),
        scales=(1.0, ),
        flip=False,
        chunk_size=4,
        num_workers=0)
    assert meta['num_images'] == 7 and meta['num_skipped'] == 1
    assert meta['skipped'][0]['path'].endswith('000002.png')
    store = PseudoSegStore(str(tmp_path / 'store'))
    assert [store.relative_path(i)
            for i in (1, 2)] == ['000001.png', '000003.png']
    assert store.label_path(2).endswith(label_relpath(3))
    assert not (tmp_path / 'store' / label_relpath(2)).exists()


def test_store_feeds_an_mmseg_training_step(seg_reference):
    """End to end: the labeler's store, served by PseudoSegDataset through
    the shapes train pipeline (LoadAnnotations reads the label maps, 255
    kept as ignore), trains the teacher architecture for one step."""
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS, MODELS
    cfg = seg_teacher_cfg()
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(
            dict(
                type='PseudoSegDataset',
                store=seg_reference[0],
                pipeline=cfg.train_pipeline))
        model = MODELS.build(cfg.model)
    batch = pseudo_collate([dataset[i] for i in range(2)])
    gt = torch.cat(
        [s.gt_sem_seg.data.flatten() for s in batch['data_samples']])
    assert (gt == 255).any() and (gt < 5).any()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    losses = model.train_step(batch, optim)
    assert torch.isfinite(losses['decode.loss_ce'])
    assert losses['decode.loss_ce'] > 0
