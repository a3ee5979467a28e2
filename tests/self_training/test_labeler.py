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
import tracemalloc

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.self_training.image_list import (ImageList,
                                                    coco_root_candidates,
                                                    iter_json_array)
from rethink_mmdet.self_training.labeler import (ChunkBatches,
                                                 ImageSourceError,
                                                 StoreMismatchError,
                                                 label_images, list_images)
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


def label_cmd(ckpt, images, out, *extra, chunk_size=2, batch_size=1):
    size = () if batch_size is None else ('--batch-size', batch_size)
    return python_tool('pseudo_label.py', MASK_RCNN, ckpt, '--images', images,
                       '--out', out, '--score-thr', SCORE_THR, '--chunk-size',
                       chunk_size, '--num-workers', 0, *size, *extra)


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
    assert "type='MaskRCNN'" in meta['teacher']['config_text']
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

    # the scratch config is a plain mmdet config: no cfg_options needed
    model = init_detector(MASK_RCNN, teacher, device='cpu')
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
    # No --img-root: file_name is found under ROOT/unlabeled/, the split
    # named by annotations/image_info_unlabeled.json.
    coco = osp.join(shapes_root, 'annotations', 'image_info_unlabeled.json')
    run_tool(label_cmd(teacher, coco, tmp_path / 'coco'))

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
    assert coco_store.meta['source']['root'] == osp.join(
        shapes_root, 'unlabeled')


def test_list_images_orders_and_checks_sources(shapes_root, tmp_path):
    (tmp_path / 'b').mkdir()
    for name in ('b/2.png', 'b/1.jpg', 'a.PNG', 'notes.txt', 'b.png'):
        (tmp_path / name).write_bytes(b'x')
    items, src = list_images(str(tmp_path))
    # Sorted by relative path: 'b.png' < 'b/1.jpg' ('.' < '/').
    assert list(items) == [('a.PNG', 1), ('b.png', 2), ('b/1.jpg', 3),
                           ('b/2.png', 4)]
    assert isinstance(items, ImageList) and items.ids is None
    assert {k: src[k] for k in ('kind', 'path', 'root', 'num_images')} == \
        dict(kind='folder', path=str(tmp_path), root=str(tmp_path),
             num_images=4)
    assert src['listing_sha256'] == items.sha256()
    with pytest.raises(ImageSourceError, match='does not exist'):
        list_images(str(tmp_path / 'missing'))


def test_coco_source_default_root_and_wrong_root(shapes_root, tmp_path):
    coco = osp.join(shapes_root, 'annotations', 'image_info_unlabeled.json')
    unlabeled = osp.join(shapes_root, 'unlabeled')
    items, src = list_images(coco)
    with open(coco) as f:
        want = sorted(
            (im['file_name'], im['id']) for im in json.load(f)['images'])
    assert list(items) == want and src['root'] == unlabeled
    assert coco_root_candidates(coco) == [
        unlabeled, shapes_root,
        osp.join(shapes_root, 'annotations')
    ]
    # file_name relative to a root given explicitly; a wrong one is named,
    # with the root that holds the images.
    with pytest.raises(ImageSourceError) as err:
        list_images(coco, img_root=shapes_root)
    msg = str(err.value)
    assert f'exists under {shapes_root}' in msg
    assert f'pass --img-root {unlabeled}' in msg
    # Images under none of the roots tried: every root and the fix named.
    moved = tmp_path / 'annotations'
    moved.mkdir()
    shutil.copy(coco, moved / 'image_info_unlabeled.json')
    with pytest.raises(ImageSourceError) as err:
        list_images(str(moved / 'image_info_unlabeled.json'))
    msg = str(err.value)
    for root in (tmp_path / 'unlabeled', tmp_path, moved):
        assert str(root) in msg
    assert '--img-root DIR' in msg and '000000.png' in msg
    # A list whose relative paths are not under its directory.
    listing = tmp_path / 'images.txt'
    listing.write_text('unlabeled/000000.png\n')
    with pytest.raises(ImageSourceError, match=f'under {tmp_path}: pass'):
        list_images(str(listing))
    items, src = list_images(str(listing), img_root=shapes_root)
    assert list(items) == [('unlabeled/000000.png', 1)]


