"""Every test here runs in mmseg's default scope, restored afterwards: a
default scope left set (by ``init_default_scope`` or a Runner) would
make later detection tests look their transforms up in mmseg."""
import pytest


@pytest.fixture(autouse=True)
def mmseg_scope():
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
