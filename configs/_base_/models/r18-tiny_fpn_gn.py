# The tiny backbone + FPN of the CPU configs in configs/shapes/: mmdet's own
# ResNet-18 at base width 16 (stages of 16, 32, 64, 128 channels) and FPN at
# 32 channels, GroupNorm everywhere, nothing frozen, no pre-trained weights
# (He et al. 2019, Sec. 3-4). 8 groups, since every width here divides by 8
# (He et al. use 32 groups at full width, i.e. >= 8 channels per group).
# Detector configs merge these into mmdet's model bases:
#   model = dict(backbone={{_base_.tiny_backbone}}, neck={{_base_.tiny_neck}})
tiny_width = 16
tiny_channels = 32
tiny_norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)
tiny_backbone = dict(
    depth=18,
    base_channels=tiny_width,
    frozen_stages=-1,
    norm_eval=False,
    zero_init_residual=False,
    norm_cfg=tiny_norm_cfg,
    init_cfg=None)
tiny_neck = dict(
    in_channels=[tiny_width, tiny_width * 2, tiny_width * 4, tiny_width * 8],
    out_channels=tiny_channels,
    norm_cfg=tiny_norm_cfg)
