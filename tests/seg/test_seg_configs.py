"""The PASCAL configs of Zoph et al. 2020 (configs/rethinking-self-training-
seg/): the committed files are the generator's output, every config loads,
its recipe is the paper's, every teacher's model builds in mmseg's scope
(SyncBN swapped to BN for the test only) and runs at 128x128 with stride-4
logits; the students build once ``SelfTrainingSegmentor`` is registered
(rethink_mmdet/seg/student.py, written beside these configs)."""
import glob
import importlib.util
import os.path as osp
import re

import pytest
import torch

pytest.importorskip('mmseg')

from mmengine.config import Config  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

import rethink_mmdet.seg  # noqa: E402,F401
from mmdet.registry import HOOKS  # noqa: E402
from rethink_mmdet.study import load_study  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FOLDER = osp.join(REPO, 'configs', 'rethinking-self-training-seg')
LEAVES = sorted(
    p for p in glob.glob(osp.join(FOLDER, '*.py'))
    if not osp.basename(p).startswith('study_'))
STUDIES = sorted(glob.glob(osp.join(FOLDER, 'study_*.py')))
STUDENTS = [p for p in LEAVES if '_st-' in osp.basename(p)]
TEACHERS = [p for p in LEAVES if p not in STUDENTS]
STUDENT_BUILT = MODELS.get('SelfTrainingSegmentor') is not None


