# Copyright (c) rethink_mmdet contributors. All rights reserved.
"""Convert a published TF EfficientNet checkpoint to mmdet's EfficientNet.

The "ImageNet Init" and "ImageNet++ Init" of Zoph et al. 2020 (Sec. 3.2)
are the EfficientNet-B7 checkpoints of tensorflow/tpu
``models/official/efficientnet``:

* AutoAugment (their 84.5% top-1):
  ``cloud-tpu-checkpoints/efficientnet/ckptsaug/efficientnet-b7.tar.gz``
* Noisy Student (their 86.9% top-1, the README's 86.9%):
  ``cloud-tpu-checkpoints/efficientnet/noisystudent/``
  ``noisy_student_efficientnet-b7.tar.gz``

Both hold TF1 variables ``efficientnet-b7/<scope>/<layer>/<var>``: ``stem``,
``blocks_0`` .. ``blocks_54`` and ``head``; in a block the layers are named
in build order, ``conv2d`` (expand, absent when expand_ratio is 1) then
``conv2d_1`` (project), ``depthwise_conv2d``, ``se/conv2d`` (reduce) and
``se/conv2d_1`` (expand), ``tpu_batch_normalization[_N]`` (expand, depthwise,
project); ``head/dense`` is the ImageNet classifier, dropped here. Each
variable may have an ``.../ExponentialMovingAverage`` shadow: the released
eval (``eval_ckpt_main.py``) restores the shadows, so they are preferred
(``--no-ema`` takes the raw variables). Optimizer slots (``RMSProp``,
``Momentum``) and ``global_step`` are skipped.

The output is the state dict of mmdet's ``EfficientNet(arch='b7')``
(mmpretrain's layout: ``layers.0`` stem ConvModule, ``layers.1`` ..
``layers.5`` the stages of MBConv blocks (``expand_conv``,
``depthwise_conv``, ``se.conv1``/``se.conv2``, ``linear_conv``),
``layers.6`` the 1x1 head conv), with keys prefixed ``backbone.`` unless
``--no-backbone-prefix``, so a detector config loads it with
``init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=...)``.
mmdet builds only ``layers.0`` .. ``layers[max(out_indices)]``;
``--out-indices 3 4 5`` (the RetinaNet-B7 config) leaves out what such a
backbone lacks, so the load reports no unexpected keys.

Kernels: conv HWIO -> OIHW; depthwise HW(I)(M) -> (I*M)1HW; SE 1x1 convs
HWIO -> OIHW with their biases; BN gamma/beta/moving_mean/moving_variance
-> weight/bias/running_mean/running_var (TF's epsilon is 1e-3, mmdet's
EfficientNet default ``norm_cfg=dict(type='BN', eps=1e-3)``).

mmpretrain ships converted files of the same releases (its
``configs/efficientnet/metafile.yml``, "Converted From"):
``efficientnet-b7_3rdparty-ra-noisystudent_in1k_20221103-a82894bc.pth``
from ``noisystudent/noisy_student_efficientnet-b7.tar.gz`` (86.83 top-1)
and ``efficientnet-b7_3rdparty_8xb32-aa_in1k_20220119-bf03951c.pth`` from
``ckptsaug/efficientnet-b7.tar.gz`` (84.38). mmdet's EfficientNet loads them
directly (``prefix='backbone.'``). Their converter
(``tools/model_converters/efficientnet_to_mmpretrain.py``) skips the
``ExponentialMovingAverage`` variables unless ``--l2`` (used for L2 only),
so those files hold the raw variables of the release: the same as this
tool's ``--no-ema`` output; whether the raw and the EMA copies differ in
these releases is not checked here (it needs the 1 GB download).

Input: a TF checkpoint prefix or directory (read with
``tf.train.load_checkpoint``; needs ``tensorflow``), or, without
tensorflow, a ``.npz`` (or a ``.pth`` dict of tensors) of TF variable name
-> array, e.g. written on a machine with tensorflow by::

    import numpy as np, tensorflow as tf
    r = tf.train.load_checkpoint('noisy_student_efficientnet-b7')
    np.savez('ns-b7.npz', **{n: r.get_tensor(n)
                             for n in r.get_variable_to_shape_map()})

Examples::

    python tools/model_converters/efficientnet_tf_to_mmdet.py \\
        noisy_student_efficientnet-b7 effb7_noisy-student_mmdet.pth \\
        --out-indices 3 4 5
    python tools/model_converters/efficientnet_tf_to_mmdet.py \\
        ns-b7.npz effb7_noisy-student_mmdet.pth --no-backbone-prefix
"""
import argparse
import functools
import os
import os.path as osp
import re
from collections import OrderedDict

