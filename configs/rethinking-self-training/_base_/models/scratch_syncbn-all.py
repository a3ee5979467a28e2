# The scratch conversion of He et al. 2019 with SyncBN, for an mmdet model
# config: `model = dict(_base_.scratch_syncbn_all, detector=_base_.model)`.
# ScratchNormDetector (rethink_mmdet.scratch.norm) puts SyncBN into the
# backbone, the FPN and the heads (RoI heads: a 4conv1fc box head; RPN head
# without norm), freezes nothing, strips pre-trained inits (a
# `backbone_init_cfg` adds one back) and refuses to train SyncBN on one
# process. It returns the plain mmdet detector: checkpoints are mmdet's.
custom_imports = dict(imports=['rethink_mmdet'], allow_failed_imports=False)

scratch_syncbn_all = dict(
    _delete_=True, type='ScratchNormDetector', norm='SyncBN')
