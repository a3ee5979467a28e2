"""tools/pseudo_label.py: a real tiny Mask R-CNN teacher labels the unlabeled
split of the shapes dataset into a pseudo-label store (folder, list and COCO
sources, corrupt images, resume after a kill, two real CPU processes)."""
import hashlib
import json
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.self_training.labeler import ImageSourceError, list_images
from rethink_mmdet.self_training.store import PseudoLabelStore
from tests.conftest import MASK_RCNN, REPO, python_tool, run_tool

SCORE_THR = 0.05
#: Scores closer than this to a threshold may round to either side of it
#: on another CPU or code path; comparisons across code paths skip them.
SCORE_MARGIN = 1e-3
#: Columns that hold the labels (not the image ids/paths of the source).
LABEL_COLUMNS = ('image_hw.npy', 'box_offsets.npy', 'boxes.npy', 'scores.npy',
                 'labels.npy', 'mask_rle.bin', 'mask_rle_offsets.npy')
ALL_COLUMNS = LABEL_COLUMNS + ('image_ids.npy', 'image_paths.bin',
                               'image_path_offsets.npy')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def label_cmd(ckpt, images, out, *extra, chunk_size=2):
    return python_tool('pseudo_label.py', MASK_RCNN, ckpt, '--images', images,
                       '--out', out, '--score-thr', SCORE_THR, '--chunk-size',
                       chunk_size, '--num-workers', 0, *extra)


def column_bytes(store, names=ALL_COLUMNS):
    return {n: open(osp.join(store, n), 'rb').read() for n in names}


@pytest.fixture(scope='module')
def teacher(mask_rcnn_run):
    return str(mask_rcnn_run[0] / 'iter_4.pth')


@pytest.fixture(scope='module')
def reference(teacher, shapes_root, tmp_path_factory):
    """Uninterrupted single-process run over the unlabeled folder (2 image
    loading workers)."""
    out = str(tmp_path_factory.mktemp('labels') / 'store')
    log = run_tool(
        label_cmd(teacher, osp.join(shapes_root, 'unlabeled'), out,
                  '--num-workers', 2))
    return out, log