import numpy as np
import torch

EMA_SUFFIX = '/ExponentialMovingAverage'
# Optimizer slots of the TF training checkpoints (RMSProp for EfficientNet).
SLOT_RE = re.compile(r'/(RMSProp(_\d+)?|Momentum|Adam(_\d+)?)$')
BN_RE = re.compile(r'^(?:tpu_)?batch_normalization(?:_(\d+))?$')
CONV_RE = re.compile(r'^conv2d(?:_(\d+))?$')
BN_VARS = {
    'gamma': 'weight',
    'beta': 'bias',
    'moving_mean': 'running_mean',
    'moving_variance': 'running_var',
}
# Dropped on purpose: the ImageNet classifier on top of the head conv.
CLASSIFIER_SCOPE = 'head/dense/'


def load_tf_variables(path):
    """Read TF variables as ``{name: np.ndarray}``.

    Args:
        path (str): A ``.npz`` or ``.pth`` file of name -> array, or a TF
            checkpoint prefix or directory (needs ``tensorflow``).

    Returns:
        dict[str, np.ndarray]: The variables.
    """
    if path.endswith('.npz'):
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    if path.endswith(('.pth', '.pt')):
        data = torch.load(path, map_location='cpu', weights_only=True)
        return {
            name: value.numpy() if torch.is_tensor(value) else value
            for name, value in data.items()
        }
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError(
            f'{path} is neither .npz nor .pth, so it is read as a TF '
            'checkpoint, which needs tensorflow (pip install tensorflow-cpu). '
            'Or export its variables to .npz where tensorflow is installed '
            '(see this tool\'s docstring).') from exc
    reader = tf.train.load_checkpoint(path)
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
    }


def select_variables(tf_vars, prefer_ema=True):
    """Pick one array per model variable: its EMA shadow or the raw one.

    Args:
        tf_vars (dict[str, np.ndarray]): All checkpoint variables.
        prefer_ema (bool): Take ``<name>/ExponentialMovingAverage`` where it
            exists (the released eval does); else the raw variable, taking
            the shadow only where no raw copy exists. Defaults to True.

    Returns:
        tuple[dict[str, np.ndarray], dict[str, int]]: The variables by name
        (without the EMA suffix), and counts ``{'ema': n, 'raw': n}`` of the
        copies taken.
    """
    raw, ema = {}, {}
    for name, value in tf_vars.items():
        if '/' not in name or SLOT_RE.search(name):
            continue  # global_step and the like; optimizer slots
        if name.endswith(EMA_SUFFIX):
            ema[name[:-len(EMA_SUFFIX)]] = value
        else:
            raw[name] = value
    chosen, counts = {}, {'ema': 0, 'raw': 0}
    for name in sorted(set(raw) | set(ema)):
        take_ema = name in ema and (prefer_ema or name not in raw)
        chosen[name] = ema[name] if take_ema else raw[name]
        counts['ema' if take_ema else 'raw'] += 1
    return chosen, counts


def conv_kernel(value):
    """TF conv kernel HWIO -> torch OIHW."""
    return np.ascontiguousarray(np.transpose(value, (3, 2, 0, 1)))


def depthwise_kernel(value):
    """TF depthwise kernel (H, W, I, M) -> torch (I * M, 1, H, W).

    TF's output channel ``i * M + m`` is torch's output channel of group
    ``i`` (``groups=I``), so a C-order reshape keeps the order.
    """
    h, w, in_channels, multiplier = value.shape
    value = value.reshape(h, w, in_channels * multiplier)
    return np.ascontiguousarray(np.transpose(value, (2, 0, 1))[:, None])