def test_json_stream_matches_json_load(tmp_path):
    """The images of a COCO JSON are read record by record in blocks; any
    block boundary (inside strings, numbers, between keys) gives what
    json.load gives."""
    doc = {
        'info': {
            'v': 12345678,
            's': 'a "}]," b',
            'l': [1.5e3, None]
        },
        'images': [{
            'id': 10 - i,
            'file_name': f'{i}\u00e9.png'
        } for i in range(10)],
        'annotations': [{
            'k': 'x' * 50
        }] * 3,
        'n':
        987654321,
    }
    path = tmp_path / 'a.json'
    for indent in (None, 2):
        path.write_text(json.dumps(doc, indent=indent))
        assert list(iter_json_array(str(path), 'images')) == doc['images']
    for bad, why in (('{"images": [{"id": 1}',
                      'invalid JSON'), ('[]', 'expected a JSON object'),
                     ('{"imgs": []}', 'no top-level "images"')):
        path.write_text(bad)
        with pytest.raises(ImageSourceError, match=why):
            list(iter_json_array(str(path), 'images'))
    path.write_text(
        json.dumps({
            'images': [{
                'id': 1,
                'file_name': 'a'
            }, {
                'id': 1,
                'file_name': 'b'
            }]
        }))
    with pytest.raises(ImageSourceError, match='image id 1 appears more'):
        list_images(str(path), img_root=str(tmp_path))


@pytest.mark.parametrize('kind', ['list', 'coco'])
def test_listing_memory_does_not_hold_python_objects(kind, tmp_path):
    """The listing holds ~16 bytes + the path per image (numpy arrays), not
    a Python tuple per image (~0.4 KB); the peak while listing stays far
    below that too, since sources are read as streams."""
    n = 20_000
    names = [f'img/{i:08d}.jpg' for i in range(n)]  # 16 bytes each
    (tmp_path / 'img').mkdir()
    for name in (names[0], names[-1]):  # the first image, by line or id
        (tmp_path / name).write_bytes(b'x')
    if kind == 'list':
        source = tmp_path / 'images.txt'
        source.write_text(''.join(f'{p}\n' for p in names))
    else:
        source = tmp_path / 'annotations' / 'image_info_x.json'
        source.parent.mkdir()
        images = [dict(id=n - i, file_name=p) for i, p in enumerate(names)]
        source.write_text(json.dumps(dict(images=images)))
        del images
    tracemalloc.start()
    try:
        items, src = list_images(str(source), img_root=str(tmp_path))
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(items) == n and src['num_images'] == n
    assert items[0] == ((names[0], 1) if kind == 'list' else (names[-1], 1))
    per_image = 16 + 8 + (8 if kind == 'coco' else 0)
    assert items.nbytes == n * per_image + 8
    # Old listing: > 400 B per image held; here < 100 B at the peak
    # (the arrays, their growth and one 1 MiB read block).
    assert held < n * 60 + (1 << 20)
    assert peak < n * 100 + (4 << 20)


def test_chunk_batches_cover_chunks_in_batches():
    batches = ChunkBatches([3, 0], chunk_size=4, batch_size=3, num_images=14)
    assert list(batches) == [[12, 13], [0, 1, 2], [3]]
    assert len(batches) == 3 and batches.num_chunk_images() == 6


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


def test_batch_size_defaults_to_the_test_dataloader(reference, teacher,
                                                    shapes_root, tmp_path):
    """Without --batch-size the teacher config's test_dataloader.batch_size
    is used, as mmdet's tools/test.py does; the store holds the same boxes
    as the reference's batches of 1 (scores to float tolerance: a batch is
    another code path)."""
    out = tmp_path / 'store'
    log = run_tool(
        label_cmd(
            teacher,
            osp.join(shapes_root, 'unlabeled'),
            out,
            '--cfg-options',
            'test_dataloader.batch_size=3',
            chunk_size=4,
            batch_size=None))
    assert 'in batches of 3 with 0 loading worker(s)' in log
    store, ref = PseudoLabelStore(str(out)), PseudoLabelStore(reference[0])
    assert len(store) == len(ref) == 4
    for i in range(4):
        a, b = store.image(i), ref.image(i)
        clear = np.abs(b['scores'] - SCORE_THR) > 1e-3
        assert clear.sum() == (np.abs(a['scores'] - SCORE_THR) > 1e-3).sum()
        np.testing.assert_allclose(
            a['scores'][np.abs(a['scores'] - SCORE_THR) > 1e-3],
            b['scores'][clear],
            atol=1e-4)


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
    assert sorted(os.listdir(chunks)) == [f'chunk-{i:06d}'
                                          for i in range(4)] + ['run.json']
    assert not (out / 'meta.json').exists()
    shutil.rmtree(chunks / 'chunk-000002')  # killed before this one

    log = run_tool(cmd)
    assert 'skipping chunks [0-1, 3]' in log
    assert '1 chunks to label' in log
    # Same bytes as the uninterrupted run (which used chunks of 2).
    assert column_bytes(out) == column_bytes(reference[0])
    assert not chunks.exists()


