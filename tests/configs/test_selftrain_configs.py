"""The Zoph et al. 2020 grid of configs/rethinking-self-training: the leaves
are the generator's output, the grid is complete, every leaf follows the
recipe and builds its model and its dataloaders (pointed at the built-in
shapes data, one real batch each), and one student leaf per (detector,
init) trains 2 iterations with a real Runner.

Cost (2 CPU cores): every leaf is parsed (about 0.05 s each with the parse
cache of ``fast_parsing``); a model, dataloader or
batch whose resolved config equals one already built in this module is not
built again (a build is a function of its config), which leaves 12 models
and 17 dataloaders to build for the 216 leaves. Training 2 iterations of
every leaf would take tens of minutes, so 6 leaves train (one per detector
and init, with different augmentations, label shares and unlabeled sets).
"""
import copy
import functools
import importlib.util
import json
import os
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner, set_random_seed

from rethink_mmdet.data.shapes import SHAPES_CLASSES
from rethink_mmdet.self_training.rounds import point_at_store
from tests.conftest import REPO

CONFIG_DIR = osp.join(REPO, 'configs', 'rethinking-self-training')
GENERATOR = osp.join(REPO, 'tools', 'misc', 'gen_selftrain_configs.py')
SIZE = 160  # train and test size (FPN level 7 of a one-image part: 2x2)

# The grid, written out (not taken from the generator).
DETECTORS = (('retinanet', 'r50'), ('retinanet', 'effb7'), ('mask-rcnn',
                                                            'r50'))
INITS = ('scratch', 'imagenet')
PERCENTS = (20, 50, 100)
UNLABELED = {
    'imagenet': ('data/imagenet/', 'train/'),
    'unlabeled2017': ('data/coco/', 'unlabeled2017/')
}
NAME = re.compile(r'(?P<algo>[a-z-]+)_(?P<bb>r50|effb7)-(?P<init>scratch|'
                  r'imagenet)_fpn_syncbn-all_aug-s(?P<aug>[1-4])_'
                  r'(?:selftrain-(?P<unl>imagenet|unlabeled2017)_)?coco-'
                  r'(?P<p>\d+)p\.py$')

# the grid's configs (study_*.py are study configs of tools/study.py,
# tested in test_study_configs.py)
LEAVES = sorted(
    n for n in os.listdir(CONFIG_DIR)
    if n.endswith('.py') and not n.startswith('study_'))
# one student per (detector, init) trains 2 iterations
TRAINED = (
    'retinanet_r50-scratch_fpn_syncbn-all_aug-s4_selftrain-imagenet_'
    'coco-20p.py',
    'retinanet_r50-imagenet_fpn_syncbn-all_aug-s1_selftrain-unlabeled2017_'
    'coco-100p.py',
    'retinanet_effb7-scratch_fpn_syncbn-all_aug-s3_selftrain-imagenet_'
    'coco-50p.py',
    'retinanet_effb7-imagenet_fpn_syncbn-all_aug-s2_selftrain-'
    'unlabeled2017_coco-20p.py',
    'mask-rcnn_r50-scratch_fpn_syncbn-all_aug-s2_selftrain-unlabeled2017_'
    'coco-50p.py',
    'mask-rcnn_r50-imagenet_fpn_syncbn-all_aug-s3_selftrain-imagenet_'
    'coco-100p.py',
)


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
    """A pseudo-label store of the shapes train images (their boxes and
    masks as teacher output of score 1)."""
    from rethink_mmdet.self_training import import_coco_results
    ann = osp.join(shapes_root, 'annotations', 'instances_train.json')
    store = str(tmp_path_factory.mktemp('selftrain_store') / 'store')
    import_coco_results(ann, ann, store)
    return store


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
                                          'RandomCropInstances', 'Pad'):
                t[key] = (SIZE, SIZE)


def use_shapes(cfg, root, store):
    """Point every dataset of ``cfg`` at the shapes data (the students'
    pseudo part at ``store``), at SIZE pixels, no workers, 2 images per
    batch (1 human + 1 pseudo for a student)."""
    root = root.rstrip('/') + '/'
    loader = cfg.train_dataloader
    sets = loader.dataset.get('datasets', [loader.dataset])
    for d in sets:
        d.update(
            data_root=root,
            data_prefix=dict(img='train/'),
            metainfo=dict(classes=SHAPES_CLASSES))
        if d.type == 'PseudoLabelDataset':
            d.store = store
        else:
            d.ann_file = 'annotations/instances_train.json'
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
            num_workers=0, persistent_workers=False, batch_size=2)


