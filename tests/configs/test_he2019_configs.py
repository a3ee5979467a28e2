"""Every config of configs/rethinking-imagenet-pretraining builds its model
and its dataloaders (data paths pointed at the built-in shapes dataset), and
its schedule follows He et al. 2019's rule, checked against the paper's
arithmetic: Nx = N * 90k iterations at batch 16 (8 GPUs x 2 images), LR 0.02,
LR x0.1 at the last 60k and the last 20k iterations; the less-data recipes
(Sec. 5.2) with lr 0.04 and LR decay factor 0.02; PASCAL VOC at 18k
(ImageNet) and 144k (random init) iterations, on the shapes data written in
mmdet's VOC layout."""
import glob
import json
import os
import os.path as osp
import re
from xml.etree import ElementTree as ET

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.data.shapes_config import use_shapes_data
from tests.conftest import REPO

CONFIG_DIR = osp.join(REPO, 'configs', 'rethinking-imagenet-pretraining')
# the grid (study_*.py are study configs of tools/study.py, tested in
# test_study_configs.py)
CONFIGS = sorted(
    c for c in glob.glob(osp.join(CONFIG_DIR, '*.py'))
    if not osp.basename(c).startswith('study_'))
# Paper arithmetic, written out (not computed by rethink_mmdet): total
# iterations and the two LR steps of each schedule at batch 16.
PAPER_SCHEDULES = {
    2: (180_000, 120_000, 160_000),
    3: (270_000, 210_000, 250_000),
    4: (360_000, 300_000, 340_000),
    5: (450_000, 390_000, 430_000),
    6: (540_000, 480_000, 520_000),
    9: (810_000, 750_000, 790_000),
}
# Less data (He et al. 2019, Sec. 5.2): lr 0.04, LR decay factor 0.02; 6x
# for 35k images, 220k (random init) / 60k (ImageNet) iterations for 10k.
SMALL_DATA_SCHEDULES = {
    '6x': (540_000, 480_000, 520_000),
    '220k': (220_000, 160_000, 200_000),
    '60k': (60_000, 40_000, 53_333),
}
# PASCAL VOC: 18k (ImageNet) and 144k (random init) iterations; the steps
# are our documented choices (Detectron2's VOC 12k/16k; the Sec. 4 rule).
VOC_SCHEDULES = {
    '18k': (18_000, 12_000, 16_000),
    '144k': (144_000, 84_000, 124_000),
}
RESUMABLE_LOOP = 'ResumableIterBasedTrainLoop'  # no replayed batches


def expected_schedule(name):
    """(total, step1, step2, lr, gamma) that ``name`` must have."""
    small = re.search(r'_ms-512-800-(\w+)_coco-[\d.]+k\.py$', name)
    if small:
        return SMALL_DATA_SCHEDULES[small.group(1)] + (0.04, 0.02)
    voc = re.search(r'_(\d+k)_voc0712\.py$', name)
    if voc:
        return VOC_SCHEDULES[voc.group(1)] + (0.02, 0.1)
    n = int(re.search(r'[_-](\d+)x_coco\.py$', name).group(1))
    return PAPER_SCHEDULES[n] + (0.02, 0.1)


def expected_grid():
    """The file names of He et al. 2019's grid (Fig. 1-5, Table 1, Sec. 5)."""
    names = set()
    for algo in ('mask-rcnn', 'faster-rcnn'):
        for depth in ('r50', 'r101'):
            for init in ('scratch', 'imagenet'):
                for n in range(2, 7):
                    names.add(f'{algo}_{depth}-{init}_fpn_gn-all_{n}x_coco.py')
    names |= {
        'mask-rcnn_r50-scratch_fpn_syncbn-all_3x_coco.py',
        'mask-rcnn_r50-scratch_fpn_syncbn-all_6x_coco.py',
        'faster-rcnn_r50-scratch_fpn_syncbn-all_6x_coco.py',
        'mask-rcnn_r50-scratch_fpn_gn-all_ms-640-800-9x_coco.py',
        'mask-rcnn_r50-scratch_fpn_syncbn-all_ms-640-800-9x_coco.py',
        'cascade-mask-rcnn_x152-32x8d-scratch_fpn_gn-all_ms-640-800-9x_'
        'coco.py',
    }
    for init, iters in (('scratch', '220k'), ('imagenet', '60k')):
        for size in ('10k', '3.5k', '1k'):
            names.add(f'mask-rcnn_r50-{init}_fpn_gn-all_ms-512-800-{iters}_'
                      f'coco-{size}.py')
        names.add(f'mask-rcnn_r50-{init}_fpn_gn-all_ms-512-800-6x_coco-35k.py')
    names |= {
        'faster-rcnn_r50-scratch_fpn_gn-all_144k_voc0712.py',
        'faster-rcnn_r50-imagenet_fpn_gn-all_18k_voc0712.py',
    }
    return names


