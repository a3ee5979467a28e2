"""The Zoph et al. 2020 configs of configs/rethinking-self-training: the
generated files are the generator's output; every cell of the paper's
table of arms (paper_arms.csv, read here on its own) has exactly one config
and every config is a cell; each config's iterations, batch, a, w, LR
schedule, optimizer and RandAugment magnitude are the table's; each builds
its model and its dataloaders on the built-in shapes data; no config sets a
top-level key that mmengine's Runner reads by accident; and one arm per
detector and init starts as a user starts it, through tools/dist_train.sh
with 2 gloo processes, for 2 iterations.

SyncBN in the distributed test: torch's SyncBatchNorm trains on GPUs only
("SyncBatchNorm expected input tensor to be on GPU"), so that test swaps
the norm layers to BN (every SyncBN dict of the written-out models) in the
config it writes; everything else is the leaf.

Cost (2 CPU cores): configs are parsed once (``fast_parsing``); a model,
dataloader or batch whose resolved config equals one already built is not
built again.
"""
import copy
import csv
import functools
import importlib.util
import json
import os
import os.path as osp
import re
import socket

import pytest
from mmengine.config import Config
from mmengine.runner import Runner, set_random_seed

from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.data.shapes_classification import SHAPES_CLS_CLASSES
from rethink_mmdet.self_training.rounds import point_at_store
from tests.conftest import REPO, run_tool

CONFIG_DIR = osp.join(REPO, 'configs', 'rethinking-self-training')
GENERATOR = osp.join(REPO, 'tools', 'misc', 'gen_selftrain_configs.py')
ARMS_CSV = osp.join(CONFIG_DIR, 'paper_arms.csv')
SIZE = 160  # train and test size (FPN level 7 of a one-image part: 2x2)

# The name scheme, written out here (not taken from the generator).
NAME = re.compile(
    r'retinanet_(?P<det>effb7|r50|r101)-(?P<init>scratch|in1k-ns|in1k|'
    r'simclr)_fpn_syncbn-all'
    r'(?:_st-in1k-a(?P<a>[\d.]+)(?P<rand>-student-random)?)?'
    r'(?:_joint-in1k-w(?P<w>[\d.]+))?'
    r'_32xb(?P<per_gpu>\d+)-aug-s(?P<aug>[1-4])(?:-m(?P<m>\d+))?'
    r'-(?P<iters>[\d.]+)k_coco(?:-(?P<p>\d+)p)?\.py$')
LEAVES = sorted(
    n for n in os.listdir(CONFIG_DIR)
    if n.endswith('.py') and not n.startswith('study_'))
# Keys of a config that mmengine's Runner (0.10) reads besides the ones our
# configs set on purpose: a helper variable of one of these names changes
# how the run starts (`sync_bn = dict(...)` made every B7 config die with
# 'sync_bn should be "torch" or "mmcv"' under dist_train.sh).
# What each may hold where a config sets it.
RUNNER_KEY_TYPES = {
    'sync_bn': str,
    'cfg': dict,
    'compile': (bool, dict),
    'launcher': str,
    'strategy': dict,
    'model_wrapper_cfg': dict,
    'find_unused_parameters': bool,
    'experiment_name': str,
    'log_level': str,
    'visualizer': dict,
    'randomness': dict,
    'env_cfg': dict,
    'default_scope': str,
    'data_preprocessor': dict,
    'load_from': (str, type(None)),
    'resume': (bool, str),
    'work_dir': str,
    'runner_type': str,
    'auto_scale_lr': dict,
    'log_processor': dict,
}
ALL_CONFIGS = sorted(
    osp.relpath(osp.join(d, f), REPO)
    for d, _, files in os.walk(osp.join(REPO, 'configs')) for f in files
    if f.endswith('.py') and not f.startswith('study_') and 'studies' not in d)


def read_table():
    """paper_arms.csv: one dict per cell of the paper's tables."""
    with open(ARMS_CSV, newline='') as f:
        return list(csv.DictReader(f))


def _float(text):
    return float(text) if text != '' else None


