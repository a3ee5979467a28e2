"""Study config validation: every mistake names the key and the fix;
grids expand; the shipped study configs parse; the copy a study directory
keeps parses back to the same study."""
import pytest
from mmengine.config import Config

from rethink_mmdet.study.schema import StudyConfigError, study_to_dict
from rethink_mmdet.study.validate import load_study, parse_study
from tests.conftest import MASK_RCNN, RETINANET
from tests.study.helpers import (SELFTRAIN_STUDENT, SELFTRAIN_TINY, TINY,
                                 write_study)

BOX = 'coco/bbox_mAP'
METRICS = [dict(key=BOX, name='box AP', scale=100)]


def arm(name='a', **kw):
    return dict(name=name, config=RETINANET, **kw)


def st_arm(name='st', **kw):
    base = dict(
        name=name,
        kind='self_train',
        config=SELFTRAIN_STUDENT,
        teacher_arm='a',
        unlabeled='data/unlabeled')
    return {**base, **kw}


def parse(tmp_path, **keys):
    keys.setdefault('metrics', METRICS)
    return load_study(write_study(tmp_path / 'study.py', **keys))


@pytest.mark.parametrize('keys, message', [
    (dict(arms=[]), 'no arms'),
    (dict(arms=[arm()], metrics=[]), 'no metrics'),
    (dict(arms=[arm()], referenes={}), r"unknown key\(s\) \['referenes'\]"),
    (dict(arms=[arm(seeed=1)]), r"unknown key\(s\) \['seeed'\]"),
    (dict(arms=[arm(seed=0, seeds=[1])]), 'both seed and seeds'),
    (dict(arms=[arm(seeds=[0, 0])]), 'repeated seeds'),
    (dict(arms=[arm(seeds=[-1])]), 'non-negative int'),
    (dict(arms=[arm(name='a b')]), 'name='),
    (dict(arms=[arm(), arm()]), r"arm names \['a'\] repeated"),
    (dict(arms=[dict(name='a', config='nope.py')]), "'nope.py' does not "
     'exist'),
    (dict(arms=[arm(kind='finetune')]), "kind='finetune'"),
    (dict(arms=[arm(cfg_options=['a=1'])]), 'cfg_options is a list'),
    (dict(arms=[arm(cfg_options=3)]), 'cfg_options is a int'),
    (dict(arms=[arm(counterpart='b')]), "counterpart='b' is not another"),
    (dict(arms=[arm(init_key='load_from')]), 'init_key without init_arm'),
    (dict(arms=[arm(init_arm='b')]), "init_arm='b' is not another"),
    (dict(arms=[arm(), arm('b', init_arm='a', init_key='')]), 'init_key='),
    (dict(arms=[arm(
        seeds=[0, 1]), arm('b', init_arm='a', seeds=[2])]),
     r"seeds \[2\] have no run of init_arm 'a'"),
    (dict(arms=[arm(), st_arm(), arm('b', init_arm='st')]),
     "init_arm 'st' is a self_train arm"),
    (dict(arms=[arm(init_arm='b'), arm('b', init_arm='a')]),
     'leads back to itself'),
    (dict(arms=[arm(name='r-{x}', grid=dict(y=[1]))]),
     r"grid names \['y'\] are not in name"),
    (dict(arms=[arm(name='r-{x}', grid=dict(x=[]))]), 'non-empty list'),
    (dict(arms=[arm(name='r-{x}', grid=dict(x=[1]), reference={'k': 1})]),
     'reference given on a grid arm'),
    (dict(arms=[arm(reference={'coco/segm_mAP': 3.0})]),
     r"reference for \['coco/segm_mAP'\]"),
    (dict(arms=[arm()], references={'b': {}}), r"references\['b'\]"),
    (dict(arms=[arm()], tables=[dict(metrics=['loss'])]), 'metrics'),
    (dict(arms=[arm()], tables=[dict(columns='sched')
                                ]), r"has no label\(s\) \['sched'\]"),
    (dict(
        arms=[arm(labels=dict(m='x')),
              arm('b', labels=dict(m='x'))],
        tables=[dict(rows='m')]), 'fall in the same cell'),
    (dict(arms=[arm()], tables=[dict(where=dict(m='x'))]), 'no arm has'),
    (dict(arms=[arm(), st_arm(teacher_arm=None, unlabeled='u')]),
     'exactly one of teacher_arm and teacher_config'),
    (dict(arms=[arm(), st_arm(unlabeled=None)]), 'no unlabeled source'),
    (dict(arms=[arm(), st_arm(teacher_checkpoint='x.pth')]),
     'teacher_checkpoint / teacher_cfg_options with teacher_arm'),
    (dict(arms=[arm(), st_arm(seeds=[0, 1])]),
     r"seeds \[1\] have no run of teacher_arm 'a'"),
    (dict(arms=[arm(), st_arm(score_thr=1.5)]), r'Scores are in \[0, 1\]'),
    (dict(arms=[arm(), st_arm(quality_match='path')]), "quality_match="),
    (dict(arms=[
        arm(),
        st_arm(teacher_arm='st2'),
        st_arm('st2', teacher_arm='a')
    ]), "is a self_train arm"),
])
def test_validation_errors(tmp_path, keys, message):
    keys = {k: v for k, v in keys.items()}
    for a in keys.get('arms', []):
        for k in [k for k, v in a.items() if v is None]:
            del a[k]
    with pytest.raises(StudyConfigError, match=message) as err:
        parse(tmp_path, **keys)
    assert 'study.py' in str(err.value)  # the message names the file