@functools.lru_cache()
def target_shapes(arch):
    """Key -> shape of the state dict of mmdet's ``EfficientNet(arch)`` with
    all layers built (``out_indices=(6, )``), and its number of layers.

    The model is built on CPU and dropped (B7: about 3 s, 250 MB; the meta
    device cannot build it, mmdet calls ``.item()`` on a tensor).
    """
    from mmdet.models.backbones import EfficientNet
    model = EfficientNet(arch=arch, out_indices=(6, ))
    shapes = OrderedDict(
        (key, tuple(value.shape)) for key, value in model.state_dict().items())
    return shapes, len(model.layers)


def _model_prefix(names):
    """The ``efficientnet-bN`` scope of the checkpoint's variables."""
    scopes = sorted({name.split('/', 1)[0] for name in names})
    models = [s for s in scopes if re.fullmatch(r'efficientnet-[bl]\d+', s)]
    if len(models) != 1:
        raise ValueError(
            'not a TF EfficientNet checkpoint of tensorflow/tpu '
            'models/official/efficientnet: expected variables under one '
            f'"efficientnet-bN/" scope, found top-level scopes {scopes[:8]}')
    return models[0]


def _block_mapping(block_vars, prefix, has_expand):
    """``{tf relative name: mmdet key}`` of one MBConv block."""
    mapping = {
        'depthwise_conv2d/depthwise_kernel':
        f'{prefix}.depthwise_conv.conv.weight',
        'se/conv2d/kernel': f'{prefix}.se.conv1.conv.weight',
        'se/conv2d/bias': f'{prefix}.se.conv1.conv.bias',
        'se/conv2d_1/kernel': f'{prefix}.se.conv2.conv.weight',
        'se/conv2d_1/bias': f'{prefix}.se.conv2.conv.bias',
    }
    # Build order of tf.layers names in a block: convs expand, project
    # (depthwise and SE have their own names); BNs expand, depthwise,
    # project. Without expansion the first of each is missing.
    convs = ['expand_conv', 'linear_conv'] if has_expand else ['linear_conv']
    bns = ['depthwise_conv', 'linear_conv']
    if has_expand:
        bns.insert(0, 'expand_conv')
    for rel in block_vars:
        layer, _, var = rel.rpartition('/')
        conv = CONV_RE.match(layer)
        bn = BN_RE.match(layer)
        if conv and var == 'kernel':
            index = int(conv.group(1) or 0)
            if index < len(convs):
                mapping[rel] = f'{prefix}.{convs[index]}.conv.weight'
        elif bn and var in BN_VARS:
            index = int(bn.group(1) or 0)
            if index < len(bns):
                mapping[rel] = f'{prefix}.{bns[index]}.bn.{BN_VARS[var]}'
    return mapping


def _key_mapping(by_scope, scope, arch, shapes, num_layers):
    """``{'<sub>/<relative TF name>': mmdet key}`` for every mappable
    variable; raises when the blocks differ from mmdet's ``arch``."""
    head = f'layers.{num_layers - 1}'
    blocks = sorted({
        tuple(map(int, m.groups()))
        for m in (re.match(r'layers\.(\d+)\.(\d+)\.', k) for k in shapes) if m
    })
    tf_blocks = sorted(
        int(s[len('blocks_'):]) for s in by_scope if s.startswith('blocks_'))
    if tf_blocks != list(range(len(blocks))):
        raise ValueError(
            f'{scope} has blocks {_span(tf_blocks)} but mmdet\'s '
            f'EfficientNet(arch={arch!r}) has {len(blocks)} MBConv blocks '
            '(blocks_0..blocks_{}); not the same architecture'.format(
                len(blocks) - 1))

    mapping = {}
    for sub, rel_vars in by_scope.items():
        if sub == 'stem' or sub == 'head':
            layer = 'layers.0' if sub == 'stem' else head
            for rel in rel_vars:
                layer_name, _, var = rel.rpartition('/')
                bn = BN_RE.match(layer_name)
                if layer_name == 'conv2d' and var == 'kernel':
                    mapping[f'{sub}/{rel}'] = f'{layer}.conv.weight'
                elif bn and bn.group(1) is None and var in BN_VARS:
                    mapping[f'{sub}/{rel}'] = f'{layer}.bn.{BN_VARS[var]}'
        elif sub.startswith('blocks_'):
            stage, index = blocks[int(sub[len('blocks_'):])]
            block = f'layers.{stage}.{index}'
            has_expand = f'{block}.expand_conv.conv.weight' in shapes
            tf_expand = 'conv2d_1/kernel' in rel_vars
            if has_expand != tf_expand:
                raise ValueError(
                    f'{scope}/{sub} {"has" if tf_expand else "lacks"} an '
                    f'expand conv but mmdet\'s {block} '
                    f'{"has" if has_expand else "lacks"} one; not the same '
                    'architecture')
            for rel, key in _block_mapping(rel_vars, block,
                                           has_expand).items():
                if rel in rel_vars:
                    mapping[f'{sub}/{rel}'] = key
    return mapping