def is_voc(cfg):
    return cfg.train_dataloader.dataset.type == 'RepeatDataset'


def voc_datasets(cfg):
    """The train datasets (VOC2007, VOC2012) and the val dataset of a VOC
    config: mmdet's voc0712.py wraps the train pair in ConcatDataset in
    RepeatDataset(times=3)."""
    repeat = cfg.train_dataloader.dataset
    assert repeat.times == 3 and repeat.dataset.type == 'ConcatDataset'
    return repeat.dataset.datasets, cfg.val_dataloader.dataset


def name_from_content(cfg):
    """The mmdet 3.x config name that ``cfg``'s content deserves, read from
    the model, the init, the norm, the train pipeline, the schedule and the
    annotation file -- never from the file name."""
    det = cfg.model
    algo = {
        'MaskRCNN': 'mask-rcnn',
        'FasterRCNN': 'faster-rcnn',
        'CascadeRCNN': 'cascade-mask-rcnn'
    }[det.type]
    if det.type == 'CascadeRCNN':
        assert det.roi_head.get('mask_head') is not None
    bb = det.backbone
    backbone = (f'x{bb.depth}-{bb.groups}x{bb.base_width}d'
                if bb.type == 'ResNeXt' else f'r{bb.depth}')
    init_cfg = det.backbone.get('init_cfg') or {}
    init = 'imagenet' if init_cfg.get('type') == 'Pretrained' else 'scratch'
    norm = {'GN': 'gn-all', 'SyncBN': 'syncbn-all'}[det.backbone.norm_cfg.type]
    train_set = voc_datasets(cfg)[0][0] if is_voc(cfg) else \
        cfg.train_dataloader.dataset
    resize = [
        step for step in train_set.pipeline
        if step['type'] == 'RandomChoiceResize'
    ]
    ms = ''
    if resize:
        shorts = [min(scale) for scale in resize[0]['scales']]
        ms = f'ms-{min(shorts)}-{max(shorts)}-'
    if is_voc(cfg):
        train, val = voc_datasets(cfg)
        assert [d.ann_file for d in train] == [
            'VOC2007/ImageSets/Main/trainval.txt',
            'VOC2012/ImageSets/Main/trainval.txt'
        ]
        assert val.ann_file == 'VOC2007/ImageSets/Main/test.txt'
        assert det.roi_head.bbox_head.num_classes == 20
        data = 'voc0712'
    else:
        subset = re.fullmatch(
            r'annotations/instances_train2017(_([\d.]+k))?\.json',
            cfg.train_dataloader.dataset.ann_file)
        data = f'coco-{subset.group(2)}' if subset.group(1) else 'coco'
    total = cfg.train_cfg.max_iters
    sched = (f'{total // 90_000}x' if total %
             90_000 == 0 else f'{total // 1000}k')
    return f'{algo}_{backbone}-{init}_fpn_{norm}_{ms}{sched}_{data}.py'


