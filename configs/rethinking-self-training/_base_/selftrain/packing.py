# How every training pipeline of the Zoph et al. 2020 grid differs from its
# Aug-S fragment (configs/_base_/augment/), by transform type:
#
# - LoadAnnotations -> LoadPseudoAnnotations(default_score=1.0): a human box
#   is a label of score 1; a pseudo box keeps its teacher score, so the
#   student's score-weighted loss (off by default) is one config key;
# - PackDetInputs -> PackStudentInputs: also packs each sample's source name
#   (`data_source`, set by MultiSourceDataset) and the scores. For a teacher
#   (no source; scores of 1 that no mmdet head reads) it packs what
#   PackDetInputs packs.
#
# So one pipeline serves a teacher, the student's human part and its pseudo
# part (rethink_mmdet.self_training.sources / loading). The aug-s*.py files
# here apply it.
selftrain_swap = dict(
    LoadAnnotations=dict(type='LoadPseudoAnnotations', default_score=1.0),
    PackDetInputs=dict(type='PackStudentInputs'))
