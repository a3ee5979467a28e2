"""Value checks and the progress bar shared by the package's tools."""
import numbers
import sys
from typing import Iterable, Optional


def is_int(value) -> bool:
    """Whether ``value`` is an integer and not a bool (``True`` is an
    ``int`` to Python, never a count or an iteration number to us)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def progress(iterable: Optional[Iterable] = None,
             total: Optional[int] = None,
             desc: str = '',
             enabled: Optional[bool] = None,
             **tqdm_kwargs):
    """A tqdm progress bar over ``iterable`` (or a manual one, updated with
    ``.update(n)``, when ``iterable`` is None).

    Args:
        iterable (Iterable, optional): Items to iterate over. Defaults to
            None.
        total (int, optional): Number of items. Defaults to None.
        desc (str): Bar description. Defaults to ''.
        enabled (bool, optional): Show the bar. Defaults to None: when
            standard error is a terminal and ``total`` is not 0.
        **tqdm_kwargs: More ``tqdm`` arguments (``unit``, ``smoothing``).

    Returns:
        tqdm.tqdm: The bar; disabled bars cost nothing and print nothing.
    """
    from tqdm import tqdm
    if enabled is None:
        enabled = total != 0 and sys.stderr.isatty()
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        disable=not enabled,
        dynamic_ncols=True,
        **tqdm_kwargs)
