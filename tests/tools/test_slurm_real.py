"""Our SLURM scripts against a real one-node SLURM cluster (Debian's
slurm-wlm and munge, CPU only, started by ``tools/ci/start_slurm.sh``).

``tools/slurm_train.sbatch`` runs ``tools/slurm_train.sh`` with 2 CPU tasks
(gloo) on the shapes data; ``scancel --signal=USR1`` makes the tasks
checkpoint and exit 75; the batch script requeues the job, which resumes
and ends with the weights of an uninterrupted 2-process run.

Skipped, with the reason, where the cluster cannot be started (not root, no
apt mirror, no daemons). Elsewhere: run ``tools/ci/start_slurm.sh`` as root
on a scratch machine, or point ``SLURM_CONF`` at a real cluster with a CPU
partition and run this file (it submits one 2-task job).
"""
import fcntl
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import torch

from tests.conftest import REPO, RETINANET, short_run_options
from tests.engine.test_preemption import free_port

TIMEOUT = 300


@pytest.fixture(scope='session')
def slurm_partition():
    """The default partition of a running SLURM cluster (started here if
    needed)."""
    running = shutil.which('sinfo') is not None and subprocess.run(
        ['sinfo', '-h'], capture_output=True).returncode == 0
    if not running:
        if os.geteuid() != 0:
            pytest.skip('no running SLURM cluster, and not root: cannot '
                        'install and start one (tools/ci/start_slurm.sh)')
        proc = subprocess.run(['bash', f'{REPO}/tools/ci/start_slurm.sh'],
                              capture_output=True,
                              text=True,
                              timeout=600)
        if proc.returncode != 0:
            pytest.skip('tools/ci/start_slurm.sh could not start SLURM: '
                        f'{(proc.stdout + proc.stderr).strip()[-2000:]}')
    out = subprocess.run(['sinfo', '-h', '-o', '%P'],
                         capture_output=True,
                         text=True,
                         check=True).stdout.split()
    default = [p for p in out if p.endswith('*')] or out
    return default[0].rstrip('*')


@pytest.fixture
def slurm_cluster(slurm_partition):
    """``slurm_partition``, held by one test at a time across pytest-xdist
    workers (a file lock): the tests' jobs share the one node's CPUs."""
    with open(
            osp.join(tempfile.gettempdir(), 'rethink_mmdet_slurm.lock'),
            'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield slurm_partition
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def job_state(job_id):
    out = subprocess.run(['scontrol', 'show', 'job', job_id],
                         capture_output=True,
                         text=True).stdout
    state = re.search(r'JobState=(\w+)', out)
    restarts = re.search(r'Restarts=(\d+)', out)
    return (state.group(1) if state else 'UNKNOWN',
            int(restarts.group(1)) if restarts else 0)


def wait_until(predicate, what, log):
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    tail = open(log).read()[-6000:] if os.path.exists(log) else ''
    pytest.fail(f'timed out waiting for {what}:\n{tail}')


def weights(path):
    return torch.load(path, weights_only=True)['state_dict']


def test_preempted_sbatch_job_is_requeued_and_ends_equal(
        slurm_cluster, shapes_root, tmp_path):
    partition = slurm_cluster
    cfg = tmp_path / 'preemptible.py'
    cfg.write_text(f'''_base_ = {RETINANET!r}
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)
resume = True
train_cfg = dict(_delete_=True, type='ResumableIterBasedTrainLoop',
                 max_iters=12, val_interval=100)
runner_type = 'mmdet.LongRunRunner'
randomness = dict(seed=0, deterministic=True)
val_dataloader = None
val_cfg = None
val_evaluator = None
''')
    opts = [
        o for o in short_run_options(shapes_root, 12, 100)
        if not o.startswith(('val_', 'test_', 'train_cfg'))
    ]
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        MASTER_PORT=str(free_port()),
        TOOLS=f'{REPO}/tools')
    work_dir, log = tmp_path / 'slurm', str(tmp_path / 'job.log')
    job_id = subprocess.run([
        'sbatch', '--parsable', '-p', partition, '-J', 'rethink-ci',
        '--ntasks=2', '--cpus-per-task=1', '-o', log, '--open-mode=append',
        f'{REPO}/tools/slurm_train.sbatch',
        str(cfg),
        str(work_dir), '--cfg-options', *opts
    ],
                            cwd=REPO,
                            env=env,
                            capture_output=True,
                            text=True,
                            check=True).stdout.strip().split(';')[0]
    # meanwhile, the uninterrupted reference: 2 processes, torchrun + gloo
    reference = subprocess.Popen([
        'bash', f'{REPO}/tools/dist_train.sh',
        str(cfg), '2', '--work-dir',
        str(tmp_path / 'reference'), '--cfg-options', *opts
    ],
                                 cwd=REPO,
                                 env=dict(env, PORT=str(free_port())),
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    try:
        wait_until(
            lambda: re.search(r'Iter\(train\) \[\s*2/12\]',
                              open(log).read())
            if os.path.exists(log) else False, 'iteration 2', log)
        subprocess.run(['scancel', '--signal=USR1', job_id], check=True)
        wait_until(lambda: job_state(job_id)[1] >= 1, 'the requeue', log)
        wait_until(lambda: job_state(job_id)[0] == 'PENDING', 'pending', log)
        # SLURM holds a requeued job for 121 s (BeginTime). Start it 10 s
        # from now, not at once: until slurmd has finished off the first
        # start, it refuses the job ("Job credential revoked") and the job
        # ends FAILED without a second start.
        subprocess.run(
            ['scontrol', 'update', f'JobId={job_id}', 'StartTime=now+10'],
            capture_output=True,
            check=True)
        wait_until(lambda: 'start 2' in open(log).read(), 'the requeued start',
                   log)
        wait_until(
            lambda: job_state(job_id)[0] in
            ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'), 'the end', log)
        assert reference.wait(TIMEOUT) == 0
    finally:
        subprocess.run(['scancel', job_id], capture_output=True)
        if reference.poll() is None:
            reference.kill()
    out = open(log).read()
    state = job_state(job_id)
    assert state == ('COMPLETED', 1), f'{state}:\n{out[-6000:]}'
    # the requeued start found work_dir/last_checkpoint and added --resume
    assert 'slurm_train.sbatch: resuming from' in out, out[-6000:]
    assert 'Preemption requested (SIGUSR1)' in out
    assert 'preempted (exit 75): requeueing job' in out
    assert re.search(r'resumed epoch: 0, iter: [2-9]\b', out), out[-6000:]
    assert 'without loading the trained batches again' in out
    a = weights(tmp_path / 'reference' / 'iter_12.pth')
    b = weights(work_dir / 'iter_12.pth')
    assert all(torch.equal(a[k], b[k]) for k in a)