def convert_efficientnet(tf_vars,
                         arch=None,
                         prefer_ema=True,
                         out_indices=None,
                         prefix='backbone.'):
    """Map TF EfficientNet variables to mmdet ``EfficientNet`` keys.

    Args:
        tf_vars (dict[str, np.ndarray]): TF variable name -> array, as the
            checkpoint holds them (EMA shadows and slots included).
        arch (str, optional): mmdet arch, e.g. ``'b7'``. Defaults to None:
            the checkpoint's (``efficientnet-b7`` -> ``'b7'``). A different
            one raises.
        prefer_ema (bool): Use the ``ExponentialMovingAverage`` shadows
            where present. Defaults to True.
        out_indices (Sequence[int], optional): The backbone's
            ``out_indices``; layers it does not build (after
            ``max(out_indices)``) are left out. Defaults to None: all.
        prefix (str): Prepended to every key. Defaults to ``'backbone.'``.

    Returns:
        tuple[OrderedDict, dict]: The state dict (torch tensors) and a
        summary (``arch``, ``ema``/``raw`` counts, ``dropped`` TF names).
    """
    chosen, counts = select_variables(tf_vars, prefer_ema)
    if not chosen:
        raise ValueError(
            'no TF model variables ("<scope>/<layer>/<var>") in the '
            'checkpoint; an mmpretrain/mmdet .pth (keys like '
            '"backbone.layers.0.conv.weight") needs no conversion: load it '
            'with init_cfg=dict(type=\'Pretrained\', prefix=\'backbone.\')')
    scope = _model_prefix(chosen)
    ckpt_arch = scope[len('efficientnet-'):]
    if arch is None:
        arch = ckpt_arch
    if arch != ckpt_arch:
        raise ValueError(f'the checkpoint holds {scope} variables but '
                         f'arch={arch!r} was asked; convert it with '
                         f'--arch {ckpt_arch} or use the {arch} checkpoint')
    try:
        shapes, num_layers = target_shapes(arch)
    except (AssertionError, KeyError) as exc:
        raise ValueError(f'mmdet\'s EfficientNet has no arch {arch!r} '
                         f'(for {scope})') from exc
    by_scope = {}  # 'stem' / 'blocks_N' / 'head' -> {relative name: array}
    for name, value in chosen.items():
        model, sub, rel = (name.split('/', 2) + ['', ''])[:3]
        if model != scope:
            raise ValueError(f'variable {name} is outside {scope}/; '
                             'a checkpoint of one EfficientNet is expected')
        by_scope.setdefault(sub, {})[rel] = value
    mapping = _key_mapping(by_scope, scope, arch, shapes, num_layers)

    state_dict, dropped, unknown, mismatched = OrderedDict(), [], [], []
    flat = sorted(((f'{sub}/{rel}', value)
                   for sub, rel_vars in by_scope.items()
                   for rel, value in rel_vars.items()),
                  key=lambda item: item[0])
    for sub_rel, value in flat:
        key = mapping.get(sub_rel)
        if key is None:
            (dropped if sub_rel.startswith(CLASSIFIER_SCOPE) else
             unknown).append(f'{scope}/{sub_rel}')
            continue
        if sub_rel.endswith('/depthwise_kernel'):
            value = depthwise_kernel(value)
        elif value.ndim == 4:
            value = conv_kernel(value)
        if tuple(value.shape) != shapes[key]:
            mismatched.append(f'{scope}/{sub_rel} -> {key}: '
                              f'{tuple(value.shape)} vs {shapes[key]}')
            continue
        state_dict[key] = torch.from_numpy(np.ascontiguousarray(value))
    if unknown:
        raise ValueError(
            f'{len(unknown)} variables of {scope} have no place in mmdet\'s '
            f'EfficientNet(arch={arch!r}), e.g. {unknown[:5]}')
    if mismatched:
        raise ValueError(f'{len(mismatched)} shapes differ from mmdet\'s '
                         f'EfficientNet(arch={arch!r}), e.g. {mismatched[:3]}')
    for key in shapes:
        if key.endswith('.num_batches_tracked'):
            state_dict[key] = torch.tensor(0, dtype=torch.long)
    missing = [key for key in shapes if key not in state_dict]
    if missing:
        raise ValueError(
            f'{len(missing)} keys of mmdet\'s EfficientNet(arch={arch!r}) '
            f'have no variable in the checkpoint, e.g. {missing[:5]}; the '
            'checkpoint is incomplete or of another model')

    last = num_layers - 1 if out_indices is None else max(out_indices)
    ordered = OrderedDict()
    for key in shapes:  # the model's own order
        if int(key.split('.')[1]) <= last:
            ordered[prefix + key] = state_dict[key]
    info = dict(arch=arch, scope=scope, dropped=dropped, **counts)
    return ordered, info