def parse_name(name):
    m = NAME.match(name)
    assert m, f'{name} does not follow the name scheme'
    g = m.groupdict()
    return dict(
        detector=g['det'],
        init=g['init'],
        a=_float(g['a'] or ''),
        student_random=bool(g['rand']),
        w=_float(g['w'] or ''),
        batch=32 * int(g['per_gpu']),
        aug=int(g['aug']),
        magnitude=int(g['m']) if g['m'] else None,
        iters=round(float(g['iters']) * 1000),
        labels=int(g['p'] or 100))


def row_fields(row):
    st = row['method'] in ('self-training', 'self-training+joint')
    magnitude = int(row['ra_magnitude']) if row['ra_magnitude'] else None
    return dict(
        detector=row['detector'],
        init=row['init'],
        a=_float(row['a']),
        student_random=row['student_init'] == 'random',
        w=_float(row['w']),
        batch=int(row['batch']),
        aug=int(row['aug']),
        magnitude=magnitude if magnitude not in (None, 10) else None,
        iters=int(row['iters']),
        labels=int(row['labels'])), st


def row_of(name):
    """The table row(s) of a leaf; all rows of a leaf agree."""
    fields = parse_name(name)
    rows = [r for r in read_table() if row_fields(r)[0] == fields]
    assert rows, f'{name}: no cell of {ARMS_CSV} is this config'
    return rows[0]


@pytest.fixture(scope='module', autouse=True)
def fast_parsing():
    """Parse each config file once in this module: mmengine re-reads every
    base of every leaf through a temporary copy, and each ``mmdet::`` lookup
    reads all of mmdet's 300 metafiles (0.6 s). A file's parse depends only
    on the file (and its bases): later calls get a deep copy of the first
    result."""
    get_path, file2dict = Config._get_cfg_path, Config._file2dict
    paths = functools.lru_cache(
        maxsize=None)(lambda cfg_path: get_path(cfg_path, ''))
    parsed = {}

    def get_cfg_path(cfg_path, filename):
        if '::' in cfg_path:
            return paths(cfg_path)
        return get_path(cfg_path, filename)

    def cached_file2dict(filename, *args, **kwargs):
        key = (osp.abspath(filename), args, tuple(sorted(kwargs.items())))
        if key not in parsed:
            parsed[key] = file2dict(filename, *args, **kwargs)
        return copy.deepcopy(parsed[key])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Config, '_get_cfg_path', staticmethod(get_cfg_path))
        mp.setattr(Config, '_file2dict', staticmethod(cached_file2dict))
        yield


@pytest.fixture(scope='module')
def shapes_store(shapes_root, tmp_path_factory):
    """A pseudo-label store of the shapes train images (their boxes as
    teacher output of score 1)."""
    from rethink_mmdet.self_training import import_coco_results
    ann = osp.join(shapes_root, 'annotations', 'instances_train.json')
    store = str(tmp_path_factory.mktemp('selftrain_store') / 'store')
    import_coco_results(ann, ann, store)
    return store


@pytest.fixture(scope='module')
def cls_root(tmp_path_factory):
    """The shapes classification set, the joint arms' ImageNet stand-in,
    in ImageNet's layout (``train/<class>/<image>``)."""
    import shutil

    from rethink_mmdet.data.shapes_classification import \
        make_shapes_classification
    made = str(tmp_path_factory.mktemp('shapes_cls'))
    make_shapes_classification(made, num_train=8, num_val=0, img_size=32)
    with open(osp.join(made, 'annotations', 'train.json')) as f:
        ann = json.load(f)
    root = str(tmp_path_factory.mktemp('shapes_cls_folders'))
    for item in ann['data_list']:
        folder = osp.join(root, 'train',
                          ann['metainfo']['classes'][item['gt_label']])
        os.makedirs(folder, exist_ok=True)
        shutil.copy(osp.join(made, 'train', item['img_path']), folder)
    return root + '/'


@pytest.fixture(scope='module')
def built():
    """Config text -> what was built from it, shared by the leaves."""
    return {}


def _key(part) -> str:
    return json.dumps(
        part.to_dict() if hasattr(part, 'to_dict') else part,
        sort_keys=True,
        default=str)