def _generator():
    path = osp.join(REPO, 'tools', 'misc', 'gen_seg_selftrain_configs.py')
    spec = importlib.util.spec_from_file_location('gen_seg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bn(cfg):
    """``cfg`` (plain dicts) with every SyncBN as BN: SyncBN needs a
    process group (the runtimes' SyncBNGuardHook refuses one process)."""
    if isinstance(cfg, dict):
        return {
            k: ('BN' if k == 'type' and v == 'SyncBN' else _bn(v))
            for k, v in cfg.items()
        }
    if isinstance(cfg, list):
        return [_bn(v) for v in cfg]
    return cfg


def _name(path):
    return osp.basename(path)[:-3]


def test_committed_files_are_the_generators_output():
    gen = _generator()
    assert gen.stale_files() == [], (
        'run: python tools/misc/gen_seg_selftrain_configs.py')
    cells = gen.read_cells()
    assert {c.table for c in cells} == {'6', '8', '11', '14'}
    names = {osp.basename(p) for p in LEAVES}
    assert {gen.config_name(a) for a in gen.arms_of(cells)} == names


def test_paper_numbers_in_the_csv_are_the_ones_read():
    """Only the numbers of our notes (reference/papers.md Sec. 2 [V]);
    every other cell is 'not read'."""
    cells = _generator().read_cells()
    read = {
        (c.table, c.row, c.column): c.paper_miou
        for c in cells if c.paper_miou is not None
    }
    assert read == {
        ('6', 'EfficientNet-B7', 'ImageNet++ Init'): 85.2,
        ('6', 'EfficientNet-B7', 'ImageNet++ Init + self-training'): 86.7,
        ('6', 'EfficientNet-L2', 'ImageNet++ Init'): 88.7,
        ('6', 'EfficientNet-L2', 'ImageNet++ Init + self-training'): 90.0,
        ('11', 'Rand Init', 'Aug-S1'): 28.4,
        ('11', 'Rand Init', 'Aug-S4'): 41.5,
        ('11', 'ImageNet Init', 'Aug-S1'): 80.2,
        ('11', 'ImageNet Init', 'Aug-S4'): 81.4,
    }


@pytest.mark.parametrize('path', LEAVES, ids=_name)
def test_config_recipe(path):
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    l2 = '_effl2-' in name
    student = '_st-' in name
    # Zoph et al. 2020, Sec. 3.2 [V]
    assert cfg.train_cfg.max_iters == (20000 if l2 else 40000)
    assert cfg.optim_wrapper.optimizer.lr == (0.2 if l2 else 0.08)
    assert cfg.optim_wrapper.optimizer.weight_decay == 1e-5
    # preemptible long runs, as the detection grid's
    assert cfg.runner_type == 'mmdet.LongRunRunner'
    assert cfg.train_cfg.type == 'mmdet.ResumableIterBasedTrainLoop'
    cosine = cfg.param_scheduler[-1]
    assert cosine.type == 'CosineAnnealingLR'
    assert cosine.end == cfg.train_cfg.max_iters and cosine.eta_min == 0
    assert cfg.model.get('segmentor', cfg.model).neck.stack_times == 7
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', name).groups())
    assert per_gpu == cfg.train_dataloader.batch_size
    images = gpus * per_gpu
    assert images == (256 if l2 or not student else 512)
    assert cfg.auto_scale_lr.base_batch_size == images
    aug = 's4' if '-aug-s4-' in name else 's1'
    ratio = dict(s1=(0.8, 1.2), s4=(0.5, 2.0))[aug]
    datasets = cfg.train_dataloader.dataset.datasets
    assert len(datasets) == len(cfg.human_datasets) + student
    for dataset in datasets:
        types = [t['type'] for t in dataset.pipeline]
        assert ('mmdet.DetectionRandAugment' in types) == (aug == 's4')
        resize = next(t for t in dataset.pipeline
                      if t['type'] == 'RandomResize')
        assert tuple(resize.ratio_range) == ratio
    if student:
        assert cfg.model.type == 'SelfTrainingSegmentor'
        assert cfg.model.loss_norm.pseudo_weight == 1.0
        assert cfg.model.loss_norm.decay == 0.9997
        sampler = cfg.train_dataloader.sampler
        humans = sum(sampler.source_ratio[:-1])
        assert sampler.source_ratio[-1] == humans  # half pseudo
        # MixedSourceSampler needs exact shares in every batch
        assert per_gpu % sum(sampler.source_ratio) == 0
        labels = 'voc12aug' if name.endswith('_voc12aug-512x512.py') \
            else 'voc12'
        assert sum(cfg.human_shares) == _generator().HUMAN_SHARES[labels]
        assert cfg.train_dataloader.dataset.sources[-1] == 'pseudo'
        assert 'data_source' in datasets[-1].pipeline[-1].meta_keys
        gen = _generator()
        arm = next(
            a for a in gen.arms_of(gen.read_cells())
            if gen.config_name(a) == name)
        teacher = gen.config_name(gen.teacher_of(arm))
        assert osp.isfile(osp.join(FOLDER, teacher))
        assert teacher in open(path).read()  # the header names it
        # from the teacher's weights through tools/self_train.py, never a
        # load_from that the runtime's resume = True would resume
        assert cfg.student_init == 'teacher' and cfg.load_from is None
        hooks = [h['type'] for h in cfg.custom_hooks]
        assert {'mmdet.StudentInitCheckHook',
                'mmdet.JointStateHook'} <= set(hooks)
    else:
        assert cfg.model.type == 'EncoderDecoder'
        assert cfg.train_dataloader.dataset.type == 'ConcatDataset'


@pytest.mark.parametrize('path', TEACHERS, ids=_name)
def test_teacher_builds_and_predicts_at_stride_4(path):
    cfg = Config.fromfile(path)
    for hook in cfg.custom_hooks:
        HOOKS.build(hook)
    model_cfg = _bn(cfg.model.to_dict())
    model_cfg['backbone'].pop('init_cfg', None)  # no download
    if '_effl2-' in osp.basename(path):
        # 473M parameters (2.3 GB): the backbone's channels are checked by
        # the arch; the rest is the B7 model's
        model_cfg['backbone']['arch'] = 'b0'
        model_cfg['neck']['in_channels'] = [40, 112, 320]
    model = MODELS.build(model_cfg)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 128, 128))
        assert [f.shape[-1] for f in feats] == [16, 8, 4, 2, 1]
        assert model.decode_head(feats).shape == (1, 21, 32, 32)