def _span(indices):
    if not indices:
        return 'none'
    return f'blocks_{indices[0]}..blocks_{indices[-1]} ({len(indices)})'


def parse_args(argv=None):
    """Parse command line arguments.

    Args:
        argv (list[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).

    Returns:
        argparse.Namespace: Parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Convert a TF EfficientNet checkpoint (tensorflow/tpu, '
        'e.g. Noisy Student or AutoAugment B7) to mmdet EfficientNet keys')
    parser.add_argument(
        'src',
        help='TF checkpoint prefix or directory (needs tensorflow), or a '
        '.npz / .pth of TF variable name -> array')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument(
        '--arch',
        default=None,
        help='mmdet EfficientNet arch (b0..b8); default: the checkpoint\'s')
    parser.add_argument(
        '--no-ema',
        action='store_true',
        help='take the raw variables, not their ExponentialMovingAverage '
        'shadows (which the released eval uses)')
    parser.add_argument(
        '--out-indices',
        type=int,
        nargs='+',
        default=None,
        help='the backbone\'s out_indices: layers after the largest are '
        'not built by mmdet and are left out (e.g. 3 4 5)')
    parser.add_argument(
        '--no-backbone-prefix',
        action='store_true',
        help='bare backbone keys (for EfficientNet.load_state_dict) instead '
        'of "backbone." keys')
    return parser.parse_args(argv)


def main(argv=None):
    """Convert ``src`` and save ``{'state_dict', 'meta'}`` to ``dst``."""
    args = parse_args(argv)
    state_dict, info = convert_efficientnet(
        load_tf_variables(args.src),
        arch=args.arch,
        prefer_ema=not args.no_ema,
        out_indices=args.out_indices,
        prefix='' if args.no_backbone_prefix else 'backbone.')
    out_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(out_dir, exist_ok=True)
    meta = dict(
        source=osp.abspath(args.src),
        converter='tools/model_converters/efficientnet_tf_to_mmdet.py',
        arch=info['arch'],
        ema=not args.no_ema)
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'{info["scope"]}: {len(state_dict)} tensors -> {args.dst} '
          f'({info["ema"]} EMA, {info["raw"]} raw variables; dropped '
          f'{len(info["dropped"])} classifier variables)')


if __name__ == '__main__':
    main()
