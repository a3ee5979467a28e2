# Runtime of the ResNet arms trained from random init: He et al.'s scratch
# runtime (../../_base_/he-scratch_runtime.py: scratch guard, He init of the
# backbone, SyncBN guard, and the long-run hooks of he_runtime.py). The
# hooks find a student's inner detector by themselves.
_base_ = '../../_base_/he-scratch_runtime.py'