def _load_generator():
    spec = importlib.util.spec_from_file_location('gen_selftrain', GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_leaves_are_the_generators_output():
    assert _load_generator().stale_files() == []


def test_the_grid_is_complete():
    want = set()
    for algo, bb in DETECTORS:
        for init in INITS:
            for aug in range(1, 5):
                for p in PERCENTS:
                    stem = f'{algo}_{bb}-{init}_fpn_syncbn-all_aug-s{aug}_'
                    want.add(f'{stem}coco-{p}p.py')
                    for u in UNLABELED:
                        want.add(f'{stem}selftrain-{u}_coco-{p}p.py')
    assert set(LEAVES) == want and len(want) == 216


def _check_recipe(name, cfg):
    """The recipe of a leaf, from its name (Zoph et al. 2020 + the
    released schedule scaled to batch 32)."""
    m = NAME.match(name).groupdict()
    student = m['unl'] is not None
    # schedule: 231.5k steps at batch 256 -> x8 at batch 32 (8 GPUs x 4)
    assert cfg.train_cfg.type == 'ResumableIterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 231_500 * 8
    steps = [s for s in cfg.param_scheduler if s['type'] == 'MultiStepLR']
    assert steps[0]['milestones'] == [217_610 * 8, 226_870 * 8]
    warmup = [s for s in cfg.param_scheduler if s['type'] == 'LinearLR']
    assert warmup[0]['end'] == 2000 * 8
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.28 * 32 / 256)
    assert cfg.optim_wrapper.optimizer.weight_decay == 4e-5
    assert cfg.optim_wrapper.clip_grad.max_norm == 10
    assert cfg.train_dataloader.batch_size == 4
    # data: the label share, the Aug-S pipeline, the student's sources
    loader = cfg.train_dataloader
    human = loader.dataset.datasets[0] if student else loader.dataset
    ann = ('annotations/instances_train2017.json' if m['p'] == '100' else
           f'annotations/instances_train2017.1@{m["p"]}.json')
    assert human.type == 'CocoDataset' and human.ann_file == ann
    types = [t['type'] for t in human.pipeline]
    assert types[1] == 'LoadPseudoAnnotations' and types[-1] == \
        'PackStudentInputs'
    assert human.pipeline[1].with_mask == (m['algo'] == 'mask-rcnn')
    policy = {
        '1': None,
        '2': 'DetectionAutoAugment',
        '3': 'DetectionAutoAugment',
        '4': 'DetectionRandAugment'
    }
    assert types[2] == (policy[m['aug']] or 'RandomFlip')
    resize = [t for t in human.pipeline if t['type'] == 'RandomResize'][0]
    assert tuple(resize.ratio_range) == ((0.8, 1.2) if m['aug'] in '12' else
                                         (0.5, 2.0))
    model = cfg.model
    if student:
        assert model.type == 'SelfTrainingDetector'
        assert model.loss_norm.normalize is True
        assert loader.sampler.type == 'MixedSourceSampler'
        assert list(loader.sampler.source_ratio) == [1, 1]
        assert loader.dataset.sources == ['human', 'pseudo']
        pseudo = loader.dataset.datasets[1]
        assert pseudo.type == 'PseudoLabelDataset' and pseudo.score_thr == \
            0.5
        assert (pseudo.data_root, pseudo.data_prefix.img) == \
            UNLABELED[m['unl']]
        assert pseudo.pipeline == human.pipeline
        assert point_at_store(copy.deepcopy(cfg), '/stores/round1') == 1
        model = model.detector
    else:
        assert loader.sampler.type == 'DefaultSampler'
    # model: SyncBN everywhere, the init
    hooks = [h['type'] for h in cfg.custom_hooks]
    if m['bb'] == 'effb7':
        assert model.backbone.type == 'EfficientNet'
        assert model.backbone.arch == 'b7'
        assert model.backbone.norm_cfg.type == 'SyncBN'
        assert model.neck.norm_cfg.type == 'SyncBN'
        assert model.bbox_head.norm_cfg.type == 'SyncBN'
        assert 'SyncBNGuardHook' in hooks
        init_cfg = model.backbone.get('init_cfg')
        pretrained = isinstance(init_cfg, dict) and \
            init_cfg.get('type') == 'Pretrained'
        assert pretrained == (m['init'] == 'imagenet')
    else:
        assert model.type == 'ScratchNormDetector' and model.norm == 'SyncBN'
        init_cfg = model.get('backbone_init_cfg')
        if m['init'] == 'imagenet':
            assert init_cfg.checkpoint == 'torchvision://resnet50'
        else:
            assert init_cfg is None and 'ScratchGuardHook' in hooks
    assert ('ScratchInitHook' in hooks) == (m['init'] == 'scratch')
    for hook in cfg.custom_hooks:  # a student's backbone: detector.backbone
        if hook['type'] == 'ScratchInitHook':
            assert list(hook.get(
                'modules',
                ['backbone'
                 ])) == (['detector.backbone'] if student else ['backbone'])
    return student


