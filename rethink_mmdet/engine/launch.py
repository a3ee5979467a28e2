"""Shared launch logic of ``tools/train.py``, ``tools/test.py`` and friends.

The tools keep MMDetection's arguments; this module adds one thing mmdet's
tools lack: distributed runs on machines without CUDA. mmengine's
``init_dist`` calls ``torch.cuda.set_device`` and ``Runner.wrap_model`` passes
``device_ids=[LOCAL_RANK]`` to DDP, both of which fail on a CPU-only torch.
When CUDA is absent we start the process group with the ``gloo`` backend
ourselves (mmengine then skips its own ``init_dist``) and wrap the model with
``device_ids=None``, so ``tools/dist_train.sh CONFIG 2`` runs two real
processes on a laptop or CI, exactly as it does with ``nccl`` on a cluster.

For configs with ``runner_type='mmdet.LongRunRunner'``, :func:`load_config`
also makes the preemption signals exit with code 75 from the moment the config
is read until the runner installs its handlers (see
:func:`~rethink_mmdet.engine.signals.install_startup_handlers`): a job
preempted while it starts is requeued, not killed.
"""
import argparse
import atexit
import os
import os.path as osp
import subprocess

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict, DictAction

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
CPU_BACKEND = 'gloo'


def add_launch_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments every mmdet tool shares.

    ``--work-dir``, ``--cfg-options``, ``--launcher`` and ``--local_rank``
    with the same names, defaults and meaning as in ``mmdet/tools``.

    Args:
        parser (argparse.ArgumentParser): The parser to extend.
    """
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b; '
        'nested lists/tuples like key="[(a,b),(c,d)]". No white space.')
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch>=2.0) or
    # --local_rank; torchrun sets LOCAL_RANK in the environment instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` and apply the shared command-line arguments.

    ``work_dir`` is taken, by priority, from ``--work-dir``, the config, or
    ``./work_dirs/<config name>`` (mmdet's rule). The launcher is prepared
    with :func:`setup_launcher`, and the start-up signal handlers of
    :func:`preemption_startup` are installed.

    Args:
        args (argparse.Namespace): Parsed arguments holding ``config``,
            ``work_dir``, ``cfg_options``, ``launcher`` and ``local_rank``.

    Returns:
        Config: The loaded config.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    preemption_startup(cfg)
    setup_launcher(cfg)
    return cfg


def preemption_startup(cfg: Config) -> bool:
    """If ``cfg.runner_type`` is :class:`~.runner.LongRunRunner` (or a
    subclass), make its
    preemption signals exit with code 75 until the runner is built.

    Args:
        cfg (Config): The loaded config.

    Returns:
        bool: Whether the config selects the runner (and handlers were set).
    """
    from mmengine.registry import RUNNERS

    from .runner import LongRunRunner
    from .signals import DEFAULT_SIGNALS, install_startup_handlers
    kind = cfg.get('runner_type', None)
    if isinstance(kind, str):
        kind = RUNNERS.get(kind)  # 'mmdet.LongRunRunner' (or a subclass)
    if not (isinstance(kind, type) and issubclass(kind, LongRunRunner)):
        return False
    options = cfg.get('preemption_cfg', None) or {}
    install_startup_handlers(options.get('signals', DEFAULT_SIGNALS))
    return True


def setup_launcher(cfg: Config) -> None:
    """Make ``cfg.launcher`` work on machines without CUDA.

    With CUDA, or with ``launcher='none'``, nothing changes. Without CUDA and
    ``launcher='pytorch'`` (torchrun), the process group is initialised here
    with ``gloo`` from torchrun's environment, ``env_cfg.dist_cfg.backend``
    is set to ``gloo`` and the DDP wrapper gets ``device_ids=None``.

    Args:
        cfg (Config): The config whose ``launcher`` is honoured.

    ``launcher='slurm'`` without CUDA (srun tasks on CPU nodes) first sets
    torch's environment from SLURM's, as mmengine's ``_init_dist_slurm``
    does (:func:`_slurm_env`), then proceeds as for ``pytorch``.

    Raises:
        RuntimeError: For the ``mpi`` launcher without CUDA, which is not
            supported on CPU.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher == 'slurm':
        _slurm_env()
    elif launcher != 'pytorch':
        raise RuntimeError(
            f"launcher='{launcher}' needs CUDA, which this machine lacks. "
            "On CPU use tools/dist_train.sh (torchrun, launcher='pytorch') "
            "or tools/slurm_train.sh (srun, launcher='slurm'), which run "
            'the processes with the gloo backend.')
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = CPU_BACKEND
    if not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
        if 'timeout' in kwargs:
            from datetime import timedelta
            kwargs['timeout'] = timedelta(seconds=kwargs['timeout'])
        torch_dist.init_process_group(
            backend=CPU_BACKEND,
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs)
        atexit.register(destroy_at_exit)
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def destroy_at_exit() -> None:
    """Destroy the default process group while the interpreter is alive.

    Registered with :mod:`atexit` by :func:`setup_launcher` for the ``gloo``
    group it starts. A process that exits with the group alive can abort
    (``terminate called without an active exception``, SIGABRT) while the
    interpreter is torn down: gloo's worker threads still hold work objects
    with Python references (pytorch/pytorch#179291, #190489). torch's docs
    ask every trainer process to call ``destroy_process_group`` at its end;
    for gloo this is local to the process (no collective), so it is safe on
    every exit path, including a rank that exits before the others.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


# -- launcher='slurm' on CPU (tools/slurm_train.sh with GPUS_PER_NODE=0) ------
def _slurm_env() -> None:
    """``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` (the first
    node of the job) and ``MASTER_PORT`` (kept if set, else 29500) from the
    environment srun gives each task: mmengine's ``_init_dist_slurm`` rule,
    without its ``torch.cuda.set_device``."""
    missing = [
        k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
        if k not in os.environ
    ]
    if missing:
        raise RuntimeError(
            f"launcher='slurm' but {', '.join(missing)} not set: start the "
            'tool with srun (tools/slurm_train.sh), or use '
            "--launcher pytorch (tools/dist_train.sh).")
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        nodes = subprocess.run(
            ['scontrol', 'show', 'hostnames', os.environ['SLURM_NODELIST']],
            capture_output=True,
            text=True,
            check=True).stdout.split()
        os.environ['MASTER_ADDR'] = nodes[0]
