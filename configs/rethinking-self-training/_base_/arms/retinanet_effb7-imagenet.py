# One arm of the Zoph et al. 2020 grid: RetinaNet EfficientNet-B7-FPN (the
# paper's model), SyncBN-all, ImageNet init, with its runtime, the schedule and
# the pieces its self-training students assemble (../selftrain/student.py).
_base_ = [
    '../models/retinanet_effb7-imagenet_fpn_syncbn-all.py',
    '../effb7_runtime.py',
    '../schedules/zoph_1852k_b32.py',
    '../selftrain/student.py',
]
