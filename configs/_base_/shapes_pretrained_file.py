# The pre-trained shapes arms (He et al. 2019, Sec. 5: fine-tuning from a
# pre-trained backbone): a missing pre-training checkpoint is refused before
# training starts, with the command that makes it (mmengine alone fails
# inside init_weights with "... can not be found"). A test of a trained arm
# needs no pre-training file and is not checked.
_make_pretraining = ('python tools/train.py '
                     'configs/shapes/cls_r18-tiny_gn_shapes-cls.py')
custom_hooks = [
    dict(
        type='PretrainedFileHook',
        made_by={'work_dirs/cls_r18-tiny_gn_shapes-cls': _make_pretraining})
]
