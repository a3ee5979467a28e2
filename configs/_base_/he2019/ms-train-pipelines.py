# Scale-augmented COCO train pipelines of He et al. 2019 (Sec. 5), under
# names that no other fragment uses, so a config can list this file beside
# an mmdet dataset base and pick one:
#   train_dataloader = dict(dataset=dict(pipeline={{_base_.<name>}}))
# "Stronger" setting: shorter side sampled from [640, 800] (Sec. 5.1, the 9x
# models); less data: shorter side from [512, 800] (Sec. 5.2, 35k/10k/1k).
# Instance (mask) pipelines; detection configs use with_mask=False.
ms_640_800_instance_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, s) for s in range(640, 801, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
ms_512_800_instance_train_pipeline = [
    step if step['type'] != 'RandomChoiceResize' else dict(
        step, scales=[(1333, s) for s in range(512, 801, 32)])
    for step in ms_640_800_instance_train_pipeline
]
