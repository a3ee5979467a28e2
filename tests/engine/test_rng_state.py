"""Which stored random states each rank restores (LongRunRunner's
checkpoint entry); the 2-process resume itself is tested in
``test_preemption.py``."""
import random

import numpy as np
import torch

from rethink_mmdet.engine.rng_state import (get_rng_state, set_rng_state,
                                            stored_state)


def draws():
    return (random.random(), float(np.random.rand()), torch.rand(1).item())


def states_of_two_ranks():
    """Two different states, as two ranks would store them."""
    first = get_rng_state()
    expected_first = draws()
    second = get_rng_state()
    expected_second = draws()
    return [first, second], [expected_first, expected_second]


def test_each_rank_restores_its_own_states():
    ranks, expected = states_of_two_ranks()
    stored = dict(world_size=2, ranks=ranks)
    for rank in (1, 0):
        set_rng_state(stored_state(stored, rank, world_size=2))
        assert draws() == expected[rank]


def test_another_number_of_ranks_restores_none():
    ranks, _ = states_of_two_ranks()
    stored = dict(world_size=2, ranks=ranks)
    assert stored_state(stored, 0, world_size=1) is None
    assert stored_state(stored, 0, world_size=4) is None
    assert stored_state(None, 0, world_size=1) is None


def test_older_checkpoints_hold_rank_0_only():
    ranks, expected = states_of_two_ranks()
    old = dict(ranks[0], rank=0, world_size=2)  # the earlier format
    assert stored_state(old, 1, world_size=2) is None
    set_rng_state(stored_state(old, 0, world_size=2))
    assert draws() == expected[0]
    single = dict(ranks[1], rank=0, world_size=1)
    set_rng_state(stored_state(single, 0, world_size=1))
    assert draws() == expected[1]
