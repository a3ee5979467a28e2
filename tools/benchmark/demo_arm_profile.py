"""Where the wall time of one arm of the CPU mini-replication goes.

One arm of ``make demo`` (``configs/studies/shapes_mini_replication.py``)
is one ``tools/train.py`` process on a config the study derived (dumped to
a file, then ``tools/train.py CONFIG --work-dir DIR``), single-threaded
when two arms share the 2 cores. This script builds the same kind of arm
(default: the scratch GN RetinaNet with the study's runtime options of a
``scratch-2x`` arm: He et al.'s 2x at 150 iterations per x, a validation
every x, one checkpoint at the end, ``num_workers=0``, ``ImagesSeenHook``,
logging every 10 iterations) on shapes images generated at
``--image-size`` (default 128, with the Resize scale of the shapes data
config following it through ``SHAPES_IMAGE_SIZE``, as
``tools/shapes_demo.py`` sets it), runs it as a real process
(``OMP_NUM_THREADS=1``) and splits its wall time, from the moment the
process is started to the moment it has exited, into:

* start-up: the interpreter, the imports of ``tools/train.py``, the config
  load, building the Runner (environment, logger, ``collect_env``, the
  config pretty-printed, the model), dumping the config, building the
  loops (dataloaders, datasets, evaluator, optimizer), the ``before_run``
  hooks and weight init, and the first batch;
* each training iteration: data loading (mmengine's ``data_time``), the
  data preprocessor, the forward of backbone + neck and of the head, the
  loss (anchor targets, assignment, focal / L1 losses), backward + gradient
  clipping, the optimizer step, the hooks, a checkpoint save;
* each validation: data loading, model forward + post-processing (+ the
  evaluator's ``process``), the COCO metric (pycocotools), the rest;
* the end: ``after_train`` / ``after_run`` and the atexit calls, then the
  interpreter's finalization.

How: the child process is this script in ``--child`` mode, which imports
``tools/train.py`` and runs what its ``main`` does (``parse_args``,
``load_config``, ``Runner.from_cfg(cfg).train()``), timestamping between
them; three instances of a registered hook (``ArmProfileHook``: first, just
before mmengine's ``CheckpointHook``, last in every event) and PyTorch's
module forward hooks and optimizer step pre-hook (installed in
``before_train``) time the rest; ``gc.callbacks`` time the garbage
collector. Nothing of mmengine or mmdet is patched. On CUDA each timestamp
synchronizes first. Beside ours, mmengine's own figures of the same run
(``IterTimerHook``'s ``time`` / ``data_time`` in ``vis_data/scalars.json``)
are printed: its ``data_time`` of the first iteration after a validation
also holds the COCO metric's time.

``--variant NAME 'KEY=VALUE ...'`` (repeatable) runs further arms with
extra ``--cfg-options`` (mmengine's ``DictAction`` syntax) beside the
baseline; the word ``gc.freeze`` in a variant makes its child do what a
tool could do about the garbage collector (``gc.disable()`` during the
imports, ``gc.freeze()`` + ``gc.enable()`` once the Runner is built,
``gc.freeze()`` before the exit). The variants take turns, ``--repeats``
rounds, and every cell is the median over the rounds. The start-up
components are also measured alone in a fresh process
(``--no-startup-detail`` skips), and the train / val pipelines transform
by transform (``--pipeline-images 0`` skips). Example (the figures in
docs/benchmarks.md)::

    python tools/benchmark/demo_arm_profile.py --repeats 3 \\
        --variant gc.freeze gc.freeze
"""
import time

_T0 = time.time()  # the child's first statement: the interpreter is up

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import os.path as osp  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(REPO, 'tools', 'train.py')
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'shapes',
                          'retinanet_r18-scratch_fpn_gn-all_shapes.py')
