"""Python's garbage collector around a tool's start-up and exit.

A run of ``tools/train.py`` allocates a few million long-lived objects
while it imports torch, mmengine and mmdet and builds its Runner. The
cyclic collector walks all of them in every full collection during the
start-up, and once more over everything when the interpreter exits; none of
them is garbage. On the shapes arms of the main job that is 1.8 s of a
38 s run (``tools/benchmark/demo_arm_profile.py``, ``docs/benchmarks.md``:
start-up -0.96 s, exit -0.86 s), paid by every process of a study.

What the tools do, CPython's documented use of :func:`gc.freeze`: ``gc``
disabled before the imports (in ``__main__`` only: importing a tool as a
module changes nothing), :func:`end_of_startup` once the Runner is built.
The objects frozen then are never collected; garbage created during the
imports stays allocated (a few MB).
"""
import atexit
import gc

__all__ = ['end_of_startup']


def end_of_startup() -> None:
    """Move every object allocated so far to the collector's permanent
    generation, re-enable collection, and freeze again at exit (no final
    full collection over the whole heap).

    Call once, after the start-up (imports, config, Runner built), in a
    tool that called ``gc.disable()`` before its imports; harmless in one
    that did not.
    """
    gc.freeze()
    gc.enable()
    atexit.register(gc.freeze)
