"""tools/dist_train.sh and tools/dist_test.sh with two real processes on CPU
(torchrun + gloo), as on a GPU cluster with nccl."""
import socket

from tests.conftest import MASK_RCNN, REPO, run_tool, short_run_options


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_and_test_two_cpu_processes(shapes_root, tmp_path):
    opts = short_run_options(shapes_root, max_iters=2, ckpt_interval=2)
    out = run_tool([
        'bash', f'{REPO}/tools/dist_train.sh', MASK_RCNN, '2', '--work-dir',
        str(tmp_path), '--cfg-options', *opts
    ],
                   env={'PORT': str(free_port())})
    assert 'Distributed training: True' in out
    assert 'GPU number: 2' in out
    assert "'backend': 'gloo'" in out
    assert 'coco/bbox_mAP' in out
    ckpt = tmp_path / 'iter_2.pth'
    assert ckpt.is_file()

    out = run_tool([
        'bash', f'{REPO}/tools/dist_test.sh', MASK_RCNN,
        str(ckpt), '2', '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', *opts
    ],
                   env={'PORT': str(free_port())})
    assert 'GPU number: 2' in out
    assert 'coco/segm_mAP' in out