#: Priorities of the three ArmProfileHook instances: first of every event,
#: just before mmengine's CheckpointHook (VERY_LOW, 90), last.
PRIORITIES = dict(first=0, ckpt=89, last=100)
#: Rows of the table: (key, label, group).
ROWS = [
    ('interpreter', 'python interpreter start', 'start-up'),
    ('imports', 'imports of tools/train.py (torch, mmengine, mmdet, '
     'rethink_mmdet)', 'start-up'),
    ('config', 'config load + --cfg-options (load_config)', 'start-up'),
    ('runner_init', 'Runner build: env, logger, collect_env, config '
     'pretty-print, visualizer, model', 'start-up'),
    ('dump_config', 'Runner build: hooks + config dump', 'start-up'),
    ('loops', 'train(): dataloaders + datasets (COCO index), optimizer, '
     'val loop + evaluator', 'start-up'),
    ('before_run', 'before_run hooks, weight init, resume check', 'start-up'),
    ('first_batch', 'first batch (dataloader iterator + loading)', 'start-up'),
    ('data', 'data loading (data_time)', 'train'),
    ('preprocess', 'data preprocessor (normalize, pad, batch)', 'train'),
    ('backbone_neck', 'forward: backbone + neck', 'train'),
    ('head', 'forward: head', 'train'),
    ('loss', 'loss: anchors, targets, assignment, losses', 'train'),
    ('forward', 'forward + loss (modules not found separately)', 'train'),
    ('backward', 'backward + gradient clipping', 'train'),
    ('step', 'optimizer step + zero_grad', 'train'),
    ('hooks', 'hooks (timer, logger, LR, images seen, ...)', 'train'),
    ('checkpoint', 'checkpoint save', 'train'),
    ('val_data', 'val: data loading', 'eval'),
    ('val_forward', 'val: forward + post-processing + evaluator.process',
     'eval'),
    ('val_metric', 'val: COCO metric (pycocotools)', 'eval'),
    ('val_other', 'val: hooks, rest', 'eval'),
    ('end', 'after_train / after_run hooks, atexit calls', 'end'),
    ('finalize', 'interpreter finalization (module teardown, final GC)',
     'end'),
    ('unaccounted', 'unaccounted', 'end'),
]


# --------------------------------------------------------------- the child
class Recorder:
    """Timestamps and per-iteration / per-validation durations of the
    child process (filled by :class:`ArmProfileHook` and the torch hooks).

    Args:
        cuda (bool): Synchronize CUDA before every timestamp.
    """

    def __init__(self, cuda: bool = False) -> None:
        self.cuda = cuda
        self.marks = {}
        self.iters = []
        self.vals = []
        self.cur = None  # the running train iteration
        self.val = None  # the running validation
        self.prev_end = None  # end of the last iteration / validation
        self.module_start = {}
        self.gc = {}  # '{part}_gen{n}' -> (collections, seconds)
        self.gc_start = None

    def now(self) -> float:
        if self.cuda:
            import torch
            torch.cuda.synchronize()
        return time.time()

    def mark(self, name: str) -> float:
        t = self.now()
        self.marks.setdefault(name, t)
        return t


REC = Recorder()


def _module_hooks(model, rec: Recorder) -> list:
    """Forward pre / post hooks timing the data preprocessor, the model and
    its backbone, neck and head during training iterations. Returns the
    handles."""
    inner = getattr(model, 'detector', model)
    parts = dict(preprocess=model.data_preprocessor, model=model)
    for key, name in (('backbone', 'backbone'), ('neck', 'neck'),
                      ('head', 'bbox_head')):
        module = getattr(inner, name, None)
        if module is not None and hasattr(module, 'register_forward_hook'):
            parts[key] = module
    handles = []
    for key, module in parts.items():

        def pre(mod, args, key=key):
            if rec.cur is not None:
                rec.module_start[key] = rec.now()

        def post(mod, args, out, key=key):
            if rec.cur is not None and key in rec.module_start:
                t = rec.now()
                rec.cur[key] = rec.cur.get(key, 0.0) + (
                    t - rec.module_start.pop(key))
                rec.cur['t_' + key] = t

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    return handles


