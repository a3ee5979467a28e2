"""Render any mmdet detector config as its GN-all or SyncBN-all model for
training from scratch (He et al. 2019, Sec. 3-4), written out in full.

Examples::

    python tools/misc/render_scratch_model.py \\
        mmdet::_base_/models/faster-rcnn_r50_fpn.py --norm GN \\
        --out my_configs/faster-rcnn_r50_fpn_gn-all.py
    python tools/misc/render_scratch_model.py \\
        mmdet::retinanet/retinanet_r50_fpn_1x_coco.py --norm SyncBN
    python tools/misc/render_scratch_model.py --all     # the package's files
    python tools/misc/render_scratch_model.py --check   # exit 1 if stale

The output is a config file holding ``model = dict(...)``: the plain mmdet
detector with its norm layers written out. List it under ``_base_`` in
place of the model base of a config (as mmdet's ``configs/scratch`` list
``_base_/models/*.py``), e.g.::

    _base_ = ['./faster-rcnn_r50_fpn_gn-all.py',
              'mmdet::_base_/datasets/coco_detection.py',
              'mmdet::_base_/default_runtime.py']
    optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.))

(the He et al. schedules in ``configs/_base_/schedules/he_*.py`` set the
last line). Without ``--out`` the file is printed. See
:mod:`rethink_mmdet.scratch.render` and :func:`convert_to_scratch`.
"""
import argparse
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the GN-all / SyncBN-all scratch model of an mmdet '
        'detector config (He et al. 2019, Sec. 3-4) as a config file.')
    parser.add_argument(
        'config', nargs='?', help='detector config: a path or mmdet::...')
    parser.add_argument(
        '--norm',
        choices=('GN', 'SyncBN'),
        default='GN',
        help='GroupNorm or SyncBN everywhere (default: GN)')
    parser.add_argument(
        '--num-groups',
        type=int,
        default=32,
        help='GroupNorm groups (default: 32, He et al.)')
    parser.add_argument(
        '--out', help='the config file to write (default: print it)')
    parser.add_argument(
        '--all',
        action='store_true',
        help='re-render every file of rethink_mmdet.scratch.render.RENDERED '
        'under configs/')
    parser.add_argument(
        '--check',
        action='store_true',
        help='exit 1 when a committed rendered file differs from the output')
    args = parser.parse_args(argv)
    if not (args.config or args.all or args.check):
        parser.error('give a config, --all or --check')
    return parser, args


def _shown(path):
    """``path`` as the header names it: relative to the repository when
    inside it (the commands in the headers run from its root)."""
    if path.startswith('mmdet::'):
        return path
    full = osp.abspath(path)
    if full.startswith(REPO + os.sep):
        return osp.relpath(full, REPO)
    return path


def main(argv=None):
    parser, args = parse_args(argv)
    from rethink_mmdet.scratch.render import (RENDERED, render_scratch_model,
                                              rendered_text, write_rendered)
    if args.all:
        for path in write_rendered(REPO):
            print(path)
        return 0
    if args.check:
        stale = []
        for name in RENDERED:
            path = osp.join(REPO, 'configs', name)
            text = open(
                path, encoding='utf-8').read() if osp.exists(path) else None
            if text != rendered_text(name, REPO):
                stale.append(path)
        for path in stale:
            print(f'stale: {path} (re-render: python '
                  f'tools/misc/render_scratch_model.py --all)')
        return 1 if stale else 0
    try:
        text = render_scratch_model(
            _shown(args.config), args.norm, args.num_groups,
            _shown(args.out) if args.out else 'OUT.py', args.config)
    except (TypeError, ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)
        print(args.out)
    else:
        print(text, end='')
    return 0


if __name__ == '__main__':
    sys.exit(main())
