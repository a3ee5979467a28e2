"""Install rethink_mmdet.

Like MMDetection, the package ships its ``configs/`` and ``tools/`` inside
``rethink_mmdet/.mim`` so that ``mim train rethink_mmdet CONFIG`` works: as
symlinks for an editable install, as copies for a wheel or sdist.
"""
import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools')


def get_version():
    """Read ``__version__`` from ``rethink_mmdet/version.py``."""
    scope = {}
    with open(osp.join(ROOT, 'rethink_mmdet', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname):
    """Read a requirements file, skipping comments and blank lines."""
    with open(osp.join(ROOT, fname)) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


def link_mim_files():
    """Symlink ``configs`` and ``tools`` into ``rethink_mmdet/.mim``.

    For editable installs (``develop``/``editable_wheel``), so edits show up
    at once and ``mim`` finds them next to the package.
    """
    mim_dir = osp.join(ROOT, 'rethink_mmdet', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        dst = osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        os.symlink(osp.relpath(osp.join(ROOT, name), mim_dir), dst)


class BuildPyWithMim(build_py):
    """``build_py`` that also copies ``configs`` and ``tools`` into
    ``rethink_mmdet/.mim`` of the build (wheels, sdist installs), leaving the
    source tree untouched."""

    def run(self):
        super().run()
        mim_dir = osp.join(self.build_lib, 'rethink_mmdet', '.mim')
        for name in MIM_FILES:
            dst = osp.join(mim_dir, name)
            if osp.isdir(dst) and not osp.islink(dst):
                shutil.rmtree(dst)
            elif osp.lexists(dst):
                os.remove(dst)
            shutil.copytree(
                osp.join(ROOT, name),
                dst,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


if __name__ == '__main__':
    if {'develop', 'editable_wheel'} & set(sys.argv):
        link_mim_files()
    setup(
        name='rethink_mmdet',
        version=get_version(),
        description='He et al. 2019 (training from scratch) and Zoph et al. '
        '2020 (self-training) as MMDetection 3.x configs and components',
        long_description=open(osp.join(ROOT, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        cmdclass={'build_py': BuildPyWithMim},
        python_requires='>=3.8',
        # Tested ranges, not pins, so that `pip install -e .` into an
        # existing mmdet 3.3 environment keeps its packages; the README
        # lists the exact versions CI runs. mmengine's upper bound is also
        # checked at import (rethink_mmdet/engine/runner_state.py).
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            # rethink_mmdet.seg: Zoph et al.'s segmentation half
            'seg': parse_requirements('requirements/seg.txt'),
        },
        zip_safe=False)