# relative references: the paper's gain over another arm
@pytest.mark.parametrize('keys, message', [
    (dict(arms=[arm(reference={BOX: dict(gain=1.7)})]),
     r"a reference gain for \['coco/bbox_mAP'\] but no gain_over"),
    (dict(arms=[arm(gain_over='b')]), "gain_over='b' is not an arm"),
    (dict(arms=[arm(gain_over='a')]), "gain_over='a' is the arm itself"),
    (dict(arms=[
        arm(gain_over='b'),
        arm('b', gain_over='c'),
        arm('c', gain_over='a')
    ]), 'gain_over chain a -> b -> c -> a leads back to itself'),
    (dict(arms=[
        arm('r-{x}', grid=dict(x=[1, 2])),
        arm('s-{x}', grid=dict(x=[1, 2]), gain_over='r')
    ]), r"gain_over='r' \(written without grid names in braces: the same "
     r'for every arm of the grid over x\) is not an arm'),
    (dict(arms=[
        arm('r-{x}', grid=dict(x=[1, 2])),
        arm('s-{x}', grid=dict(x=[1, 2]), gain_over='q-{x}')
    ]), r"gain_over='q-1' \(from 'q-\{x\}' with the grid values "
     r"\{'x': 1\}\) is not an arm"),
    (dict(arms=[
        arm('r-{x}', grid=dict(x=[1, 2])),
        arm('s-{x}', grid=dict(x=[1, 2]), gain_over='r-{y}')
    ]), "'r-{y}' cannot be formatted with the grid values"),
    (dict(arms=[arm('r-{x}', grid=dict(x=[1]), gain_over='r-{x}')]),
     r"gain_over='r-1' \(from 'r-\{x\}' with the grid values \{'x': 1\}\) "
     'is the arm itself'),
    (dict(
        arms=[arm(), arm('b', gain_over='a')],
        references={'b': {
            'coco/segm_mAP': dict(gain=1.0)
        }}), r"reference for \['coco/segm_mAP'\], not among the metrics"),
    (dict(arms=[arm(reference={BOX: dict(val=1.0)})]),
     r"reference\['coco/bbox_mAP'\]: unknown key\(s\) \['val'\]"),
    (dict(arms=[arm(reference={BOX: dict()})]), 'References map metric key'),
    (dict(arms=[arm(reference={BOX: '40.9'})]), 'References map metric key'),
    (dict(arms=[arm()], references={'a': {
        BOX: dict(gain=True)
    }}), r"references\['a'\]\['coco/bbox_mAP'\]"),
    (dict(
        arms=[arm(), arm('b', gain_over='a')],
        references={
            'a': {
                BOX: 39.2
            },
            'b': {
                BOX: dict(value=40.9, gain=2.7)
            }
        }), r"states gain \+2.7 over 'a', but value 40.9 - 39.2 = \+1.7"),
    (dict(
        arms=[arm('r-{x}', grid=dict(x=[1]), reference={BOX: dict(
            gain=1.0)})]), 'reference given on a grid arm'),
])
def test_relative_reference_errors(tmp_path, keys, message):
    test_validation_errors(tmp_path, keys, message)


