"""The student's checkpoint keys are the plain model's (Zoph et al.
2020, Sec. 3.2: a student starts from its teacher's weights, and is tested
as the plain model): ``detector.backbone.x`` (``segmentor.backbone.x`` for
the segmentation student) is saved as ``backbone.x``, and a plain detector
(segmentor) checkpoint loads into the student.
"""
__all__ = [
    'DETECTOR_KEY', 'LOSS_NORM_KEY', 'strip_detector_prefix',
    'strip_inner_prefix', 'to_student_keys'
]

#: Attribute of the inner detector; stripped from ``state_dict`` keys.
DETECTOR_KEY = 'detector'
#: Attribute of the :class:`~.loss_norm.LossNormalizer` (its buffers).
LOSS_NORM_KEY = 'loss_norm'


def strip_inner_prefix(module,
                       state_dict,
                       prefix,
                       local_metadata,
                       inner_key: str = DETECTOR_KEY):
    """``state_dict`` post-hook: ``{inner_key}.backbone.x`` ->
    ``backbone.x``, in place and in order (a parent module ignores a
    returned dict). Register it with ``functools.partial`` for another
    ``inner_key`` than :data:`DETECTOR_KEY`."""
    inner = prefix + inner_key + '.'
    items = list(state_dict.items())
    state_dict.clear()
    for key, value in items:
        if key.startswith(inner):
            key = prefix + key[len(inner):]
            if key in state_dict:  # the shared data_preprocessor
                continue
        state_dict[key] = value
    meta = getattr(state_dict, '_metadata', None)
    if meta is not None:
        for key in [k for k in meta if (k + '.').startswith(inner)]:
            value = meta.pop(key)
            if key != inner[:-1]:
                meta.setdefault(prefix + key[len(inner):], value)


def strip_detector_prefix(module, state_dict, prefix, local_metadata):
    """:func:`strip_inner_prefix` of the detection student
    (``detector.``)."""
    strip_inner_prefix(module, state_dict, prefix, local_metadata)


def to_student_keys(state_dict,
                    prefix: str,
                    loss_norm,
                    inner_key: str = DETECTOR_KEY) -> None:
    """``_load_from_state_dict`` pre-step of the student, in place: plain
    model keys (``backbone.x``) move under ``{inner_key}.`` (``detector.``
    by default); a checkpoint
    without ``loss_norm.*`` keys (the teacher's, or a student's whose
    averages :class:`~.joint_hook.JointStateHook` keeps under their own key)
    gets the normalizer's current state, so it reports no missing key: the
    averages start fresh, or are restored by that hook on resume."""
    inner = prefix + inner_key + '.'
    norm = prefix + LOSS_NORM_KEY + '.'
    shared = prefix + 'data_preprocessor.'
    meta = getattr(state_dict, '_metadata', None)
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if key.startswith(inner) or key.startswith(norm):
            continue
        value = state_dict[key] if key.startswith(shared) else \
            state_dict.pop(key)
        state_dict[inner + key[len(prefix):]] = value
    if meta is not None:
        for key in [k for k in meta if k.startswith(prefix) and k]:
            if not (key + '.').startswith((inner, norm)):
                meta.setdefault(inner + key[len(prefix):], meta[key])
    if not any(k.startswith(norm) for k in state_dict):
        for key, value in loss_norm.state_dict().items():
            state_dict[norm + key] = value
