# Runtime of the EfficientNet-B7 arms fine-tuned from ImageNet: He et al.'s
# long-run runtime (atomic checkpoints, auto-resume, preemption, RNG state,
# images seen) plus SyncBNGuardHook (refuses to train SyncBN on one process;
# the R50 models get that from ScratchNormDetector(norm='SyncBN') itself).
# `student_custom_hooks` are the hooks of a student of this arm (the same).
_base_ = '../../_base_/he_runtime.py'

custom_hooks = [dict(type='SyncBNGuardHook')] + _base_.custom_hooks
student_custom_hooks = custom_hooks