def test_unreadable_study_config(tmp_path):
    path = tmp_path / 'broken.py'
    path.write_text('arms = [\n')
    with pytest.raises(StudyConfigError, match='cannot be read'):
        load_study(str(path))


def test_grid_expansion_keeps_value_types(tmp_path):
    study = parse(
        tmp_path,
        arms=[
            arm(name='r-{lr}-{it}',
                grid=dict(lr=[0.01, 0.02], it=[4, 8]),
                cfg_options={
                    'optim_wrapper.optimizer.lr': '{lr}',
                    'work_note': 'lr {lr}'
                },
                labels=dict(model='R'))
        ],
        references={'r-0.02-8': {
            'coco/bbox_mAP': 40.3
        }},
        tables=[dict(rows=['model', 'lr'], columns='it')])
    assert [a.name for a in study.arms
            ] == ['r-0.01-4', 'r-0.01-8', 'r-0.02-4', 'r-0.02-8']
    a = study.arm('r-0.02-8')
    assert a.cfg_options == {
        'optim_wrapper.optimizer.lr': 0.02,
        'work_note': 'lr 0.02'
    }
    assert a.labels == {'model': 'R', 'lr': '0.02', 'it': '8'}
    assert a.reference == {'coco/bbox_mAP': 40.3}
    assert study.arm('r-0.01-4').reference == {}
    assert study.tables[0].rows == ('model', 'lr')


def test_cfg_options_list_merges_in_order(tmp_path):
    study = parse(
        tmp_path, arms=[arm(cfg_options=[{
            'a': 1,
            'b': 2
        }, {
            'b': 3
        }])])
    assert study.arms[0].cfg_options == {'a': 1, 'b': 3}


def test_self_train_arm_defaults_and_counterpart(tmp_path):
    study = parse(tmp_path, arms=[arm(seeds=[0, 1]), st_arm(seed=1)])
    st = study.arm('st')
    assert st.counterpart == 'a'  # the teacher arm by default
    assert (st.rounds, st.score_thr, st.seeds) == (1, 0.5, [1])


@pytest.mark.parametrize('path', [TINY, SELFTRAIN_TINY])
def test_shipped_studies_and_their_copy(tmp_path, path):
    study = load_study(path)
    copy = Config(study_to_dict(study), filename=path)
    again = parse_study(copy)
    assert again == study
    assert all(
        a.config in (RETINANET, MASK_RCNN, SELFTRAIN_STUDENT)
        for a in study.arms)


def test_relative_references_on_grid_arms(tmp_path):
    """Zoph et al. 2020, Table 2 as a study: the self-training row states
    its gain over the Rand Init row of the same column."""
    study = parse(
        tmp_path,
        arms=[
            arm('rand-{aug}',
                grid=dict(aug=['s1', 's4']),
                labels=dict(init='Rand Init')),
            st_arm(
                'st-{aug}',
                teacher_arm='rand-{aug}',
                grid=dict(aug=['s1', 's4']),
                labels=dict(init='Rand Init + self-training'),
                gain_over='rand-{aug}'),
            arm('in1k', gain_over='rand-s4', reference={BOX: 43.3}),
        ],
        references={
            'rand-s1': {
                BOX: 39.2
            },
            'rand-s4': {
                BOX: 44.3
            },
            'st-s1': {
                BOX: dict(value=40.9, gain=1.7)
            },  # both (they agree)
            'st-s4': {
                BOX: dict(gain=1.3)
            },  # the gain only
        })
    st1, st4 = study.arm('st-s1'), study.arm('st-s4')
    assert (st1.gain_over, st4.gain_over) == ('rand-s1', 'rand-s4')
    assert study.arm('rand-s1').gain_over is None
    assert (st1.reference, st1.reference_gain) == ({BOX: 40.9}, {BOX: 1.7})
    assert (st4.reference, st4.reference_gain) == ({}, {BOX: 1.3})
    assert study.paper_gain(st1, BOX) == 1.7  # stated
    assert study.paper_gain(st4, BOX) == 1.3
    in1k = study.arm('in1k')  # derived: 43.3 - 44.3
    assert study.paper_gain(in1k, BOX) == pytest.approx(-1.0)
    assert study.paper_gain(study.arm('rand-s1'), BOX) is None
    # the copy a study directory keeps (grids expanded) parses back
    copy = Config(study_to_dict(study), filename=str(tmp_path / 'study.py'))
    assert parse_study(copy) == study
