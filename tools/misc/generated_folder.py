"""A config folder written by a generator script: check it (``--check``)
or write it (the generated files, the README's grid tables, and removing
generated files that are no longer generated).

The part shared by ``gen_selftrain_configs.py`` (Zoph et al. 2020's COCO
grid) and ``gen_seg_selftrain_configs.py`` (its PASCAL segmentation grid):
each says which files it writes and how it renders its README; this module
compares, writes and parses the command line.
"""
import argparse
import os
import os.path as osp
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple


def read_text(path: str) -> Optional[str]:
    """The text of ``path``, None if there is no such file."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read()


class GeneratedFolder(NamedTuple):
    """What a generator owns.

    Args:
        config_dir (str): The folder; every path below is relative to it.
        files (callable): ``() -> {path: text}``, the files it writes.
        owned (callable): ``(path) -> bool``, whether a present file is of
            the kind it writes (one that is not written is removed).
        present (callable): ``() -> [path]``, the files to look at.
        readme (str): The README with the grid tables (absolute path).
        render_readme (callable): ``(text) -> text`` with the tables
            written into it.
    """
    config_dir: str
    files: Callable[[], Dict[str, str]]
    owned: Callable[[str], bool]
    present: Callable[[], List[str]]
    readme: str
    render_readme: Callable[[str], str]

    def _rendered_readme(self) -> Tuple[bool, Optional[str]]:
        """Whether the README is stale, and its text with the tables
        written (None if there is no README: stale, nothing to render)."""
        text = read_text(self.readme)
        if text is None:
            return True, None
        new = self.render_readme(text)
        return new != text, new

    def _stale(self, want: Dict[str, str], readme_stale: bool) -> List[str]:
        stale = [
            n for n, text in want.items()
            if read_text(osp.join(self.config_dir, n)) != text
        ]
        extra = [n for n in self.present() if self.owned(n) and n not in want]
        return sorted(stale + extra + (['README.md'] if readme_stale else []))

    def stale_files(self) -> List[str]:
        """Generated files that differ from the output, files that look
        generated but are not written, and ``README.md`` if its tables
        differ."""
        return self._stale(self.files(), self._rendered_readme()[0])

    def write(self) -> int:
        """Write every generated file and the README tables, remove the
        generated files that are no longer generated; returns the number of
        files changed."""
        want = self.files()
        readme_stale, readme = self._rendered_readme()
        if readme is None:
            raise FileNotFoundError(
                f'{self.readme}: no README to write the grid tables into; '
                'add one with the two marker lines.')
        stale = self._stale(want, readme_stale)
        for name in stale:
            if name == 'README.md':
                path, text = self.readme, readme
            elif name in want:
                path, text = osp.join(self.config_dir, name), want[name]
            else:
                os.remove(osp.join(self.config_dir, name))
                continue
            with open(path, 'w') as f:
                f.write(text)
        return len(stale)

    def main(self, argv=None, description: str = '') -> int:
        """``--check``: write nothing, list the stale files, exit 1 if
        any; else write them."""
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument(
            '--check',
            action='store_true',
            help='write nothing; exit 1 and list the files that differ')
        args = parser.parse_args(argv)
        if args.check:
            stale = self.stale_files()
            for name in stale:
                print(f'stale: {osp.join(self.config_dir, name)}')
            return 1 if stale else 0
        print(f'{self.write()} files written or removed in '
              f'{self.config_dir}')
        return 0