def _shrink(pipeline):
    for t in pipeline:
        for key in ('scale', 'crop_size', 'size'):
            if key in t and t['type'] in ('RandomResize', 'Resize',
                                          'RandomCropInstances', 'RandomCrop',
                                          'Pad'):
                t[key] = (SIZE, SIZE)


def train_sets(cfg):
    loader = cfg.train_dataloader
    return loader.dataset.get('datasets', [loader.dataset])


def use_shapes(cfg, root, store, cls_root):
    """Point every dataset of ``cfg`` at the shapes data (the students'
    pseudo part at ``store``, a joint arm's classification part at the
    shapes classification set ``cls_root`` in its ImageNet folder layout),
    at SIZE pixels, no workers, one image per source in a batch."""
    root = root.rstrip('/') + '/'
    sets = train_sets(cfg)
    for d in sets:
        if d.type == 'ImageFolderClsDataset':
            d.update(data_root=cls_root, data_prefix=dict(img_path='train/'))
            _shrink(d.pipeline)
            continue
        d.update(
            data_root=root,
            data_prefix=dict(img='train/'),
            metainfo=dict(classes=SHAPES_CLASSES))
        if d.type == 'PseudoLabelDataset':
            d.store = store
        else:  # the shapes train split, not a share of COCO's
            d.update(
                ann_file='annotations/instances_train.json',
                label_fraction=None)
        _shrink(d.pipeline)
    for split in ('val', 'test'):
        d = cfg[f'{split}_dataloader'].dataset
        d.update(
            data_root=root,
            data_prefix=dict(img='val/'),
            ann_file='annotations/instances_val.json',
            metainfo=dict(classes=SHAPES_CLASSES))
        _shrink(d.pipeline)
        cfg[f'{split}_evaluator'].ann_file = root + \
            'annotations/instances_val.json'
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].update(
            num_workers=0, persistent_workers=False)
    cfg.train_dataloader.batch_size = len(sets)
    for split in ('val', 'test'):
        cfg[f'{split}_dataloader'].batch_size = 2


