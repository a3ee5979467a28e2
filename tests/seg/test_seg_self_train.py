"""tools/self_train.py drives the shapes segmentation student end to end
(Zoph et al. 2020, Sec. 3.2): the teacher's label maps, the student from
the teacher's weights (``student_init``), its training on human + pseudo
maps and both evaluations, as subprocesses exactly as users run them."""
import json
import os.path as osp

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from rethink_mmdet.data import make_shapes
from rethink_mmdet.data.shapes_seg import make_shapes_seg
from tests.conftest import python_tool, run_tool
from .student_data import STUDENT_CFG, TEACHER_CFG

SHORT = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2'
] + [
    f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False')
]


def test_self_train_runs_the_segmentation_student(tmp_path):
    root = str(tmp_path / 'shapes')
    make_shapes(
        root, num_train=8, num_val=4, num_unlabeled=4, seed=0, image_size=64)
    make_shapes_seg(root, splits=('train', 'val'))
    torch.manual_seed(0)
    teacher = MODELS.build(Config.fromfile(TEACHER_CFG).model)
    teacher.init_weights()
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(meta=dict(), state_dict=teacher.state_dict()), ckpt)
    work = tmp_path / 'work'
    out = run_tool(
        python_tool('self_train.py', STUDENT_CFG, '--teacher-config',
                    TEACHER_CFG, '--teacher-checkpoint', ckpt, '--unlabeled',
                    osp.join(root, 'unlabeled'), '--work-dir', work,
                    '--cfg-options', *SHORT),
        env=dict(SHAPES_ROOT=root + '/'))
    assert "student_init='teacher'" in out
    (record, ) = json.loads((work / 'rounds.json').read_text())
    assert record['student_init'] == 'teacher'
    assert 'mIoU' in record['student_metrics']
    student_cfg = Config.fromfile(record['student_config'])
    assert student_cfg.load_from == record['student_init_checkpoint']
    (_, pseudo) = student_cfg.train_dataloader.dataset.datasets
    assert pseudo.type == 'PseudoSegDataset'
    assert pseudo.store == record['store']
    state = torch.load(record['student_checkpoint'], map_location='cpu')
    assert not any(k.startswith('loss_norm.') for k in state['state_dict'])
    # (a random-init teacher is below 0.5 almost everywhere: its maps may
    # be all ignored, so only the human average is sure to have started)
    assert int(state['joint_state_dict']['loss_norm.human_count']) == 2
