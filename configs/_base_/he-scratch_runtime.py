# Runtime for training from random init (He et al. 2019): he_runtime.py plus
# - ScratchGuardHook: refuses frozen stages/parameters, norm layers in eval
#   mode or with frozen affine parameters, Pretrained init and load_from,
#   naming each module and the fix (Detectron's FREEZE_AT bug);
# - ScratchInitHook: MSRA (Kaiming fan_out) init of the backbone convs, norm
#   weight 1 / bias 0, and a per-stage weight-statistics report;
# - SyncBNGuardHook: refuses SyncBN on a single process (it would silently
#   become per-GPU BN).
_base_ = './he_runtime.py'

custom_hooks = [
    dict(type='ScratchGuardHook'),
    dict(type='ScratchInitHook'),
    dict(type='SyncBNGuardHook'),
    dict(type='ImagesSeenHook'),
]
