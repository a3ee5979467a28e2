# Runtime of the R50 arms trained from random init: He et al.'s scratch
# runtime (../../_base_/he-scratch_runtime.py: scratch guard, He init of the
# backbone, SyncBN guard, and the long-run hooks of he_runtime.py).
# `student_custom_hooks`: the same hooks for a student, whose backbone is
# `detector.backbone` inside SelfTrainingDetector (ScratchInitHook names the
# modules it re-initializes).
_base_ = '../../_base_/he-scratch_runtime.py'

student_custom_hooks = [
    dict(h, modules=['detector.backbone'])
    if h['type'] == 'ScratchInitHook' else h for h in _base_.custom_hooks
]