def test_rerun_on_finished_store_does_nothing_or_names_differences(
        reference, teacher, mask_rcnn_run, shapes_root, tmp_path):
    """A requeued job reruns the same command on a finished store: exit 0,
    nothing labeled or rewritten. Other settings on the same --out are
    refused (exit 1) with each difference named."""
    out = tmp_path / 'store'
    shutil.copytree(reference[0], out)
    before = column_bytes(out) | {
        'meta.json': (out / 'meta.json').read_bytes()
    }
    images = osp.join(shapes_root, 'unlabeled')
    # In process (the tool's exit 0 is main() returning): the same settings
    # with another launch (no workers, chunks of 3) return the stored meta
    # before a teacher is built; nothing is rewritten.
    from mmengine.config import Config
    cfg = Config.fromfile(MASK_RCNN)
    meta = label_images(
        cfg,
        teacher,
        images,
        str(out),
        score_thr=SCORE_THR,
        chunk_size=3,
        num_workers=0)
    assert meta == PseudoLabelStore(str(out)).meta
    after = column_bytes(out) | {'meta.json': (out / 'meta.json').read_bytes()}
    assert after == before

    other = str(mask_rcnn_run[0] / 'iter_2.pth')
    cmd = python_tool('pseudo_label.py', MASK_RCNN, other, '--images', images,
                      '--out', out, '--score-thr', 0.3, '--cfg-options',
                      'model.test_cfg.rcnn.max_per_img=7')
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    err = proc.stderr
    assert 'Traceback' not in err
    assert f'{out} is a finished pseudo-label store' in err
    assert 'teacher checkpoint (sha256)' in err and other in err
    assert 'teacher config (sha256 of its model and test pipeline)' in err
    assert f'score floor (--score-thr): store {SCORE_THR!r}, now 0.3' in err
    for same in ('  - source', '  - number of source', '  - image root'):
        assert same not in err  # only what differs is named
    assert after == column_bytes(out) | {
        'meta.json': (out / 'meta.json').read_bytes()
    }

    # In process (no teacher is built before the check): another source.
    fewer = tmp_path / 'fewer'
    shutil.copytree(images, fewer)
    os.remove(fewer / '000003.png')
    with pytest.raises(StoreMismatchError) as e:
        label_images(cfg, teacher, str(fewer), str(out), score_thr=SCORE_THR)
    msg = str(e.value)
    assert f"source: store {images!r}, now {str(fewer)!r}" in msg
    assert 'number of source images: store 4, now 3' in msg
    assert 'teacher' not in msg and 'score floor' not in msg


def test_resume_with_other_settings_is_refused(reference, teacher, shapes_root,
                                               tmp_path):
    """An interrupted store records its run in chunks/run.json; resuming it
    with another score floor or chunk size is refused before labeling."""
    from mmengine.config import Config
    meta = PseudoLabelStore(reference[0]).meta
    out = tmp_path / 'store'
    (out / 'chunks').mkdir(parents=True)
    run = {k: meta[k] for k in ('teacher', 'source', 'score_floor')}
    (out / 'chunks' / 'run.json').write_text(
        json.dumps(dict(run, chunk_size=2)))
    cfg = Config.fromfile(MASK_RCNN)
    images = osp.join(shapes_root, 'unlabeled')
    with pytest.raises(
            StoreMismatchError, match='interrupted pseudo-label store') as e:
        label_images(cfg, teacher, images, str(out), score_thr=0.2)
    assert 'score floor (--score-thr)' in str(e.value)
    with pytest.raises(StoreMismatchError, match='--chunk-size 2 to resume'):
        label_images(
            cfg, teacher, images, str(out), score_thr=SCORE_THR, chunk_size=3)


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
