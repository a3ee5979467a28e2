# Runtime of the R50 arms fine-tuned from ImageNet: He et al.'s long-run
# runtime (atomic checkpoints every 10k iterations, auto-resume, preemption
# checkpoint-and-exit, RNG state, images seen; ../../_base_/he_runtime.py).
# `student_custom_hooks` are the hooks of a student of this arm (the same).
_base_ = '../../_base_/he_runtime.py'

student_custom_hooks = _base_.custom_hooks