def register_profile_hook():
    """Register :class:`ArmProfileHook` in mmdet's (and mmengine's) HOOKS
    (imports mmengine: call it after the imports are timed)."""
    from mmengine.hooks import Hook
    from mmengine.model import is_model_wrapper

    from mmdet.registry import HOOKS

    class ArmProfileHook(Hook):
        """Timestamps for the profile; three instances (``role``
        ``first`` / ``ckpt`` / ``last``) at the priorities of
        :data:`PRIORITIES`. ``last`` writes the JSON in ``after_run``.

        Args:
            role (str): ``'first'``, ``'ckpt'`` or ``'last'``.
            out (str): Where ``last`` writes the record.
        """

        def __init__(self, role: str = 'first', out: str = None) -> None:
            self.role, self.out = role, out
            if role == 'first':
                REC.mark('hooks_built')

        def before_run(self, runner) -> None:
            if self.role == 'first':
                REC.mark('before_run')

        def before_train(self, runner) -> None:
            if self.role != 'first':
                return
            import torch
            REC.cuda = torch.cuda.is_available() and any(
                p.is_cuda for p in runner.model.parameters())
            REC.mark('before_train')
            model = runner.model
            model = model.module if is_model_wrapper(model) else model
            self._handles = _module_hooks(model, REC)
            optimizer = runner.optim_wrapper.optimizer

            def step_pre(opt, args, kwargs):
                if REC.cur is not None:
                    REC.cur['t_step_pre'] = REC.now()

            self._handles.append(optimizer.register_step_pre_hook(step_pre))

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if self.role == 'first':
                t = REC.mark('first_iter')
                REC.cur = dict(
                    t0=t,
                    data=(t -
                          REC.prev_end) if REC.prev_end is not None else None)

        def before_save_checkpoint(self, runner, checkpoint) -> None:
            if self.role == 'first' and REC.cur is not None:
                REC.cur['saved'] = True

        def after_train_iter(self,
                             runner,
                             batch_idx,
                             data_batch=None,
                             outputs=None) -> None:
            if REC.cur is None:
                return
            REC.cur['t_' + self.role] = REC.now()
            if self.role == 'last':
                REC.iters.append(_iteration_split(REC.cur))
                REC.prev_end = REC.cur['t_last']
                REC.cur = None

        def before_val(self, runner) -> None:
            if self.role == 'first':
                t = REC.now()
                REC.val = dict(t0=t, prev=t, data=0.0, forward=0.0)

        def before_val_iter(self, runner, batch_idx, data_batch=None):
            if self.role == 'first' and REC.val is not None:
                t = REC.now()
                REC.val['data'] += t - REC.val['prev']
                REC.val['t_iter'] = t

        def after_val_iter(self,
                           runner,
                           batch_idx,
                           data_batch=None,
                           outputs=None) -> None:
            if self.role == 'last' and REC.val is not None:
                t = REC.now()
                REC.val['forward'] += t - REC.val['t_iter']
                REC.val['prev'] = t

        def after_val_epoch(self, runner, metrics=None) -> None:
            if self.role == 'first' and REC.val is not None:
                REC.val['metric'] = REC.now() - REC.val['prev']

        def after_val(self, runner) -> None:
            if self.role == 'last' and REC.val is not None:
                t = REC.now()
                v = REC.val
                total = t - v['t0']
                REC.vals.append(
                    dict(
                        total=total,
                        data=v['data'],
                        forward=v['forward'],
                        metric=v.get('metric', 0.0),
                        other=total - v['data'] - v['forward'] -
                        v.get('metric', 0.0)))
                REC.val = None
                REC.prev_end = t

        def after_train(self, runner) -> None:
            if self.role == 'first':
                REC.mark('after_train')

        def after_run(self, runner) -> None:
            if self.role != 'last':
                return
            REC.mark('after_run')
            if self.out:
                with open(self.out, 'w') as f:
                    json.dump(
                        dict(
                            marks=REC.marks,
                            iters=REC.iters,
                            vals=REC.vals,
                            gc=REC.gc,
                            cuda=REC.cuda), f)

    HOOKS.register_module(module=ArmProfileHook, force=True)
    return ArmProfileHook


def _iteration_split(cur: dict) -> dict:
    """Durations of one training iteration from its timestamps."""
    t0, first, ckpt, last = cur['t0'], cur['t_first'], cur['t_ckpt'], cur[
        't_last']
    out = dict(data=cur.get('data'), saved=bool(cur.get('saved')))
    step_pre = cur.get('t_step_pre', first)
    model_end = cur.get('t_model', step_pre)
    out['preprocess'] = cur.get('preprocess', 0.0)
    if all(k in cur for k in ('backbone', 'neck', 'head')):
        out['backbone_neck'] = cur['backbone'] + cur['neck']
        out['head'] = cur['head']
        out['loss'] = cur.get('model',
                              0.0) - out['backbone_neck'] - cur['head']
    else:
        out['forward'] = cur.get('model', 0.0)
    out['backward'] = step_pre - model_end
    out['step'] = first - step_pre
    # before_train_iter hooks and the gaps around the model, after-iter
    # hooks before the checkpoint hook
    inside = (
        out['preprocess'] + cur.get('model', 0.0) + out['backward'] +
        out['step'])
    out['hooks'] = (first - t0 - inside) + (ckpt - first)
    out['checkpoint'] = last - ckpt
    out['total'] = last - t0
    return out


