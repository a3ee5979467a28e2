# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Convert a published SimCLR ResNet-50 (1x) checkpoint to mmdet's ResNet.

Zoph et al. 2020 (Table 4) fine-tune RetinaNet from "SimCLR (ResNet-50,
before label fine-tuning)": the contrastively pre-trained encoder, without
the projection head and without the linear classifier. Two layouts of that
encoder are published, both supported (detected from the keys):

1. **The TF checkpoint** of google-research/simclr (v1 ``ResNet50_1x.zip``,
   ``model.ckpt-225206``; the v2 TF1 ``r50_1x_sk0`` ones are named alike).
   Its encoder lives under ``base_model/`` with ``tf.layers`` default names
   numbered in build order: ``conv2d``, ``conv2d_1``, ... and
   ``batch_normalization``, ``batch_normalization_1``, ... (``gamma``,
   ``beta``, ``moving_mean``, ``moving_variance``). The order is read from
   the repository's ``resnet.py`` (``resnet_v1_generator`` ->
   ``block_group`` -> ``bottleneck_block``): the stem 7x7 conv + BN, then
   per block, *first* the projection shortcut (1x1 conv + BN, only in the
   first block of a group), then the 1x1, 3x3 (carrying the stride) and 1x1
   convs, each followed by its BN. tonylins/simclr-converter relies on the
   same order (its ``resnet_wider.Bottleneck`` defines ``downsample``
   first, "to make order correct") and reproduces the published linear
   eval (69.1 -> 68.9 top-1). Also in the checkpoint and dropped here:
   ``head_contrastive/`` (projection head), ``head_supervised/`` (linear
   eval head), LARS ``.../Momentum`` slots and ``global_step``. SimCLRv2
   TF1 checkpoints (read the same way by Separius/SimCLRv2-Pytorch) also
   hold an ``ema_model/`` copy, used with ``--ema`` and dropped otherwise.
   Selective-kernel (``sk1``) and 2x/4x checkpoints are refused: mmdet's
   ``ResNet`` has neither.
2. **The PyTorch port** written by tonylins/simclr-converter
   (``resnet50-1x.pth``: ``{'state_dict': ...}`` with torchvision keys
   ``conv1.weight``, ``bn1.*``, ``layer1.0.downsample.0.weight``, ...,
   ``fc.*``). mmdet's ``ResNet`` uses the same names, so this is a copy
   minus ``fc`` (``module.`` prefixes are stripped).

