# One arm of the Zoph et al. 2020 grid: RetinaNet R50-FPN, SyncBN-all, ImageNet
# init, with its runtime, the schedule and the pieces its self-training
# students assemble (../selftrain/student.py).
_base_ = [
    '../models/retinanet_r50-imagenet_fpn_syncbn-all.py',
    '../r50_runtime.py',
    '../schedules/zoph_1852k_b32.py',
    '../selftrain/student.py',
]