@pytest.mark.parametrize('name', LEAVES)
def test_leaf_builds(name, shapes_root, shapes_store, built):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    student = _check_recipe(name, cfg)
    use_shapes(cfg, shapes_root, shapes_store)

    key = _key(cfg.model)
    if key not in built:  # no init_weights: nothing is downloaded
        model = MODELS.build(cfg.model)
        built[key] = (type(model).__name__,
                      sum(p.numel() for p in model.parameters()))
    model_type, num_params = built[key]
    assert model_type == ('SelfTrainingDetector' if student else
                          'MaskRCNN' if 'mask-rcnn' in name else 'RetinaNet')
    assert num_params > (60e6 if '_effb7' in name else 30e6)

    key = _key(cfg.train_dataloader)
    if key not in built:
        set_random_seed(0)  # the Aug-S draws (global RNGs, no workers)
        batch = next(
            iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
        built[key] = [(s.metainfo.get('data_source'), tuple(s.img_shape),
                       'masks' in s.gt_instances, 'scores' in s.gt_instances)
                      for s in batch['data_samples']]
    samples = built[key]
    assert [s[0] for s in samples
            ] == (['human', 'pseudo'] if student else [None, None])
    assert all(s[1] == (SIZE, SIZE) for s in samples)
    assert all(s[2] == ('mask-rcnn' in name) and s[3] for s in samples)

    key = _key(cfg.val_dataloader)
    if key not in built:
        built[key] = len(
            Runner.build_dataloader(cfg.val_dataloader, seed=0).dataset)
    assert built[key] == 6


@pytest.fixture
def quiet_config_text(monkeypatch):
    """The Runner logs and dumps the whole config as yapf-formatted text
    (2 s for each of these 30 KB configs, twice per Runner); nothing here
    reads it, so it is the config's raw repr."""
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda self: repr(self._cfg_dict)))


@pytest.mark.parametrize('name', TRAINED)
def test_student_trains_two_iterations(name, shapes_root, shapes_store,
                                       tmp_path, quiet_config_text):
    """A real Runner with the leaf's hooks (scratch guard and init, SyncBN
    guard set to allow one process, preemption, RNG state, images seen) and
    resumable loop trains 2 iterations on CPU at SIZE pixels; SyncBN runs as
    BN (mmengine reverts it in a single process). ImageNet leaves keep
    their random init here (no download)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    use_shapes(cfg, shapes_root, shapes_store)
    detector = cfg.model.detector
    if detector.type == 'ScratchNormDetector':
        detector.allow_single_process = True
        detector.backbone_init_cfg = None
        if 'roi_head' in detector.detector:  # 64 RoIs, not 512: CPU time
            detector.detector.train_cfg.rpn_proposal.max_per_img = 200
            detector.detector.train_cfg.rcnn.sampler.num = 64
    else:
        detector.backbone.pop('init_cfg', None)
    for hook in cfg.custom_hooks:
        if hook['type'] == 'SyncBNGuardHook':
            hook['allow_single_process'] = True
    cfg.update(
        work_dir=str(tmp_path),
        val_cfg=None,
        val_dataloader=None,
        val_evaluator=None,
        resume=False)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=100, save_last=False)
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    hub = runner.message_hub
    for key in ('loss', 'loss_human', 'loss_pseudo', 'pseudo_weight'):
        assert torch.isfinite(
            torch.tensor(hub.get_scalar(f'train/{key}').current()))
    assert hub.get_scalar('train/pseudo_boxes_per_image').current() >= 0