def child_main(out: str, train_args: list) -> None:
    """Run ``tools/train.py`` with ``train_args`` in this process, with the
    timestamps of the start-up; the hooks write ``out``."""
    import atexit
    import gc
    import runpy
    atexit.register(_write_exit_time, out)  # runs last of the atexit calls
    gc.callbacks.append(_gc_callback)
    freeze = bool(os.environ.get('DEMO_ARM_GC_FREEZE'))
    if freeze:  # the variant 'gc.freeze' (see parse_variant)
        gc.disable()  # no full collections during the imports
    train = runpy.run_path(TRAIN, run_name='demo_arm_train')  # its imports
    REC.marks['start'] = _T0
    REC.mark('imports')
    register_profile_hook()
    from mmengine.runner import Runner

    from rethink_mmdet.engine import load_config
    sys.argv = [TRAIN, *train_args]
    args = train['parse_args']()
    if args.amp or args.auto_scale_lr or args.resume:
        raise SystemExit('--child runs plain training only')
    cfg = load_config(args)
    REC.mark('config')
    runner = Runner.from_cfg(cfg)
    if freeze:  # what is alive now is never scanned again
        gc.freeze()
        gc.enable()
    REC.mark('runner_built')
    runner.train()
    if freeze:
        gc.freeze()  # no full collection over everything at the exit
    # the record was written in after_run; the parent times the exit


def _gc_callback(phase: str, info: dict) -> None:
    """Time every garbage collection, per generation and per part of the
    run (before the first iteration, after it)."""
    if phase == 'start':
        REC.gc_start = time.perf_counter()
        return
    part = 'startup' if 'first_iter' not in REC.marks else 'run'
    key = f'{part}_gen{info["generation"]}'
    count, spent = REC.gc.get(key, (0, 0.0))
    REC.gc[key] = (count + 1, spent + time.perf_counter() - REC.gc_start)


def _write_exit_time(out: str) -> None:
    with open(out + '.exit', 'w') as f:
        f.write(repr(time.time()))


def startup_detail(config: str, out: str) -> None:
    """Each start-up component alone, in this (fresh) process, in the order
    of a real start; writes ``{component: seconds}`` to ``out``."""
    res = {}

    def timed(name, fn):
        t = time.perf_counter()
        value = fn()
        res[name] = time.perf_counter() - t
        return value

    res['interpreter (to first statement)'] = None  # filled by the parent
    timed('import torch', lambda: __import__('torch'))
    timed('import mmengine.runner', lambda: __import__('mmengine.runner'))
    timed('import mmdet.models + mmdet.datasets', lambda:
          (__import__('mmdet.models'), __import__('mmdet.datasets')))
    timed('import rethink_mmdet', lambda: __import__('rethink_mmdet'))
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import get_git_hash
    from mmengine.utils.dl_utils import collect_env

    from mmdet.registry import DATASETS, METRICS, MODELS
    cfg = timed('Config.fromfile (the dumped arm config)',
                lambda: Config.fromfile(config))
    timed('collect_env() (Runner._log_env)', collect_env)
    timed('cfg.pretty_text, 1st (yapf; Runner._log_env)',
          lambda: cfg.pretty_text)
    timed(
        'cfg.pretty_text, again (visualizer add_config, dump_config, '
        'each checkpoint)', lambda: cfg.pretty_text)
    timed('get_git_hash() (each checkpoint)', get_git_hash)
    timed('init_default_scope(mmdet)', lambda: init_default_scope('mmdet'))
    model = timed('build model', lambda: MODELS.build(cfg.model))
    timed('model.init_weights()', model.init_weights)
    timed('build train dataset (COCO index of instances_train.json)',
          lambda: DATASETS.build(cfg.train_dataloader.dataset))
    timed('build val dataset (COCO index of instances_val.json)',
          lambda: DATASETS.build(cfg.val_dataloader.dataset))
    timed('build CocoMetric (COCO index of instances_val.json)',
          lambda: METRICS.build(cfg.val_evaluator))
    with open(out, 'w') as f:
        json.dump(res, f)


