"""The shapes segmentation student config through a real mmengine Runner
(Zoph et al. 2020, Sec. 3.2): mmdet components named from an mmseg-scoped
config, 1:1 human/pseudo batches whose ``data_source`` reaches the
student, the start from the teacher (``student_init`` -> ``load_from``),
checkpoints that load strictly into the plain segmentor
(``mmseg.apis.init_model``) and a resume that keeps the averages. The
pseudo source is the config's ``PseudoSegDataset`` on a store written
directly (the val images, their class maps with half of one map ignored)."""
import os
import os.path as osp
import subprocess
import sys

import mmseg
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import (DATA_SAMPLERS, DATASETS, HOOKS, LOOPS,
                               DefaultScope)
from mmengine.runner import Runner
from mmseg.apis import init_model
from mmseg.registry import MODELS
from PIL import Image

from rethink_mmdet.seg.student import SEG_STUDENT_META_KEYS
from rethink_mmdet.self_training.joint_hook import JOINT_STATE_KEY
from rethink_mmdet.self_training.sources import HUMAN, PSEUDO, SOURCE_KEY
from rethink_mmdet.self_training.student_init import (StudentInitError,
                                                      apply_student_init,
                                                      init_source,
                                                      prepare_student_init,
                                                      student_init_value)
from .student_data import (IGNORE, REPO, SIZE, STUDENT_CFG, TEACHER_CFG,
                           make_seg_data, seg_model_cfg)
from .test_pseudo_dataset import write_store

ITERS = 3
# mmseg's own tools, shipped in its wheel for mim
MMSEG_TOOLS = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools')


def small(cfg, root, work_dir, max_iters=ITERS):
    """``cfg`` at 64 px on ``root``, single process, ``max_iters``
    iterations, a checkpoint and a validation at the end."""
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    model = cfg.model.get('segmentor', cfg.model)
    model.data_preprocessor.size = (SIZE, SIZE)
    model.data_preprocessor.size_divisor = None  # one of the two
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    for dataset in [cfg.val_dataloader.dataset, cfg.test_dataloader.dataset]:
        dataset.data_root = root
        dataset.pipeline[1].scale = (SIZE, SIZE)
    return cfg


def pseudo_store(root):
    """A finished pseudo-label store over the val images of ``root`` (the
    labeler's layout): their class maps, image 0's left half ignored."""
    store = osp.join(root, 'seg_pseudo_labels')
    if osp.isdir(store):
        return store
    names = sorted(os.listdir(osp.join(root, 'seg_maps', 'val')))
    labels = [
        np.array(Image.open(osp.join(root, 'seg_maps', 'val', n)))
        for n in names
    ]
    labels[0][:, :SIZE // 2] = IGNORE
    write_store(store, osp.join(root, 'val'), names, labels)
    return store


def student_cfg(root, work_dir, max_iters=ITERS):
    """The shipped student config at 64 px, its PseudoSegDataset on
    :func:`pseudo_store`."""
    cfg = small(Config.fromfile(STUDENT_CFG), root, work_dir, max_iters)
    for dataset in cfg.train_dataloader.dataset.datasets:
        for t in dataset.pipeline:
            if t.type == 'RandomResize':
                t.scale = (SIZE, SIZE)
            if t.type == 'RandomCrop':
                t.crop_size = (SIZE, SIZE)
    human, pseudo = cfg.train_dataloader.dataset.datasets
    human.data_root = root
    pseudo.store = pseudo_store(root)
    return cfg


def test_student_config_names_the_mmdet_components():
    cfg = Config.fromfile(STUDENT_CFG)
    assert cfg.default_scope == 'mmseg'
    assert cfg.model.type == 'SelfTrainingSegmentor'
    assert cfg.model.segmentor == Config.fromfile(TEACHER_CFG).model
    assert cfg.model.loss_norm.pseudo_weight == 1.0
    loader = cfg.train_dataloader
    human, pseudo = loader.dataset.datasets
    assert loader.dataset.sources == [HUMAN, PSEUDO]
    assert pseudo.type == 'PseudoSegDataset' and pseudo.store
    for dataset in (human, pseudo):
        assert dataset.pipeline[-1].type == 'PackSegInputs'
        assert tuple(dataset.pipeline[-1].meta_keys) == SEG_STUDENT_META_KEYS
    assert loader.sampler.source_ratio == [1, 1]
    # mmengine resolves 'mmdet.X' from the mmseg scope into mmdet's registry
    with DefaultScope.overwrite_default_scope('mmseg'):
        for registry, cfg_type in (
            (DATASETS, loader.dataset.type),
            (DATA_SAMPLERS, loader.sampler.type),
            (DATA_SAMPLERS, loader.batch_sampler.type),
            (LOOPS, cfg.train_cfg.type),
                *((HOOKS, h.type) for h in cfg.custom_hooks),
        ):
            assert cfg_type.startswith('mmdet.')
            found = registry.get(cfg_type)
            assert found is not None and found.__module__.startswith(
                'rethink_mmdet.'), cfg_type
        assert MODELS.get(cfg.model.type).__module__ == \
            'rethink_mmdet.seg.student'


@pytest.fixture(scope='module')
def seg_run(tmp_path_factory):
    """A teacher checkpoint (the plain segmentor's weights), and a student
    started from it by ``student_init='teacher'`` that trains 3 iterations,
    recording each batch's sources and its first weights."""
    tmp = tmp_path_factory.mktemp('seg_student_run')
    root = make_seg_data(str(tmp / 'shapes'))
    # module-scoped: before conftest's per-test scope; the Runner's scope
    # is dropped with it after
    with DefaultScope.overwrite_default_scope('mmseg'):
        return _train_student(tmp, root)


def _train_student(tmp, root):
    torch.manual_seed(1)
    teacher = MODELS.build(seg_model_cfg())
    teacher.init_weights()
    teacher_ckpt = str(tmp / 'teacher.pth')
    torch.save(
        dict(meta=dict(), state_dict=teacher.state_dict()), teacher_ckpt)
    cfg = student_cfg(root, tmp / 'student')
    value = student_init_value(cfg)
    assert value == 'teacher'
    init = prepare_student_init(cfg, init_source(value, teacher_ckpt),
                                str(tmp / 'student_init.pth'), value)
    apply_student_init(cfg, value, init)
    runner = Runner.from_cfg(cfg)
    seen = dict(sources=[], first=None)

    def record(module, args, kwargs):
        if kwargs.get('mode') != 'loss':  # validation
            return
        samples = kwargs['data_samples']
        seen['sources'].append([s.metainfo[SOURCE_KEY] for s in samples])
        if seen['first'] is None:
            seen['first'] = {
                k: v.clone()
                for k, v in module.state_dict().items()
            }

    runner.model.register_forward_pre_hook(record, with_kwargs=True)
    runner.train()
    return dict(
        root=root,
        tmp=tmp,
        teacher=teacher.state_dict(),
        runner=runner,
        seen=seen,
        ckpt=osp.join(str(tmp / 'student'), f'iter_{ITERS}.pth'))


def test_data_source_reaches_the_student_in_mixed_batches(seg_run):
    sources = seg_run['seen']['sources']
    assert len(sources) == ITERS
    for batch in sources:
        assert sorted(batch) == [HUMAN, HUMAN, PSEUDO, PSEUDO]
    scalars = seg_run['runner'].message_hub.log_scalars
    for key in ('pseudo_weight', 'human_decode.loss_ce',
                'pseudo_decode.loss_ce', 'pseudo_kept_fraction'):
        assert f'train/{key}' in scalars, sorted(scalars)
    assert 'val/mIoU' in scalars


def test_student_starts_from_the_teacher(seg_run):
    first = seg_run['seen']['first']
    for key, value in seg_run['teacher'].items():
        torch.testing.assert_close(first[key], value, msg=key)


def test_student_checkpoint_loads_strictly_into_the_plain_segmentor(seg_run):
    ckpt = torch.load(seg_run['ckpt'], map_location='cpu')
    state = ckpt['state_dict']
    own = ckpt[JOINT_STATE_KEY]
    assert own and all(k.startswith('loss_norm.') for k in own)
    assert int(own['loss_norm.human_count']) == ITERS
    assert not any(k.startswith(('loss_norm.', 'segmentor.')) for k in state)
    plain_cfg = small(
        Config.fromfile(TEACHER_CFG), seg_run['root'], seg_run['tmp'])
    model = init_model(plain_cfg, seg_run['ckpt'], device='cpu')
    assert set(model.state_dict()) == set(state)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], msg=key)
    MODELS.build(plain_cfg.model).load_state_dict(state, strict=True)