def _write_voc_split(shapes_root, split, voc_year_dir):
    """Write the shapes ``split`` in VOC form under ``voc_year_dir``:
    JPEGImages/<id>.jpg (links to the PNGs: mmcv decodes by content),
    Annotations/<id>.xml (1-based pixel boxes, as VOC's), and returns the
    image ids."""
    with open(osp.join(shapes_root, 'annotations',
                       f'instances_{split}.json')) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    boxes = {}
    for ann in coco['annotations']:
        boxes.setdefault(ann['image_id'], []).append(ann)
    ids = []
    for img in coco['images']:
        img_id = f'{split}_{osp.splitext(img["file_name"])[0]}'
        ids.append(img_id)
        jpg = osp.join(voc_year_dir, 'JPEGImages', f'{img_id}.jpg')
        os.symlink(osp.join(shapes_root, split, img['file_name']), jpg)
        root = ET.Element('annotation')
        size = ET.SubElement(root, 'size')
        for key in ('width', 'height'):
            ET.SubElement(size, key).text = str(img[key])
        ET.SubElement(size, 'depth').text = '3'
        for ann in boxes.get(img['id'], []):
            obj = ET.SubElement(root, 'object')
            ET.SubElement(obj, 'name').text = names[ann['category_id']]
            ET.SubElement(obj, 'difficult').text = '0'
            x, y, w, h = ann['bbox']
            box = ET.SubElement(obj, 'bndbox')
            for key, value in (('xmin', x + 1), ('ymin', y + 1),
                               ('xmax', x + w), ('ymax', y + h)):
                ET.SubElement(box, key).text = str(int(round(value)))
        ET.ElementTree(root).write(
            osp.join(voc_year_dir, 'Annotations', f'{img_id}.xml'))
    return ids


def voc_root(shapes_root):
    """``<shapes_root>/VOCdevkit``: the shapes train split as VOC2007 and
    VOC2012 trainval, its val split as VOC2007 test (mmdet's VOC layout),
    written once."""
    root = osp.join(shapes_root, 'VOCdevkit')
    if osp.isdir(root):
        return root
    for year in ('VOC2007', 'VOC2012'):
        year_dir = osp.join(root, year)
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
            os.makedirs(osp.join(year_dir, sub))
        splits = {'trainval': 'train'}
        if year == 'VOC2007':
            splits['test'] = 'val'
        for voc_split, split in splits.items():
            ids = _write_voc_split(shapes_root, split, year_dir)
            with open(
                    osp.join(year_dir, 'ImageSets', 'Main',
                             f'{voc_split}.txt'), 'w') as f:
                f.write('\n'.join(ids) + '\n')
    return root


def use_voc_shapes_data(cfg, root):
    """Point a VOC config's datasets at ``root`` (see :func:`voc_root`)
    with the shapes classes; the model keeps its 20-class head (shapes
    labels 0-3 are valid VOC labels)."""
    train, val = voc_datasets(cfg)
    for dataset in (*train, val):
        dataset.data_root = root.rstrip('/') + '/'
        dataset.metainfo = dict(classes=SHAPES_CLASSES)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].num_workers = 0
        cfg[f'{split}_dataloader'].persistent_workers = False


def test_the_grid_is_complete():
    """Every config of the grid exists and no other; that each one's content
    is what its name says (model, depth, init, norm, scale augmentation,
    schedule length, data subset) is checked per config below, by
    ``name_from_content``."""
    names = {osp.basename(c) for c in CONFIGS}
    assert names == expected_grid()