The output is the state dict of mmdet's ``ResNet(depth=50)`` with keys
prefixed ``backbone.`` unless ``--no-backbone-prefix`` (load with
``init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)``).
Use ``style='pytorch'`` (the stride sits in the 3x3 conv, as in SimCLR's
TF code). SimCLR's encoder was trained on RGB in [0, 1] without mean/std
normalization (tonylins' eval likewise), so a detector initialized from it
should use ``data_preprocessor`` ``mean=[0, 0, 0], std=[255, 255, 255],
bgr_to_rgb=True``; its BN epsilon is 1e-5 (torch's default). The
SimCLR README warns that v1 conv weights are on average 16.8x those of v2
(different weight decay): fine-tuning with momentum SGD (not LARS) may need
other hyper-parameters than an ImageNet-supervised init; the weights are
converted unscaled.

Input: a TF checkpoint prefix or directory (``tf.train.load_checkpoint``;
needs ``tensorflow``), a ``.npz`` of TF variable name -> array, or a
``.pth`` (TF names -> tensors, or the PyTorch port).

Examples::

    python tools/model_converters/simclr_to_mmdet.py \\
        ResNet50_1x/model.ckpt-225206 r50_simclr-v1_mmdet.pth
    python tools/model_converters/simclr_to_mmdet.py \\
        resnet50-1x.pth r50_simclr-v1_mmdet.pth
"""
import argparse
import functools
import os
import os.path as osp
import re
from collections import OrderedDict

import numpy as np
import torch

TF_SCOPE = 'base_model/'
# SimCLRv2 TF1 checkpoints also hold an EMA copy of the whole model.
TF_EMA_SCOPE = 'ema_model/'
TF_CONV_RE = re.compile(r'^base_model/conv2d(?:_(\d+))?/kernel$')
TF_BN_RE = re.compile(r'^base_model/batch_normalization(?:_(\d+))?/(\w+)$')
TF_SLOT_RE = re.compile(r'/(Momentum|LARSOptimizer\w*|ExponentialMovingAverage'
                        r'|Adam(_\d+)?|RMSProp(_\d+)?)$')
# Dropped on purpose: projection head and linear-eval head (TF), fc (torch).
TF_HEADS = ('head_contrastive/', 'head_supervised/')
TORCH_HEAD = 'fc.'
BN_VARS = (('gamma', 'weight'), ('beta', 'bias'),
           ('moving_mean', 'running_mean'), ('moving_variance', 'running_var'))
DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def load_checkpoint_dict(path):
    """Read a checkpoint as a flat ``{name: np.ndarray | torch.Tensor}``.

    Args:
        path (str): ``.npz``, ``.pth`` (a state dict, or a dict holding it
            under ``state_dict`` / ``model``), or a TF checkpoint prefix or
            directory (needs ``tensorflow``).

    Returns:
        dict: The arrays by name.
    """
    if path.endswith('.npz'):
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    if path.endswith(('.pth', '.pt', '.pth.tar')):
        data = torch.load(path, map_location='cpu', weights_only=True)
        for key in ('state_dict', 'model'):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
        return dict(data)
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError(
            f'{path} is neither .npz nor .pth, so it is read as a TF '
            'checkpoint, which needs tensorflow (pip install tensorflow-cpu), '
            'or export its variables to .npz where tensorflow is installed: '
            'np.savez(out, **{n: r.get_tensor(n) for n in '
            'r.get_variable_to_shape_map()}) with '
            'r = tf.train.load_checkpoint(path)') from exc
    reader = tf.train.load_checkpoint(path)
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
    }


def resnet_build_order(depth=50):
    """mmdet ``ResNet`` layer names in SimCLR's TF build order.

    Returns:
        tuple[list[str], list[str]]: Conv names (``conv1``,
        ``layer1.0.downsample.0``, ``layer1.0.conv1``, ...) and BN names
        (``bn1``, ``layer1.0.downsample.1``, ``layer1.0.bn1``, ...), the
        i-th being TF's ``conv2d_i`` / ``batch_normalization_i``.
    """
    convs, bns = ['conv1'], ['bn1']
    for stage, num_blocks in enumerate(DEPTHS[depth], start=1):
        for block in range(num_blocks):
            prefix = f'layer{stage}.{block}'
            if block == 0:  # projection shortcut, built first
                convs.append(f'{prefix}.downsample.0')
                bns.append(f'{prefix}.downsample.1')
            for i in (1, 2, 3):
                convs.append(f'{prefix}.conv{i}')
                bns.append(f'{prefix}.bn{i}')
    return convs, bns


@functools.lru_cache()
def target_shapes(depth=50):
    """Key -> shape of mmdet's ``ResNet(depth)`` state dict."""
    from mmdet.models.backbones import ResNet
    model = ResNet(depth=depth)
    return OrderedDict(
        (key, tuple(value.shape)) for key, value in model.state_dict().items())


def _as_tensor(value):
    if torch.is_tensor(value):
        return value.detach().clone().contiguous()
    return torch.from_numpy(np.ascontiguousarray(value))


def detect_layout(names):
    """``'tf'`` (google-research/simclr variables) or ``'torchvision'``
    (the PyTorch port); raises on anything else."""
    names = list(names)
    if any(
            name.startswith((TF_SCOPE, TF_EMA_SCOPE + TF_SCOPE))
            for name in names):
        return 'tf'
    stripped = [
        name[len('module.'):] if name.startswith('module.') else name
        for name in names
    ]
    if 'conv1.weight' in stripped and any(
            name.startswith('layer1.0.') for name in stripped):
        return 'torchvision'
    raise ValueError(
        'unsupported SimCLR checkpoint layout: expected the TF variables of '
        'google-research/simclr ("base_model/conv2d/kernel", ...) or a '
        'torchvision-style ResNet state dict ("conv1.weight", '
        '"layer1.0.conv1.weight", ...; tonylins/simclr-converter); got keys '
        f'like {sorted(names)[:5]}')


def _from_tf(ckpt, depth, use_ema=False):
    """``{mmdet key: tensor}`` from SimCLR TF variables, plus dropped names.

    With ``use_ema`` the ``ema_model/`` copy (SimCLRv2) is read instead.
    """
    if use_ema and not any(name.startswith(TF_EMA_SCOPE) for name in ckpt):
        raise ValueError('use_ema: the checkpoint has no ema_model/ '
                         'variables (SimCLRv1 checkpoints have none)')
    convs, bns = {}, {}
    dropped, unknown = [], []
    for name, value in ckpt.items():
        if '/' not in name or TF_SLOT_RE.search(name):
            continue  # global_step, optimizer slots
        in_ema = name.startswith(TF_EMA_SCOPE)
        if in_ema != use_ema or name.startswith(TF_HEADS):
            dropped.append(name)
            continue
        if in_ema:
            name = name[len(TF_EMA_SCOPE):]
            if name.startswith(TF_HEADS):
                dropped.append(TF_EMA_SCOPE + name)
                continue
        conv, bn = TF_CONV_RE.match(name), TF_BN_RE.match(name)
        if conv:
            convs[int(conv.group(1) or 0)] = value
        elif bn and bn.group(2) in dict(BN_VARS):
            bns.setdefault(int(bn.group(1) or 0), {})[bn.group(2)] = value
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(
            f'{len(unknown)} SimCLR variables have no place in a plain '
            f'ResNet-{depth} (selective kernels or SE of a SimCLRv2 sk1 '
            f'checkpoint are not supported), e.g. {sorted(unknown)[:5]}')
    conv_names, bn_names = resnet_build_order(depth)
    if (sorted(convs) != list(range(len(conv_names)))
            or sorted(bns) != list(range(len(bn_names)))):
        raise ValueError(
            f'ResNet-{depth} has {len(conv_names)} convs and {len(bn_names)} '
            f'BNs in SimCLR\'s build order (conv2d .. conv2d_'
            f'{len(conv_names) - 1}); the checkpoint has {len(convs)} and '
            f'{len(bns)} under base_model/: another depth (--depth) or a '
            'selective-kernel model')
    out = OrderedDict()
    for index, name in enumerate(conv_names):
        kernel = convs[index]  # HWIO -> OIHW
        kernel = (
            kernel.permute(3, 2, 0, 1)
            if torch.is_tensor(kernel) else np.transpose(kernel, (3, 2, 0, 1)))
        out[f'{name}.weight'] = _as_tensor(kernel)
    for index, name in enumerate(bn_names):
        variables = bns[index]
        for tf_var, torch_var in BN_VARS:
            if tf_var not in variables:
                raise ValueError(
                    f'base_model/batch_normalization_{index} ({name}) lacks '
                    f'{tf_var}; the checkpoint is incomplete')
            out[f'{name}.{torch_var}'] = _as_tensor(variables[tf_var])
    return out, sorted(dropped)


def _from_torchvision(ckpt):
    """Strip ``module.``, drop ``fc``: torchvision keys are mmdet's."""
    out, dropped = OrderedDict(), []
    for name, value in ckpt.items():
        if name.startswith('module.'):
            name = name[len('module.'):]
        if name.startswith(TORCH_HEAD):
            dropped.append(name)
            continue
        out[name] = _as_tensor(value)
    return out, dropped


def convert_simclr(ckpt, depth=50, prefix='backbone.', use_ema=False):
    """Map a SimCLR checkpoint to mmdet ``ResNet(depth)`` keys.

    Args:
        ckpt (dict): Name -> array/tensor, TF variables or a torchvision
            state dict (see :func:`detect_layout`).
        depth (int): ResNet depth. Defaults to 50.
        prefix (str): Prepended to every key. Defaults to ``'backbone.'``.
        use_ema (bool): Read the ``ema_model/`` copy of a SimCLRv2 TF
            checkpoint instead of the trained variables. Defaults to False.

    Returns:
        tuple[OrderedDict, dict]: The state dict and a summary (``layout``,
        ``dropped`` names).
    """
    if depth not in DEPTHS:
        raise ValueError(f'depth={depth}: SimCLR bottleneck ResNets are '
                         f'{sorted(DEPTHS)}')
    layout = detect_layout(ckpt)
    if layout == 'tf':
        state_dict, dropped = _from_tf(ckpt, depth, use_ema)
    elif use_ema:
        raise ValueError('use_ema applies to SimCLRv2 TF checkpoints only')
    else:
        state_dict, dropped = _from_torchvision(ckpt)
    shapes = target_shapes(depth)
    for key in shapes:
        if key.endswith('.num_batches_tracked') and key not in state_dict:
            state_dict[key] = torch.tensor(0, dtype=torch.long)
    unexpected = [key for key in state_dict if key not in shapes]
    missing = [key for key in shapes if key not in state_dict]
    if unexpected or missing:
        raise ValueError(f'the {layout} checkpoint does not match mmdet\'s '
                         f'ResNet(depth={depth}): missing {missing[:5]} '
                         f'({len(missing)}), unexpected {unexpected[:5]} '
                         f'({len(unexpected)})')
    stem = tuple(state_dict['conv1.weight'].shape)
    if stem != shapes['conv1.weight']:
        raise ValueError(
            f'stem conv is {stem}, mmdet\'s ResNet(depth={depth}) has '
            f'{shapes["conv1.weight"]}: a wider SimCLR model (2x/4x) is not '
            'supported by mmdet\'s ResNet')
    mismatched = [
        f'{key}: {tuple(value.shape)} vs {shapes[key]}'
        for key, value in state_dict.items()
        if tuple(value.shape) != shapes[key]
    ]
    if mismatched:
        raise ValueError(f'{len(mismatched)} shapes differ from mmdet\'s '
                         f'ResNet(depth={depth}), e.g. {mismatched[:3]}')
    ordered = OrderedDict((prefix + key, state_dict[key]) for key in shapes)
    return ordered, dict(layout=layout, dropped=dropped)


def parse_args(argv=None):
    """Parse command line arguments.

    Args:
        argv (list[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Convert a SimCLR ResNet-50 (1x) checkpoint (TF '
        'google-research/simclr, or its torchvision-style PyTorch port) to '
        'mmdet ResNet keys, without projection and classification heads')
    parser.add_argument(
        'src',
        help='TF checkpoint prefix or directory (needs tensorflow), .npz of '
        'TF variables, or .pth (TF names or torchvision keys)')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument(
        '--depth',
        type=int,
        default=50,
        choices=sorted(DEPTHS),
        help='ResNet depth (default 50)')
    parser.add_argument(
        '--ema',
        action='store_true',
        help='SimCLRv2 TF checkpoints: convert the ema_model/ copy')
    parser.add_argument(
        '--no-backbone-prefix',
        action='store_true',
        help='bare backbone keys (for ResNet.load_state_dict) instead of '
        '"backbone." keys')
    return parser.parse_args(argv)


def main(argv=None):
    """Convert ``src`` and save ``{'state_dict', 'meta'}`` to ``dst``."""
    args = parse_args(argv)
    state_dict, info = convert_simclr(
        load_checkpoint_dict(args.src),
        depth=args.depth,
        prefix='' if args.no_backbone_prefix else 'backbone.',
        use_ema=args.ema)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(
        source=osp.abspath(args.src),
        converter='tools/model_converters/simclr_to_mmdet.py',
        layout=info['layout'],
        depth=args.depth,
        ema=args.ema)
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'SimCLR ({info["layout"]} layout): {len(state_dict)} tensors -> '
          f'{args.dst} (dropped {len(info["dropped"])} head / other-copy '
          'variables)')


if __name__ == '__main__':
    main()
