# The optimizer of Zoph et al. 2020's PASCAL segmentors, Sec. 3.2 [V]: batch
# 256, weight decay 1e-5, cosine LR decay (the LR and its schedule are in
# zoph_seg_effb7-40k.py / zoph_seg_effl2-20k.py). Gradient clipping at norm
# 10 [V, released config `gradient_clip_norm: 10`]. SGD with momentum 0.9
# [U: the paper does not name the optimizer]; no weight decay on norm
# weights and biases [U: as the detection grid's zoph_optim.py].
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.08, momentum=0.9, weight_decay=1e-5),
    clip_grad=dict(max_norm=10.0),
    paramwise_cfg=dict(norm_decay_mult=0.))
# The LR is the paper's at its batch (each leaf sets base_batch_size to its
# batch); `--auto-scale-lr` scales it linearly to the batch a run has.
auto_scale_lr = dict(enable=False, base_batch_size=256)