def test_resume_keeps_the_averages(seg_run):
    cfg = student_cfg(
        seg_run['root'], seg_run['tmp'] / 'student', max_iters=ITERS + 1)
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    norm = runner.model.loss_norm
    assert int(norm.human_count) == ITERS + 1
    assert int(norm.num_steps) == ITERS + 1


def test_student_without_teacher_weights_is_refused(seg_run):
    cfg = student_cfg(seg_run['root'], seg_run['tmp'] / 'no_init')
    with pytest.raises(StudentInitError, match='loaded no checkpoint'):
        Runner.from_cfg(cfg).train()


def test_student_init_refuses_another_segmentor(seg_run):
    other = seg_model_cfg()
    other.decode_head.num_classes = 3
    wrong = MODELS.build(other)
    path = str(seg_run['tmp'] / 'other.pth')
    torch.save(dict(state_dict=wrong.state_dict()), path)
    cfg = student_cfg(seg_run['root'], seg_run['tmp'] / 'other')
    with pytest.raises(
            StudentInitError,
            match='SelfTrainingSegmentor around EncoderDecoder'):
        prepare_student_init(cfg, path, str(seg_run['tmp'] / 'x.pth'),
                             'teacher')


@pytest.mark.parametrize('which', ['plain', 'student'])
def test_mmseg_test_tool_runs_the_student_checkpoint(seg_run, which):
    """mmseg's own tools/test.py evaluates the student's checkpoint with the
    plain (teacher) config, without an unexpected key, and with the
    student config (the student predicts as its segmentor)."""
    tmp = seg_run['tmp']
    if which == 'plain':
        cfg = small(Config.fromfile(TEACHER_CFG), seg_run['root'], tmp)
    else:
        cfg = student_cfg(seg_run['root'], tmp / 'student')
    path = str(tmp / f'{which}_test_cfg.py')
    cfg.dump(path)
    proc = subprocess.run([
        sys.executable,
        osp.join(MMSEG_TOOLS, 'test.py'), path, seg_run['ckpt'], '--work-dir',
        str(tmp / f'{which}_test')
    ],
                          capture_output=True,
                          text=True,
                          cwd=str(tmp),
                          env=dict(
                              os.environ,
                              PYTHONPATH=os.pathsep.join(
                                  [REPO,
                                   os.environ.get('PYTHONPATH', '')])),
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'mIoU' in out
    assert 'unexpected key' not in out and 'missing keys' not in out, out
