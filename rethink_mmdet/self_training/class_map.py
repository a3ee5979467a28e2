"""Teacher classes -> student classes for pseudo labels.

Zoph et al. 2020 label an unlabeled set with a teacher of the student's own
task; in general the teacher's classes (a store's ``meta.json``) and the
student's (``metainfo['classes']``) are matched by name here, once, into a
lookup table that :func:`~.keep_rule.keep_rule` applies to every box.
"""
import logging
from typing import Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from .store import PseudoLabelStoreError

__all__ = ['student_label_lut']


def student_label_lut(teacher: Sequence[str], student: Optional[Sequence[str]],
                      class_map: Optional[dict], meta_file: str,
                      where: str) -> Tuple[tuple, np.ndarray]:
    """The student's classes and the teacher label -> student label table.

    Args:
        teacher (Sequence[str]): The store's class names.
        student (Sequence[str], optional): The student's class names; None:
            the teacher's (allowed only without ``class_map``).
        class_map (dict, optional): Teacher name -> student name (None drops
            the class); teacher classes absent from it are dropped. None
            requires the two class lists to be equal (names and order).
        meta_file (str): The store's ``meta.json`` (for errors).
        where (str): The store, for log lines.

    Returns:
        tuple: ``(student classes, lut)``; ``lut[t]`` is the student label
        of teacher label ``t``, -1 where the class is dropped.

    Raises:
        PseudoLabelStoreError: Class names that do not match, or a
            ``class_map`` naming unknown classes.
    """
    teacher = tuple(teacher)
    if student is None:
        if class_map is not None:
            raise PseudoLabelStoreError(
                f'{meta_file}: class_map given but the student classes are '
                'unknown; set metainfo=dict(classes=...) to the student\'s '
                'class names')
        student = teacher
    student = tuple(student)
    lut = np.full(len(teacher), -1, np.int64)
    if class_map is None:
        if teacher != student:
            only_t = [c for c in teacher if c not in student]
            only_s = [c for c in student if c not in teacher]
            detail = (f'teacher only: {only_t}; student only: {only_s}' if
                      only_t or only_s else 'same names in a different order')
            raise PseudoLabelStoreError(
                f'{meta_file}: teacher classes {list(teacher)} do not match '
                f'the student\'s metainfo classes {list(student)} '
                f'({detail}). Pass class_map={{teacher_name: student_name, '
                '...} to map them by name.')
        lut[:] = np.arange(len(teacher))
        return student, lut
    bad_keys = [k for k in class_map if k not in teacher]
    bad_vals = [
        v for v in class_map.values() if v is not None and v not in student
    ]
    if bad_keys or bad_vals:
        raise PseudoLabelStoreError(
            f'{meta_file}: class_map names unknown classes: keys not in the '
            f'teacher classes {list(teacher)}: {bad_keys}; values not in '
            f'the student classes {list(student)}: {bad_vals}')
    for t, s in class_map.items():
        if s is not None:
            lut[teacher.index(t)] = student.index(s)
    fed = set(lut.tolist())
    unfed = [c for i, c in enumerate(student) if i not in fed]
    dropped = [c for c, s in zip(teacher, lut) if s < 0]
    if unfed:
        print_log(
            f'PseudoLabelDataset {where}: no teacher class maps to student '
            f'classes {unfed}; they get no pseudo labels',
            logger='current',
            level=logging.WARNING)
    if dropped:
        print_log(
            f'PseudoLabelDataset {where}: teacher classes {dropped} are not '
            'in class_map; their boxes are dropped',
            logger='current',
            level=logging.INFO)
    return student, lut