def test_l2_backbone_channels_match_the_neck():
    cfg = Config.fromfile(
        osp.join(
            FOLDER,
            'nasfpn_effl2-in1k-ns_syncbn_32xb8-aug-s4-20k_voc12aug-512x512.py')
    )
    from mmdet.models.utils.make_divisible import make_divisible
    width = MODELS.get('EfficientNetWithL2').arch_settings['l2'][0]
    assert cfg.model.backbone.type == 'EfficientNetWithL2'
    assert cfg.model.neck.in_channels == [
        make_divisible(c * width, 8) for c in (40, 112, 320)
    ]


@pytest.mark.skipif(
    not STUDENT_BUILT,
    reason='SelfTrainingSegmentor (rethink_mmdet/seg/student.py) is not '
    'registered yet: the students are built after it is merged')
@pytest.mark.parametrize('path', STUDENTS, ids=_name)
def test_student_builds(path):
    cfg = Config.fromfile(path)
    model_cfg = _bn(cfg.model.to_dict())
    model_cfg['segmentor']['backbone'].pop('init_cfg', None)
    if '_effl2-' in osp.basename(path):
        model_cfg['segmentor']['backbone']['arch'] = 'b0'
        model_cfg['segmentor']['neck']['in_channels'] = [40, 112, 320]
    MODELS.build(model_cfg)


@pytest.mark.parametrize('path', STUDIES, ids=_name)
def test_study_config_is_valid(path):
    study = load_study(path)
    configs = {osp.basename(p) for p in LEAVES}
    for arm in study.arms:
        assert osp.basename(arm.config) in configs
        if arm.kind == 'self_train':
            assert study.arm(arm.teacher_arm)
    assert [m.key for m in study.metrics] == ['mIoU']


@pytest.fixture(scope='module')
def shapes_seg_root(tmp_path_factory):
    """4 shapes train images with their class maps (5 classes)."""
    from rethink_mmdet.data.shapes import make_shapes
    from rethink_mmdet.data.shapes_seg import make_shapes_seg
    root = str(tmp_path_factory.mktemp('shapes_seg'))
    make_shapes(root, num_train=4, num_val=2, num_unlabeled=0, seed=0)
    make_shapes_seg(root, splits=('train', ))
    return root


def test_teacher_trains_two_iterations_with_its_runtime(
        shapes_seg_root, tmp_path):
    """The Rand Init Aug-S4 teacher as configured (its runtime hooks:
    SyncBN guard, scratch guard and init, atomic checkpoints; Aug-S4's
    RandAugment in the dataloader), at B0 / 16-channel width with BN on
    the shapes class maps, 2 iterations on CPU."""
    from mmengine.registry import RUNNERS

    from rethink_mmdet.engine.runner import LongRunRunner
    name = 'nasfpn_effb7-scratch_syncbn_32xb8-aug-s4-40k_voc12-512x512.py'
    cfg = Config.fromfile(osp.join(FOLDER, name))
    model = _bn(cfg.model.to_dict())
    model['backbone'].update(arch='b0')
    model['neck'].update(
        in_channels=[40, 112, 320], out_channels=16, stack_times=1)
    model['decode_head'].update(
        in_channels=[16] * 5, channels=16, num_classes=5)
    model['data_preprocessor']['size'] = (128, 128)
    cfg.model = model
    small = dict(
        RandomCrop=dict(crop_size=(128, 128)),
        RandomResize=dict(scale=(128, 128)))
    pipeline = [
        dict(t, **small.get(t['type'], {}))
        for t in cfg.seg_aug_pipelines.shapes
    ]
    cfg.train_dataloader.update(
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        dataset=dict(
            type='ConcatDataset',
            datasets=[
                dict(
                    type='ShapesSegDataset',
                    data_root=shapes_seg_root,
                    data_prefix=dict(
                        img_path='train/', seg_map_path='seg_maps/train/'),
                    pipeline=pipeline)
            ]))
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    for key in ('val', 'test'):
        cfg[f'{key}_dataloader'] = cfg[f'{key}_cfg'] = None
        cfg[f'{key}_evaluator'] = None
    cfg.default_hooks.checkpoint.interval = 2
    cfg.work_dir = str(tmp_path)
    cfg.env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
    runner = RUNNERS.build(cfg)  # its runner_type: the long-run runner
    assert isinstance(runner, LongRunRunner)
    runner.train()
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))