def _load_generator():
    spec = importlib.util.spec_from_file_location('gen_selftrain', GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_files_are_the_generators_output():
    assert _load_generator().stale_files() == []


def test_every_cell_has_one_config_and_every_config_is_a_cell():
    rows = read_table()
    leaves = {n: parse_name(n) for n in LEAVES}
    for row in rows:
        fields, _ = row_fields(row)
        hits = [n for n, f in leaves.items() if f == fields]
        assert len(hits) == 1, (row, hits)
    cells = [row_fields(r)[0] for r in rows]
    for name, fields in leaves.items():
        assert fields in cells, f'{name} is no cell of the paper'
    # Tables 2, 3, 4, 7, 10 and 12 of the paper, each complete
    count = {}
    for r in rows:
        count[r['table']] = count.get(r['table'], 0) + 1
    assert count == {'2': 12, '3': 18, '4': 4, '7': 8, '10': 8, '12': 8}


def _pipeline_types(dataset):
    return [t['type'] for t in dataset.pipeline]


def check_recipe(name, cfg):
    """The leaf's recipe against its row of paper_arms.csv and the
    shared recipe of Zoph et al. 2020, Sec. 3.1 [V]."""
    row = row_of(name)
    method = row['method']
    student = method in ('self-training', 'self-training+joint')
    joint = method in ('joint', 'self-training+joint')
    iters = int(row['iters'])
    # schedule: batch 256 (students 512), LR 0.32, 1000 warm-up iterations
    # from 0.0032, cosine to 0 at the last iteration
    assert cfg.train_cfg.type == 'ResumableIterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == iters
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 1000
    assert cfg.optim_wrapper.optimizer.lr * warmup.start_factor == \
        pytest.approx(0.0032)
    assert cosine.type == 'CosineAnnealingLR'
    assert (cosine.begin, cosine.end, cosine.T_max, cosine.eta_min) == \
        (1000, iters, iters - 1000, 0)
    assert not cosine.by_epoch and not warmup.by_epoch
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.momentum, optim.weight_decay) == \
        ('SGD', 0.32, 0.9, 1e-4)
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == (
        1. if row['detector'] == 'r101' else 0.)
    assert 'clip_grad' not in cfg.optim_wrapper
    assert cfg.train_dataloader.batch_size * 32 == int(row['batch'])
    assert cfg.auto_scale_lr.base_batch_size == int(row['batch'])
    assert cfg.auto_scale_lr.enable is False
    # data: the label share, the augmentation
    sets = train_sets(cfg)
    human = sets[0]
    ann = ('annotations/instances_train2017.json' if row['labels'] == '100'
           else f'annotations/instances_train2017.1@{row["labels"]}.json')
    assert human.type == 'CocoSubsetDataset' and human.ann_file == ann
    assert human.label_fraction == int(row['labels']) / 100
    types = _pipeline_types(human)
    assert types[1] == 'LoadPseudoAnnotations'
    assert types[-1] == 'PackStudentInputs'
    aug = row['aug']
    policy = {
        '1': 'RandomFlip',
        '2': 'DetectionAutoAugment',
        '3': 'DetectionAutoAugment',
        '4': 'DetectionRandAugment'
    }[aug]
    assert types[2] == policy
    if aug == '4':
        assert human.pipeline[2].magnitude == int(row['ra_magnitude'])
    resize = [t for t in human.pipeline if t['type'] == 'RandomResize'][0]
    assert tuple(resize.ratio_range) == ((0.8, 1.2) if aug in '12' else
                                         (0.5, 2.0))
    # sources and the model around the detector
    sources = ['human'] + (['pseudo'] if student else
                           []) + (['classification'] if joint else [])
    model = cfg.model
    if len(sources) == 1:
        assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
        assert 'student_init' not in cfg and 'student_model' not in cfg
    else:
        assert cfg.train_dataloader.dataset.sources == sources
        assert cfg.train_dataloader.sampler.type == 'MixedSourceSampler'
        assert list(cfg.train_dataloader.sampler.source_ratio) == \
            [1] * len(sources)
        model = model.detector
    if student:
        pseudo = sets[1]
        assert pseudo.type == 'PseudoLabelDataset'
        assert pseudo.score_thr == 0.5
        assert (pseudo.data_root, pseudo.data_prefix.img) == \
            ('data/imagenet/', 'train/')
        assert pseudo.pipeline == human.pipeline
        assert point_at_store(copy.deepcopy(cfg), '/stores/round1') == 1
        assert cfg.model.loss_norm.pseudo_weight == float(row['a'])
        assert cfg.model.loss_norm.decay == 0.9997
        assert cfg.model.loss_norm.normalize is True
        assert cfg.student_init == row['student_init']
        assert 'StudentInitCheckHook' in [h['type'] for h in cfg.custom_hooks]
    if joint:
        assert cfg.model.type == 'JointTrainingDetector'
        assert cfg.model.cls_weight == float(row['w'])
        assert cfg.model.get('self_training', False) == student
        assert 'JointStateHook' in [h['type'] for h in cfg.custom_hooks]
        cls = sets[-1]
        assert cls.type == 'ImageFolderClsDataset'
        assert (cls.data_root, cls.data_prefix.img_path) == \
            ('data/imagenet/', 'train/')
        assert cfg.model.cls_head.num_classes == 1000
    elif student:
        assert cfg.model.type == 'SelfTrainingDetector'
    # the detector and its init
    hooks = [h['type'] for h in cfg.custom_hooks]
    init = row['init']
    if row['detector'] == 'effb7':
        assert model.backbone.type == 'EfficientNet'
        assert model.backbone.arch == 'b7'
        assert model.backbone.norm_cfg.type == 'SyncBN'
        assert model.neck.norm_cfg.type == 'SyncBN'
        assert model.bbox_head.norm_cfg.type == 'SyncBN'
        assert 'SyncBNGuardHook' in hooks
        init_cfg = model.backbone.get('init_cfg') or {}
    else:
        # the rendered SyncBN-all RetinaNet, written out (no nesting)
        assert model.type == 'RetinaNet' and 'detector' not in model
        assert model.backbone.depth == int(row['detector'][1:])
        for part in (model.backbone, model.neck, model.bbox_head):
            assert part.norm_cfg.type == 'SyncBN'
        assert model.backbone.frozen_stages == -1
        assert 'SyncBNGuardHook' in hooks
        init_cfg = model.backbone.get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint', '')
    expected = {
        'scratch':
        '',
        'in1k': ('efficientnet-b7_3rdparty_8xb32-aa_in1k'
                 if row['detector'] == 'effb7' else 'torchvision://resnet50'),
        'in1k-ns':
        'efficientnet-b7_noisy-student',
        'simclr':
        'simclr_r50_1x',
    }[init]
    assert (expected in checkpoint) if expected else not checkpoint
    if init in ('in1k-ns', 'simclr'):  # converted: backbone.* keys
        assert init_cfg.prefix.rstrip('.') == 'backbone'
    if init == 'simclr':  # RGB in [0, 1], no mean/std (SimCLR's input)
        pre = model.data_preprocessor
        assert (pre.mean, pre.std, pre.bgr_to_rgb) == ([0.] * 3, [255.] * 3,
                                                       True)
    assert ('ScratchGuardHook' in hooks) == (init == 'scratch')
    assert ('ScratchInitHook' in hooks) == (init == 'scratch')
    return sources


