# Runtime of the ResNet arms fine-tuned from a pre-trained backbone: He et
# al.'s long-run runtime (atomic checkpoints every 10k iterations,
# auto-resume, preemption checkpoint-and-exit, RNG state, images seen;
# ../../_base_/he_runtime.py) plus SyncBNGuardHook (refuses to train the
# SyncBN-all model on one process, where SyncBN would be per-GPU BN).
_base_ = '../../_base_/he_runtime.py'

custom_hooks = [dict(type='SyncBNGuardHook')] + _base_.custom_hooks