# -------------------------------------------------------------- the parent
def arm_config(args, data_root: str, work_dir: str, extra: dict,
               profile_out: str) -> str:
    """The arm's config with the study's scratch-2x runtime options, the
    variant's ``extra`` options and the profile hooks, dumped like the
    study dumps its run configs. Returns its path."""
    from mmengine.config import Config

    from rethink_mmdet.data.shapes_config import use_shapes_data
    from rethink_mmdet.study.time_scale import TimeScale

    # the shapes data config reads its Resize scale from SHAPES_IMAGE_SIZE
    # (tools/shapes_demo.py sets it to the generated size)
    os.environ['SHAPES_IMAGE_SIZE'] = str(args.image_size)
    cfg = Config.fromfile(args.config)
    use_shapes_data(cfg, data_root, num_workers=0)
    x, batch = args.iters_per_x, 4
    # the study's schedule: He et al.'s rule scaled by TimeScale
    sched = TimeScale(90000, x).schedule_he(
        args.multiple,
        batch_size=batch,
        base_lr=0.03 * 16 / batch,
        val_interval=x)
    log = math.gcd(x, 10)  # the study's gcd(x, gcd(pretrain iters, 10))
    # configs/studies/shapes_mini_replication.py: _runtime, _det, _he(n)
    options = {
        'default_hooks.logger.interval': log,
        'log_processor.window_size': log,
        'default_hooks.checkpoint.max_keep_ckpts': 1,
        'default_hooks.checkpoint.interval': sched['max_iters'],
        'custom_hooks': [dict(type='ImagesSeenHook')],
        'train_cfg': sched['train_cfg'],
        'param_scheduler': sched['param_scheduler'],
        'optim_wrapper.optimizer.lr': sched['lr'],
        'randomness': dict(seed=0),
    }
    cfg.merge_from_dict(options)
    if extra:
        cfg.merge_from_dict(extra)
    cfg.custom_hooks = list(cfg.custom_hooks) + [
        dict(
            type='ArmProfileHook',
            role=role,
            out=profile_out if role == 'last' else None,
            priority=prio) for role, prio in PRIORITIES.items()
    ]
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'arm_config.py')
    cfg.dump(path)
    return path


def resize_scales(cfg_path: str) -> set:
    """The ``Resize`` scales of a config's train and val pipelines."""
    from mmengine.config import Config
    cfg = Config.fromfile(cfg_path)
    scales = set()
    for loader in ('train_dataloader', 'val_dataloader'):
        for t in cfg[loader].dataset.get('pipeline', []):
            if t.get('type') == 'Resize':
                scales.add(tuple(t['scale']))
    return scales