@pytest.mark.parametrize('name', LEAVES)
def test_leaf_recipe_and_build(name, shapes_root, shapes_store, cls_root,
                               built):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    sources = check_recipe(name, cfg)
    use_shapes(cfg, shapes_root, shapes_store, cls_root)
    if 'classification' in sources:  # the shapes classes, not ImageNet's
        cfg.model.cls_head.num_classes = len(SHAPES_CLS_CLASSES)

    key = _key(cfg.model)
    if key not in built:  # no init_weights: nothing is downloaded
        model = MODELS.build(cfg.model)
        built[key] = (type(model).__name__,
                      sum(p.numel() for p in model.parameters()))
    model_type, num_params = built[key]
    assert model_type == (
        'JointTrainingDetector' if 'classification' in sources else
        'SelfTrainingDetector' if len(sources) > 1 else 'RetinaNet')
    assert num_params > (60e6 if '_effb7' in name else 30e6)

    key = _key(cfg.train_dataloader)
    if key not in built:
        set_random_seed(0)  # the Aug-S draws (global RNGs, no workers)
        batch = next(
            iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
        built[key] = [(s.metainfo.get('data_source'), tuple(s.img_shape))
                      for s in batch['data_samples']]
    samples = built[key]
    assert [s[0] for s in samples] == (sources if len(sources) > 1 else [None])
    for source, shape in samples:  # classification images are not padded
        if source == 'classification':
            assert max(shape) <= SIZE
        else:
            assert shape == (SIZE, SIZE)


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=str)
def test_no_top_level_name_collides_with_a_runner_key(path):
    """A helper variable named like a key the Runner reads changes how the
    run starts; keys set on purpose must hold what the Runner expects."""
    cfg = Config.fromfile(osp.join(REPO, path))
    for key, types in RUNNER_KEY_TYPES.items():
        if key not in cfg:
            continue
        value = cfg[key]
        if hasattr(value, 'to_dict'):
            value = value.to_dict()
        ok = isinstance(value, types)
        if key == 'sync_bn':
            ok = ok and value in ('torch', 'mmcv')
        assert ok, (
            f'{path}: top-level `{key}` = {value!r} is read by mmengine\'s '
            f'Runner as its own `{key}` option; rename the variable')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _swap_norms(node):
    """SyncBN -> BN (norm_cfg dicts), in place (the CPU has no SyncBN)."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _swap_norms(value)
    elif isinstance(node, list):
        for value in node:
            _swap_norms(value)


#: Top-level names of the grid's fragments that only build other keys.
HELPER_PREFIXES = ('aug_', 'selftrain_', 'imagenet_joint_', 'joint_',
                   'student_model', 'student_loader', 'student_hooks',
                   'unlabeled', 'pseudo_label', 'mixed', 'coco_train',
                   'label_share')
# One arm per (detector, init) of the grid: teachers, students and a joint
# arm. A student from its teacher (the grid's default, student_init =
# 'teacher') starts from the checkpoint the teacher's run just wrote, with
# --cfg-options load_from=... resume=False as the StudentInitCheckHook's
# message says: for a random-init teacher the scratch guard must accept it
# (its mark); the App. C student from random init needs none.
R50_TEACHER = 'retinanet_r50-scratch_fpn_syncbn-all_32xb8-aug-s4-200k_coco.py'
R101_TEACHER = 'retinanet_r101-scratch_fpn_syncbn-all_32xb8-aug-s1-45k_coco.py'
DIST_ARMS = (
    ('retinanet_effb7-scratch_fpn_syncbn-all_st-in1k-a0.5-student-random_'
     '32xb16-aug-s4-135k_coco.py', None),
    ('retinanet_effb7-in1k_fpn_syncbn-all_joint-in1k-w0.5_32xb16-aug-s4-90k_'
     'coco-20p.py', None),
    ('retinanet_effb7-in1k-ns_fpn_syncbn-all_32xb8-aug-s4-45k_coco.py', None),
    ('retinanet_r50-scratch_fpn_syncbn-all_st-in1k-a0.25_32xb16-aug-s4-120k_'
     'coco.py', R50_TEACHER),
    ('retinanet_r50-in1k_fpn_syncbn-all_32xb8-aug-s4-160k_coco.py', None),
    ('retinanet_r50-simclr_fpn_syncbn-all_32xb8-aug-s4-160k_coco.py', None),
    ('retinanet_r101-scratch_fpn_syncbn-all_st-in1k-a1.0_32xb16-aug-s1-90k_'
     'coco.py', R101_TEACHER),
)


def dist_train(name, tmp_path, shapes_root, shapes_store, cls_root, **options):
    """tools/dist_train.sh <leaf> 2 on CPU (torchrun + gloo), 2 iterations,
    with ``options`` set on the config; returns the output and the work
    dir. The config is the leaf with the data pointed at the shapes set,
    the norm layers swapped (module docstring), no download of pre-trained
    weights and no evaluation."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    use_shapes(cfg, shapes_root, shapes_store, cls_root)
    if cfg.model.type == 'JointTrainingDetector':
        cfg.model.cls_head.num_classes = len(SHAPES_CLS_CLASSES)
    _swap_norms(cfg._cfg_dict)
    for d in (cfg.model, cfg.model.get('detector', {})):
        if 'backbone' in d:
            d['backbone'].pop('init_cfg', None)
    cfg.update(
        val_cfg=None, val_dataloader=None, val_evaluator=None, resume=False)
    cfg.update(options)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=2, save_last=True)
    cfg.default_hooks.logger.interval = 1
    # helper variables of the fragments (the Runner reads none of them;
    # test_no_top_level_name_collides_with_a_runner_key checks their names)
    # out: the Runner formats the whole config with yapf twice per process
    # (4 s for 35 KB), half of this test's time
    for key in [k for k in cfg if k.startswith(HELPER_PREFIXES)]:
        cfg._cfg_dict.pop(key)
    path = str(tmp_path / name)
    cfg.dump(path)
    work = tmp_path / osp.splitext(name)[0]
    out = run_tool([
        'bash', f'{REPO}/tools/dist_train.sh', path, '2', '--work-dir',
        str(work)
    ],
                   env={'PORT': str(free_port())})
    assert 'Distributed training: True' in out
    assert "'backend': 'gloo'" in out
    assert re.search(r'Iter\(train\) \[2/2\]', out), out[-3000:]
    return out, work


@pytest.mark.parametrize('name,teacher', DIST_ARMS, ids=lambda v: str(v))
def test_arm_starts_under_dist_train(name, teacher, shapes_root, shapes_store,
                                     cls_root, tmp_path):
    """Each arm as a user starts it: the Runner reads the config's
    top-level keys as in a user's run (2 gloo processes)."""
    data = (shapes_root, shapes_store, cls_root)
    options = {}
    if teacher is not None:
        _, work = dist_train(teacher, tmp_path, *data)
        options = dict(load_from=str(work / 'iter_2.pth'), resume=False)
    out, _ = dist_train(name, tmp_path, *data, **options)
    if teacher is not None:  # loaded, and the scratch guard accepted it
        assert 'Load checkpoint from' in out
