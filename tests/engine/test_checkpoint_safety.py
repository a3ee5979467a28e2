"""Checkpoints on torch >= 2.6: mmengine/mmdet checkpoints load with
weights_only=True; anything else is refused with a helpful message."""
import argparse
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from rethink_mmdet.engine import (TRUSTED_CHECKPOINTS_ENV,
                                  UntrustedCheckpointError, safe_global_names)
from rethink_mmdet.engine.checkpoint_safety import history_buffer_getattr


def test_real_checkpoint_needs_exactly_allow_listed_globals(mask_rcnn_run):
    work_dir, _ = mask_rcnn_run
    ckpt = str(work_dir / 'iter_4.pth')
    # Without our allow-list plain torch refuses mmengine's checkpoint
    # (the failure this module fixes) ...
    proc = subprocess.run(
        [sys.executable, '-c', f'import torch; torch.load({ckpt!r})'],
        capture_output=True,
        text=True)
    assert proc.returncode != 0
    assert 'HistoryBuffer' in proc.stderr
    # ... and every global it needs is in our allow-list (asked in a fresh
    # process, where nothing is allow-listed yet).
    proc = subprocess.run([
        sys.executable, '-c', 'import torch; print(*torch.serialization.'
        f'get_unsafe_globals_in_checkpoint({ckpt!r}))'
    ],
                          capture_output=True,
                          text=True,
                          check=True)
    needed = set(proc.stdout.split())
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in needed
    assert needed <= set(safe_global_names()), needed


def test_real_checkpoint_loads_with_weights_only(mask_rcnn_run):
    work_dir, _ = mask_rcnn_run
    ckpt = _load_checkpoint(str(work_dir / 'iter_4.pth'), map_location='cpu')
    scalars = ckpt['message_hub']['log_scalars']
    assert isinstance(scalars['train/loss'], HistoryBuffer)
    assert ckpt['meta']['iter'] == 4
    # torch.load itself (user code) benefits from the allow-list as well.
    plain = torch.load(work_dir / 'iter_4.pth', weights_only=True)
    assert plain['state_dict'].keys() == ckpt['state_dict'].keys()


def test_arbitrary_pickled_object_is_refused(tmp_path, monkeypatch):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': argparse.Namespace(x=1)}, path)
    monkeypatch.delenv(TRUSTED_CHECKPOINTS_ENV, raising=False)
    with pytest.raises(UntrustedCheckpointError) as err:
        _load_checkpoint(str(path))
    msg = str(err.value)
    assert 'argparse.Namespace' in msg
    assert str(path) in msg
    assert TRUSTED_CHECKPOINTS_ENV in msg
    assert 'add_safe_globals' in msg


def test_trusted_file_loads_in_full(tmp_path, monkeypatch):
    path = tmp_path / 'trusted.pth'
    torch.save({'meta': argparse.Namespace(x=1)}, path)
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, str(path))
    assert _load_checkpoint(str(path))['meta'].x == 1
    # Trust is per file: another file with the same content is refused.
    other = tmp_path / 'other.pth'
    torch.save({'meta': argparse.Namespace(x=1)}, other)
    with pytest.raises(UntrustedCheckpointError):
        _load_checkpoint(str(other))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    assert history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    for obj, name in ((HistoryBuffer, '__init__'), (HistoryBuffer, 'update'),
                      (torch, 'load'), (sys, 'modules')):
        with pytest.raises(pickle.UnpicklingError, match='only allows'):
            history_buffer_getattr(obj, name)
    # A pickle that uses getattr to reach anything else is refused.
    path = tmp_path / 'getattr.pth'
    torch.save({'f': HistoryBuffer.update}, path)
    with pytest.raises(UntrustedCheckpointError):
        _load_checkpoint(str(path))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))
