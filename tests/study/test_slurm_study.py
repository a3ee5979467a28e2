"""A study submitted to the real one-node SLURM cluster of the long-run
issue (tools/ci/start_slurm.sh; skipped where none can run): one sbatch
per run through tools/slurm_train.sbatch, a second invocation leaves the
queued job alone, ``status`` follows the job to done, ``report`` reads
what it wrote."""
import json
import os
import os.path as osp
import re
import subprocess
import time

from rethink_mmdet.study.status import study_status
from tests.conftest import REPO, RETINANET, python_tool
from tests.engine.test_preemption import free_port
from tests.study.helpers import short_options, write_study
from tests.study.test_launchers import study_cli
from tests.tools.test_slurm_real import (  # noqa: F401 (fixtures)
    slurm_cluster, slurm_partition)

TIMEOUT = 300


def test_study_on_slurm(
        slurm_cluster,  # noqa: F811 (the fixture imported above)
        shapes_root,
        tmp_path):
    partition = slurm_cluster
    opts = dict(short_options(shapes_root), **{'train_cfg.max_iters': 4})
    study = write_study(
        tmp_path / 'study.py',
        name='slurm-ci',
        arms=[dict(name='r', config=RETINANET, cfg_options=opts)],
        metrics=['coco/bbox_mAP', 'loss'])
    work = str(tmp_path / 'dir')
    cmd = python_tool('study.py', study, '--work-dir', work, '--launcher',
                      'slurm', '--partition', partition, '--gpus', '1',
                      '--gpus-per-node', '0', '--cpus-per-task', '1')
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_PORT=str(free_port()))
    out = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True,
        check=True).stdout
    job = re.search(r'\[r_seed0\] submitted as SLURM job (\d+)', out)
    assert job, out
    again = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True,
        check=True).stdout
    assert 'submitted as SLURM job' not in again, again
    # not submitted again: still queued or running, or already done
    assert (f'as SLURM job {job.group(1)}, left alone' in again
            or '[r_seed0] done, skipped' in again), again
    end = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < end:
            rec, = study_status(work)
            if rec['status'] in ('done', 'failed'):
                break
            time.sleep(1)
    finally:
        subprocess.run(['scancel', job.group(1)], capture_output=True)
    log = osp.join(work, 'arms', 'r', 'seed0', f'slurm-{job.group(1)}.out')
    tail = open(log).read()[-4000:] if osp.exists(log) else ''
    assert rec['status'] == 'done', tail
    assert rec['job_id'] == job.group(1) and 'slurm_train.sbatch' in ' '.join(
        rec['command'])
    assert study_cli()(['report', work]) == 0
    report = json.load(open(osp.join(work, 'report.json')))
    assert report['runs'][0]['metrics']['loss'] is not None