def test_folder_store_matches_teacher(reference, teacher, shapes_root,
                                      tmp_path):
    out, log = reference
    store = PseudoLabelStore(out)
    meta = store.meta
    assert len(store) == meta['num_images'] == 4
    assert meta['num_skipped'] == 0 and meta['skipped'] == []
    assert store.classes == SHAPES_CLASSES
    assert meta['score_floor'] == SCORE_THR
    assert meta['source']['kind'] == 'folder'
    assert meta['teacher']['config'] == MASK_RCNN
    assert "type='ScratchNormDetector'" in meta['teacher']['config_text']
    with open(teacher, 'rb') as f:
        assert meta['teacher']['checkpoint_sha256'] == hashlib.sha256(
            f.read()).hexdigest()
    assert store.has_masks and meta['num_boxes'] > 0
    assert np.all(np.asarray(store.scores) >= SCORE_THR)
    assert 'pseudo-labeling' in log and '4/4' in log  # progress bar

    # Image 0 equals mmdet's own inference with the same teacher. The two
    # forward passes (labeler's dataloader vs inference_detector) are
    # different code paths whose scores may differ in the last bits on
    # another CPU, so boxes are compared only where their score is clear of
    # the floor, and masks by IoU.
    from mmdet.apis import inference_detector, init_detector

    # cfg_options (even empty) skips init_detector's read of
    # config.model.backbone, which a ScratchNormDetector config has under
    # model.detector.
    model = init_detector(MASK_RCNN, teacher, device='cpu', cfg_options={})
    rec = store.image(0)
    assert rec['path'] == '000000.png' and rec['image_id'] == 1
    pred = inference_detector(model,
                              osp.join(shapes_root, 'unlabeled',
                                       rec['path'])).pred_instances
    clear = rec['scores'] >= SCORE_THR + SCORE_MARGIN
    keep = (pred.scores >= SCORE_THR + SCORE_MARGIN).numpy()
    assert int(clear.sum()) == int(keep.sum()) > 0
    assert abs(len(rec['boxes']) - int((pred.scores >= SCORE_THR).sum())) \
        <= int(((pred.scores - SCORE_THR).abs() < SCORE_MARGIN).sum())
    np.testing.assert_allclose(
        rec['boxes'][clear], pred.bboxes[keep].numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(
        rec['scores'][clear], pred.scores[keep].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(rec['labels'][clear],
                                  pred.labels[keep].numpy())
    h, w = rec['height'], rec['width']
    assert (h, w) == (256, 256)
    assert len(rec['masks_rle']) == len(rec['boxes'])
    first = int(np.flatnonzero(clear)[0])
    mask = mask_utils.decode(
        dict(size=[h, w], counts=rec['masks_rle'][first].encode()))
    ref_mask = pred.masks[torch.from_numpy(keep)][0].numpy()
    inter = np.logical_and(mask, ref_mask).sum()
    union = np.logical_or(mask, ref_mask).sum()
    assert union > 0 and inter / union >= 0.99

    # A floor above the teacher's own test_cfg.rcnn.score_thr drops exactly
    # the boxes below it. The floor is put halfway across the widest gap
    # between two of the store's own scores of image 0, so that no box sits
    # near it whatever the CPU.
    floor = floor_in_widest_gap(rec['scores'])
    assert floor > SCORE_THR
    run_tool(
        python_tool('pseudo_label.py', MASK_RCNN, teacher, '--images',
                    osp.join(shapes_root, 'unlabeled'), '--out',
                    tmp_path / 'high', '--score-thr', floor))
    high = PseudoLabelStore(str(tmp_path / 'high'))
    assert high.meta['score_floor'] == floor
    assert np.all(np.asarray(high.scores) >= floor)
    above = rec['scores'] >= floor
    assert 0 < int(above.sum()) < len(rec['scores'])
    got = high.image(0)
    assert len(got['boxes']) == int(above.sum())
    np.testing.assert_allclose(
        got['boxes'], rec['boxes'][above], rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(got['labels'], rec['labels'][above])


def floor_in_widest_gap(scores):
    """The midpoint of the widest gap between two consecutive distinct
    ``scores`` (at least one score on each side)."""
    s = np.unique(np.asarray(scores, dtype=np.float64))
    assert len(s) >= 2, 'need two distinct scores to place a floor between'
    i = int(np.argmax(np.diff(s)))
    return float((s[i] + s[i + 1]) / 2)


def test_list_and_coco_sources_give_the_same_labels(reference, teacher,
                                                    shapes_root, tmp_path):
    names = sorted(os.listdir(osp.join(shapes_root, 'unlabeled')))
    listing = tmp_path / 'images.txt'
    listing.write_text('# unlabeled split\n\n' + ''.join(f'unlabeled/{n}\n'
                                                         for n in names))
    run_tool(
        label_cmd(teacher, listing, tmp_path / 'list', '--img-root',
                  shapes_root))
    coco = osp.join(shapes_root, 'annotations', 'image_info_unlabeled.json')
    run_tool(
        label_cmd(teacher, coco, tmp_path / 'coco', '--img-root',
                  osp.join(shapes_root, 'unlabeled')))

    ref = column_bytes(reference[0], LABEL_COLUMNS)
    assert column_bytes(tmp_path / 'list', LABEL_COLUMNS) == ref
    assert column_bytes(tmp_path / 'coco', LABEL_COLUMNS) == ref
    list_store = PseudoLabelStore(str(tmp_path / 'list'))
    coco_store = PseudoLabelStore(str(tmp_path / 'coco'))
    assert list_store.path(3) == 'unlabeled/000003.png'
    assert list(list_store.image_ids) == [1, 2, 3, 4]
    with open(coco) as f:
        ids = sorted(im['id'] for im in json.load(f)['images'])
    assert list(coco_store.image_ids) == ids
    assert coco_store.meta['source']['kind'] == 'coco'


def test_list_images_orders_and_checks_sources(shapes_root, tmp_path):
    (tmp_path / 'b').mkdir()
    for name in ('b/2.png', 'b/1.jpg', 'a.PNG', 'notes.txt'):
        (tmp_path / name).write_bytes(b'x')
    items, src = list_images(str(tmp_path))
    assert items == [('a.PNG', 1), ('b/1.jpg', 2), ('b/2.png', 3)]
    assert src == dict(kind='folder', path=str(tmp_path), root=str(tmp_path))
    coco = osp.join(shapes_root, 'annotations', 'image_info_unlabeled.json')
    # file_name is relative to unlabeled/, not to the dataset root.
    with pytest.raises(ImageSourceError, match='--img-root'):
        list_images(coco)
    with pytest.raises(ImageSourceError, match='does not exist'):
        list_images(str(tmp_path / 'missing'))


def test_corrupt_image_is_skipped_and_listed(reference, teacher, shapes_root,
                                             tmp_path):
    folder = tmp_path / 'images'
    shutil.copytree(osp.join(shapes_root, 'unlabeled'), folder)
    (folder / '000001.png').write_bytes(b'\x89PNG garbage, not an image')
    log = run_tool(label_cmd(teacher, folder, tmp_path / 'store'))
    store = PseudoLabelStore(str(tmp_path / 'store'))
    meta = store.meta
    assert meta['num_skipped'] == 1 and len(store) == 3
    assert meta['skipped'][0]['path'] == str(folder / '000001.png')
    assert meta['skipped'][0]['reason']
    assert 'skipped unreadable image' in log
    assert [store.path(i)
            for i in range(3)] == ['000000.png', '000002.png', '000003.png']
    ref = PseudoLabelStore(reference[0])
    for i, j in ((0, 0), (1, 2), (2, 3)):
        a, b = store.image(i), ref.image(j)
        assert a['image_id'] == b['image_id']
        np.testing.assert_array_equal(a['boxes'], b['boxes'])
        np.testing.assert_array_equal(a['scores'], b['scores'])


def test_resume_after_kill_gives_identical_store(reference, teacher,
                                                 shapes_root, tmp_path):
    images = osp.join(shapes_root, 'unlabeled')
    out = tmp_path / 'store'
    # A run killed (SIGKILL) after its chunks were written, before the
    # store was finalized.
    kill = ('import os, signal, sys, runpy; '
            'import rethink_mmdet.self_training.labeler as labeler; '
            'labeler.finalize_store = '
            'lambda *a: os.kill(os.getpid(), signal.SIGKILL); '
            'sys.argv = sys.argv[1:]; '
            'runpy.run_path(sys.argv[0], run_name="__main__")')
    cmd = label_cmd(teacher, images, out, chunk_size=1)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', kill, *cmd[1:]],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    chunks = out / 'chunks'
    assert sorted(os.listdir(chunks)) == [f'chunk-{i:06d}' for i in range(4)]
    assert not (out / 'meta.json').exists()
    shutil.rmtree(chunks / 'chunk-000002')  # killed before this one

    log = run_tool(cmd)
    assert 'skipping chunks [0, 1, 3]' in log
    assert '1 chunks to label' in log
    # Same bytes as the uninterrupted run (which used chunks of 2).
    assert column_bytes(out) == column_bytes(reference[0])
    assert not chunks.exists()


def test_two_processes_give_the_same_store(reference, teacher, shapes_root,
                                           tmp_path):
    out = tmp_path / 'store'
    cmd = label_cmd(teacher, osp.join(shapes_root, 'unlabeled'), out)
    log = run_tool([
        'bash', f'{REPO}/tools/dist_pseudo_label.sh', MASK_RCNN, teacher, '2',
        *cmd[4:]
    ],
                   env={'PORT': str(free_port())})
    assert 'on 2 rank(s)' in log
    assert column_bytes(out) == column_bytes(reference[0])
    assert PseudoLabelStore(str(out)).meta['num_images'] == 4


def test_teacher_labels_feed_a_student_training_step(reference, tmp_path):
    """End to end: the tiny teacher's store of the unlabeled split, served by
    PseudoLabelDataset (paths resolved from the store's source root), trains
    a Mask R-CNN student for one iteration with masks."""
    store, _ = reference
    cfg_file = tmp_path / 'student.py'
    cfg_file.write_text(f"""
_base_ = [{MASK_RCNN!r}]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        store={store!r},
        score_thr={float(SCORE_THR)!r},
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline={{{{_base_.train_pipeline}}}}))
""")
    opts = [
        'train_cfg.max_iters=1', 'val_cfg=None', 'val_dataloader=None',
        'val_evaluator=None', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'default_hooks.logger.interval=1'
    ]
    out = run_tool(
        python_tool('train.py', cfg_file, '--work-dir', tmp_path / 'work',
                    '--cfg-options', *opts))
    assert 'Iter(train) [1/1]' in out
    assert 'loss_mask' in out
    assert (tmp_path / 'work' / 'iter_1.pth').is_file()
