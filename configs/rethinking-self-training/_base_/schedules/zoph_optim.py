# The optimizer of Zoph et al. 2020's detectors, Sec. 3.1 [V]: batch 256,
# LR 0.32, weight decay 1e-4 (the LR schedule, warm-up and cosine decay, is
# in the zoph_cosine-*.py fragments, one per App. H length). SGD with
# momentum 0.9 is the TPU RetinaNet's optimizer [U: the paper does not name
# it]. No weight decay on norm weights and biases: Table 12 (ResNet-101)
# lists "norm beta/gamma in weight decay" as a difference from the main
# runs, so the main runs exclude them (inference); the R101 leaves put them
# back. Precision: Table 12 also lists float32 as a difference, so the main
# runs were bfloat16 on TPU (inference); these configs train in float32
# (optim_wrapper.type='AmpOptimWrapper', dtype='bfloat16' on GPUs that
# support it is the closer match). No gradient clipping (not stated [U]).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.32, momentum=0.9, weight_decay=1e-4),
    # bypass_duplicate: RetinaSepBNHead (B7) shares its convs across levels
    paramwise_cfg=dict(norm_decay_mult=0., bypass_duplicate=True))
# The LR is the paper's at its batch (each leaf sets base_batch_size to its
# batch: 256, or 512 and more for students and joint arms);
# `--auto-scale-lr` scales it linearly to the batch a run really has.
auto_scale_lr = dict(enable=False, base_batch_size=256)