def run_arm(args, data_root: str, work_dir: str, extra: dict,
            extra_env: dict) -> dict:
    """Run one arm as a process; returns its phase split (seconds) and
    mmengine's own figures."""
    profile_out = osp.join(work_dir, 'profile.json')
    config = arm_config(args, data_root, work_dir, extra, profile_out)
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--child', profile_out, '--', config,
        '--work-dir', work_dir
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), **extra_env)
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True)
    end = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n'
                           f'{(proc.stdout + proc.stderr)[-4000:]}')
    with open(profile_out) as f:
        rec = json.load(f)
    with open(profile_out + '.exit') as f:
        rec['marks']['exit'] = float(f.read())
    split = phase_split(rec, start, end)
    split['_cpu'] = (
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    split['_mmengine'] = mmengine_figures(work_dir)
    split['_config'] = config
    return split


def phase_split(rec: dict, start: float, end: float) -> dict:
    """Seconds per row of :data:`ROWS` (plus counts) from a child's
    record, the process start ``start`` and exit ``end``."""
    m = rec['marks']
    out = dict(
        interpreter=m['start'] - start,
        imports=m['imports'] - m['start'],
        config=m['config'] - m['imports'],
        runner_init=m['hooks_built'] - m['config'],
        dump_config=m['runner_built'] - m['hooks_built'],
        loops=m['before_run'] - m['runner_built'],
        before_run=m['before_train'] - m['before_run'],
        first_batch=m['first_iter'] - m['before_train'])
    iters, vals = rec['iters'], rec['vals']
    sums = defaultdict(float)
    for it in iters:
        for key, value in it.items():
            if key != 'saved' and value is not None:
                sums[key] += value
    for key in ('data', 'preprocess', 'backbone_neck', 'head', 'loss',
                'forward', 'backward', 'step', 'hooks', 'checkpoint'):
        if key in sums:
            out[key] = sums[key]
    for key in ('data', 'forward', 'metric', 'other'):
        out['val_' + key] = sum(v[key] for v in vals)
    # from the end of the training (after the last validation) to the exit
    out['end'] = m['exit'] - m['after_train']
    out['finalize'] = end - m['exit']
    out['total'] = end - start
    known = sum(v for k, v in out.items() if k != 'total')
    out['unaccounted'] = out['total'] - known
    out['_n_iters'] = len(iters)
    out['_n_vals'] = len(vals)
    out['_n_saves'] = sum(1 for it in iters if it['saved'])
    out['_iter_total'] = sums['total'] + sums['data']
    ckpt_iters = [it['checkpoint'] for it in iters if it['saved']]
    out['_save_each'] = statistics.mean(ckpt_iters) if ckpt_iters else 0.0
    out['_val_each'] = (
        statistics.mean(v['total'] for v in vals) if vals else 0.0)
    out['_startup'] = m['first_iter'] - start
    out['_cuda'] = rec.get('cuda', False)
    for key, (count, spent) in rec.get('gc', {}).items():
        out[f'_gc_{key}_n'] = count
        out[f'_gc_{key}_s'] = spent
    return out


def mmengine_figures(work_dir: str) -> dict:
    """Means of mmengine's logged ``time`` / ``data_time`` of the training
    iterations (``IterTimerHook`` via ``LoggerHook``, window-averaged)."""
    paths = []
    for root, _, files in os.walk(work_dir):
        paths += [osp.join(root, f) for f in files if f == 'scalars.json']
    times, datas = [], []
    for path in paths:
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'loss' in row and 'time' in row:
                    times.append(row['time'])
                    datas.append(row['data_time'])
    return dict(
        time=statistics.mean(times) if times else None,
        data_time=statistics.mean(datas) if datas else None)


def run_startup_detail(args, config: str, work_dir: str) -> dict:
    """The start-up components alone in a fresh process (the fastest of
    ``--repeats`` runs each), and the bare interpreter start."""
    best = {}
    for rep in range(args.repeats):
        out = osp.join(work_dir, f'startup_{rep}.json')
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        t = time.time()
        subprocess.run([sys.executable, '-c', 'pass'], env=env, check=True)
        bare = time.time() - t
        proc = subprocess.run([
            sys.executable,
            osp.abspath(__file__), '--startup-detail', out, config
        ],
                              cwd=REPO,
                              env=env,
                              capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout + proc.stderr)
        with open(out) as f:
            res = json.load(f)
        res['interpreter (to first statement)'] = bare
        for k, v in res.items():
            best[k] = v if k not in best else min(best[k], v)
    return best


def pipeline_profile(config: str, n_images: int, passes: int = 3) -> list:
    """Seconds per image of each transform of the config's train and val
    pipelines (the fastest of ``passes`` passes over ``n_images`` images,
    files in the page cache), with mmcv's ``LoadImageFromFile`` split into
    reading the file and decoding it."""
    import cv2
    import mmcv
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    from mmdet.registry import DATASETS
    cv2.setNumThreads(0)  # as in mmengine's workers
    init_default_scope('mmdet')
    cfg = Config.fromfile(config)
    rows = []
    for split in ('train', 'val'):
        dcfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
        pipeline = dcfg.pop('pipeline')
        dcfg['pipeline'] = []
        dataset = DATASETS.build(dcfg)
        n = min(n_images, len(dataset))
        infos = [dataset.get_data_info(i) for i in range(n)]
        transforms = [Compose([t]).transforms[0] for t in pipeline]
        best = [float('inf')] * len(transforms)
        for _ in range(passes):
            spent = [0.0] * len(transforms)
            for info in infos:
                results = copy.deepcopy(info)
                for j, transform in enumerate(transforms):
                    t = time.perf_counter()
                    results = transform(results)
                    spent[j] += time.perf_counter() - t
            best = [min(b, s) for b, s in zip(best, spent)]
        for j, t in enumerate(pipeline):
            rows.append((split, t['type'], best[j] / n))
        # the load split into file read and decode
        read = decode = float('inf')
        for _ in range(passes):
            r = d = 0.0
            for info in infos:
                t0 = time.perf_counter()
                with open(info['img_path'], 'rb') as f:
                    data = f.read()
                t1 = time.perf_counter()
                mmcv.imfrombytes(data, flag='color', backend='cv2')
                t2 = time.perf_counter()
                r, d = r + t1 - t0, d + t2 - t1
            read, decode = min(read, r), min(decode, d)
        rows.append((split, '  of the load: file read', read / n))
        rows.append((split, '  of the load: PNG decode (mmcv.imfrombytes)',
                     decode / n))
    return rows


def median_split(splits: list) -> dict:
    """Median of every numeric key over repeats."""
    out = {}
    for key in splits[0]:
        values = [
            s[key] for s in splits if isinstance(s.get(key), (int, float))
        ]
        if values and not isinstance(splits[0][key], bool):
            out[key] = statistics.median(values)
        else:
            out[key] = splits[0][key]
    return out


def format_table(results: dict) -> str:
    """The markdown table: a row per phase (and per group of phases, in
    bold), seconds and % of the wall time per variant, then each further
    variant's difference to the first in seconds."""
    names = list(results)
    base = names[0]

    def row(label, values, bold=False):
        b = '**' if bold else ''
        cells = []
        for n in names:
            v = values[n]
            share = 100 * v / results[n]['total'] if v is not None else None
            cells += ['-', '-'] if v is None else [
                f'{b}{v:.2f}{b}', f'{b}{share:.1f}{b}'
            ]
        for n in names[1:]:
            v, v0 = values[n], values[base]
            cells.append(
                '-' if v is None or v0 is None else f'{b}{v - v0:+.2f}{b}')
        return f'| {b}{label}{b} | ' + ' | '.join(cells) + ' |'

    head = ['phase'] + [f'{n} {u}' for n in names for u in ('s', '%')]
    head += [f'{n} - {base} s' for n in names[1:]]
    lines = [
        '| ' + ' | '.join(head) + ' |', '|---|' + '---:|' * (len(head) - 1)
    ]
    group = None
    for key, label, grp in ROWS:
        if not any(key in r for r in results.values()):
            continue
        if grp != group:
            group = grp
            lines.append(
                row(grp, {
                    n: sum(r.get(k, 0.0) for k, _, g in ROWS if g == grp)
                    for n, r in results.items()
                },
                    bold=True))
        lines.append(row(label, {n: r.get(key) for n, r in results.items()}))
    lines.append(
        row('total wall time', {
            n: r['total']
            for n, r in results.items()
        },
            bold=True))
    return '\n'.join(lines)


def parse_variant(text: str) -> tuple:
    """``'KEY=VALUE ...'`` in ``--cfg-options`` syntax -> ``(options,
    env)``; the word ``gc.freeze`` makes the child call ``gc.freeze()``
    once the Runner is built and again after training (what
    ``tools/train.py`` would do)."""
    import shlex

    from mmengine.config import DictAction
    words = shlex.split(text)
    env = {}
    if 'gc.freeze' in words:
        words.remove('gc.freeze')
        env['DEMO_ARM_GC_FREEZE'] = '1'
    if not words:
        return {}, env
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    return parser.parse_args(['--o', *words]).o, env


def machine() -> str:
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
        model = [
            line.split(':', 1)[1].strip() for line in out.splitlines()
            if line.startswith('Model name')
        ]
        name = model[0] if model else 'unknown CPU'
    except OSError:
        name = 'unknown CPU'
    return f'{name}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--num-train', type=int, default=3000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument(
        '--data-root',
        default=None,
        help='existing shapes data (default: generate in the work dir)')
    parser.add_argument(
        '--iters-per-x',
        type=int,
        default=150,
        help='the study\'s scaled 1x (MINI_ITERS_PER_X); a validation '
        'every x iterations')
    parser.add_argument(
        '--multiple',
        type=int,
        default=2,
        help='N of the Nx schedule: the arm trains N x iterations')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--variant',
        nargs=2,
        action='append',
        default=[],
        metavar=('NAME', 'OPTIONS'),
        help="extra --cfg-options of another arm, e.g. resize128 "
        "'train_dataloader.dataset.pipeline.2.scale=(128,128)'")
    parser.add_argument('--pipeline-images', type=int, default=200)
    parser.add_argument('--no-startup-detail', action='store_true')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--json', default=None, help='write the results')
    parser.add_argument('--child', default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        '--startup-detail', default=None, help=argparse.SUPPRESS)
    parser.add_argument('rest', nargs='*', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args.child, args.rest)
    if args.startup_detail:
        return startup_detail(args.rest[0], args.startup_detail)

    from rethink_mmdet.data import make_shapes
    work = args.work_dir or tempfile.mkdtemp(prefix='demo_arm_profile_')
    data_root = args.data_root
    if data_root is None:
        data_root = osp.join(work, 'shapes')
        t = time.time()
        make_shapes(
            data_root,
            args.num_train,
            args.num_val,
            0,
            seed=0,
            image_size=args.image_size)
        print(f'generated {args.num_train} + {args.num_val} images at '
              f'{args.image_size} px in {time.time() - t:.1f} s')
    variants = [('baseline', ({}, {}))] + [(n, parse_variant(o))
                                           for n, o in args.variant]
    print(f'machine: {machine()}; arm: {osp.relpath(args.config, REPO)}, '
          f'{args.multiple}x of {args.iters_per_x} iterations, '
          f'OMP_NUM_THREADS={args.threads}, {args.repeats} rounds')
    splits = defaultdict(list)
    for rep in range(args.repeats):
        for name, (extra, extra_env) in variants:
            wd = osp.join(work, f'{name}_{rep}')
            split = run_arm(args, data_root, wd, extra, extra_env)
            splits[name].append(split)
            print(
                f'round {rep} {name}: total {split["total"]:.1f} s, '
                f'start-up {split["_startup"]:.1f} s, '
                f'{split["_n_iters"]} iterations '
                f'{split["_iter_total"]:.1f} s, {split["_n_vals"]} '
                f'validations {split["_val_each"]:.2f} s each',
                flush=True)
    results = {n: median_split(s) for n, s in splits.items()}
    first = results['baseline']
    scales = resize_scales(first['_config'])
    print(f'\nResize scales of the baseline arm: {sorted(scales)} '
          f'(images {args.image_size} px)')
    print('\nMedian over the rounds, seconds and % of the arm\'s wall time '
          '(process start to exit):\n')
    print(format_table(results))
    print('\nPer unit (medians):')
    print('| variant | process CPU s (user + sys) | start-up s | '
          's / iteration (all train rows) | data ms / it | mmengine time '
          's / it | mmengine data_time ms / it | s / validation | '
          's / checkpoint |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for n, r in results.items():
        mm = r['_mmengine']
        per_it = r['_iter_total'] / max(1, r['_n_iters'])
        data = r.get('data', 0.0) / max(1, r['_n_iters'] - 1)
        mt = '-' if mm['time'] is None else f'{mm["time"]:.4f}'
        md = ('-'
              if mm['data_time'] is None else f'{1000 * mm["data_time"]:.1f}')
        print(f'| {n} | {r["_cpu"]:.1f} | {r["_startup"]:.2f} | '
              f'{per_it:.4f} | '
              f'{1000 * data:.1f} | {mt} | {md} | {r["_val_each"]:.2f} | '
              f'{r["_save_each"]:.3f} |')
    print('\nGarbage collections inside the rows above (medians; count / '
          'seconds; start-up: before the first iteration):')
    print('| variant | ' + ' | '.join(f'{p} gen{g}' for p in ('startup', 'run')
                                      for g in range(3)) + ' |')
    print('|---|' + '---:|' * 6)
    for n, r in results.items():
        cells = []
        for p in ('startup', 'run'):
            for g in range(3):
                c = r.get(f'_gc_{p}_gen{g}_n', 0)
                sec = r.get(f'_gc_{p}_gen{g}_s', 0.0)
                cells.append(f'{c:.0f} / {sec:.2f}')
        print(f'| {n} | ' + ' | '.join(cells) + ' |')
    detail = None
    if not args.no_startup_detail:
        detail = run_startup_detail(args, first['_config'], work)
        print('\nStart-up components alone in a fresh process (fastest of '
              f'{args.repeats}; imports in this order, each after the '
              'previous):\n')
        print('| component | s |\n|---|---:|')
        for k, v in detail.items():
            print(f'| {k} | {v:.3f} |')
    pipe = None
    if args.pipeline_images:
        pipe = pipeline_profile(first['_config'], args.pipeline_images)
        print(f'\nPipeline transforms, ms per image ({args.pipeline_images} '
              'images, fastest of 3 passes, 1 thread):\n')
        print('| split | transform | ms / image |\n|---|---|---:|')
        for split, name, sec in pipe:
            print(f'| {split} | {name} | {1000 * sec:.3f} |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    machine=machine(),
                    args=vars(args),
                    results=results,
                    rounds=splits,
                    startup_detail=detail,
                    pipeline=pipe),
                f,
                indent=1,
                default=str)
    print(f'\nwork dir: {work}')


if __name__ == '__main__':
    main()