def test_scratch_runtime_extends_the_he_runtime():
    """he-scratch_runtime.py's hooks are he_runtime.py's, after the three
    scratch hooks. mmengine's ``{{_base_.x}}`` substitutes whole values (a
    base list cannot be extended in place), so the list is restated; this
    keeps the two from drifting apart."""
    base = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'he_runtime.py'))
    scratch = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'he-scratch_runtime.py'))
    assert scratch.custom_hooks == [
        dict(type='ScratchGuardHook'),
        dict(type='ScratchInitHook'),
        dict(type='SyncBNGuardHook')
    ] + base.custom_hooks


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_builds_and_follows_the_schedule_rule(config, shapes_root):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    name = osp.basename(config)
    cfg = Config.fromfile(config)
    assert name_from_content(cfg) == name

    # Schedule: He et al.'s rule at batch 16.
    total, step1, step2, lr, gamma = expected_schedule(name)
    assert cfg.train_cfg.type == RESUMABLE_LOOP
    assert cfg.train_cfg.max_iters == total
    steps = [s for s in cfg.param_scheduler if s['type'] == 'MultiStepLR']
    assert len(steps) == 1 and steps[0]['milestones'] == [step1, step2]
    assert steps[0]['gamma'] == gamma and steps[0]['by_epoch'] is False
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs = 16
    assert cfg.resume is True  # restarts resume automatically

    # Scratch vs fine-tuned: hooks and backbone init.
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'ImagesSeenHook' in hooks
    assert cfg.runner_type == 'mmdet.LongRunRunner'
    if '-scratch_' in name:
        assert {'ScratchGuardHook', 'ScratchInitHook'} <= set(hooks)
        assert cfg.model.backbone.init_cfg is None
    else:
        assert 'ScratchGuardHook' not in hooks
        assert cfg.model.backbone.init_cfg.type == 'Pretrained'

    # The model (no init_weights: nothing is downloaded), in the config's
    # scope as a Runner builds it (its data_preprocessor is mmdet's).
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    norm = torch.nn.SyncBatchNorm if 'syncbn' in name else torch.nn.GroupNorm
    assert sum(isinstance(m, norm) for m in model.modules()) > 50
    assert not any(
        isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    assert not any(
        isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm2d,
                       torch.nn.SyncBatchNorm))
        for m in model.rpn_head.modules())
    depth = 152 if '_x152' in name else 101 if '_r101' in name else 50
    assert model.backbone.depth == depth
    assert model.with_mask == ('mask-rcnn' in name)

    # The dataloaders, on the shapes dataset, serving a real batch.
    if is_voc(cfg):
        use_voc_shapes_data(cfg, voc_root(shapes_root))
    else:
        use_shapes_data(cfg, shapes_root, num_workers=0)
    cfg.train_dataloader.batch_size = 1
    train = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batch = next(iter(train))
    assert len(batch['data_samples']) == 1
    short_side = min(batch['data_samples'][0].img_shape)
    if is_voc(cfg):
        assert short_side == 600  # mmdet's VOC resize, 1000x600
        assert len(train.dataset) == 3 * 2 * 12  # 3 x (VOC2007 + VOC2012)
    elif '_ms-640-800' in name:
        assert 640 <= short_side <= 800
    elif '_ms-512-800' in name:
        assert 512 <= short_side <= 800
    else:
        assert short_side == 800
    val = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    assert len(val.dataset) == 6
    if is_voc(cfg):
        assert val.dataset.metainfo['dataset_type'] == 'VOC2007'
        assert cfg.val_evaluator.type == 'VOCMetric'


def test_scratch_config_trains_end_to_end(shapes_root, tmp_path):
    """A real R50 config of the grid, all its hooks on (scratch guard, He
    init, preemption, RNG, images seen, atomic checkpoints), trains two
    iterations on CPU at a reduced input size and writes a resumable
    checkpoint."""
    from tests.conftest import python_tool, run_tool
    config = osp.join(CONFIG_DIR,
                      'mask-rcnn_r50-scratch_fpn_gn-all_2x_coco.py')
    root = shapes_root.rstrip('/') + '/'
    opts = [
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.dataset.ann_file=annotations/instances_train.json',
        'train_dataloader.dataset.data_prefix.img=train/',
        "train_dataloader.dataset.metainfo.classes="
        "[circle,triangle,square,star]",
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.pipeline.2.scale=(320,256)',
        'train_cfg.max_iters=2',
        'val_cfg=None',
        'val_dataloader=None',
        'val_evaluator=None',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1',
    ]
    out = run_tool(
        python_tool('train.py', config, '--work-dir', tmp_path,
                    '--cfg-options', *opts))
    assert 'Iter(train) [2/2]' in out
    assert re.search(r'Iter\(train\) \[1/2\].* images_seen: 2 ', out)
    ckpt = tmp_path / 'iter_2.pth'
    assert ckpt.is_file()
    assert (tmp_path /
            'last_checkpoint').read_text().strip().endswith('iter_2.pth')
    saved = torch.load(ckpt, weights_only=True)
    assert saved['images_seen']['images_seen'] == 4  # 2 iters x batch 2
    assert 'rng_state' in saved
