"""The labeler's listing of an unlabeled image collection, held compactly.

Zoph et al. 2020 label ImageNet (1.28M images) and Open Images; a listing
held as Python ``(path, id)`` tuples costs about 0.4 KB per image (0.5 GB at
1.28M). :class:`ImageList` keeps it as three numpy arrays instead (utf-8
path bytes, their int64 offsets and, for COCO sources, int64 image ids),
about ``16 + len(path)`` bytes per image, and every source is read as a
stream: a text list line by line, a folder one directory at a time, an
image-only COCO JSON one ``images`` record at a time
(:func:`iter_json_array`, ``ijson``, without ``json.load`` of the whole
file).

Sources (see :func:`list_images`):

- folder: image files below it, recursively, sorted by relative path;
  ids 1..N.
- text file: one path per line (blank lines and ``#`` comments ignored),
  file order; ids 1..N.
- image-only COCO JSON: ``images`` sorted by id, which is the image id.
"""
import hashlib
import os
import os.path as osp
from array import array
from typing import Iterator, List, Optional, Tuple

import ijson
import numpy as np

#: Kinds of unlabeled image sources (stored in meta ``source.kind``).
SOURCE_FOLDER = 'folder'
SOURCE_LIST = 'list'
SOURCE_COCO = 'coco'
SOURCE_KINDS = (SOURCE_FOLDER, SOURCE_LIST, SOURCE_COCO)

#: File extensions collected from an image folder (lower case).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')

#: How many of the first images are looked for to check an image root.
NUM_PROBES = 8


class ImageSourceError(ValueError):
    """The unlabeled image source is missing, empty or malformed."""


class ImageList:
    """``(path, image_id)`` of N images in source order, as arrays.

    Args:
        paths (np.ndarray): uint8, the utf-8 paths one after another.
        offsets (np.ndarray): int64 (N+1,), path i is
            ``paths[offsets[i]:offsets[i+1]]``.
        ids (np.ndarray, optional): int64 (N,) image ids. Defaults to None
            (ids 1..N).
    """

    def __init__(self,
                 paths: np.ndarray,
                 offsets: np.ndarray,
                 ids: Optional[np.ndarray] = None):
        self.paths = np.asarray(paths, np.uint8)
        self.offsets = np.asarray(offsets, np.int64)
        self.ids = None if ids is None else np.asarray(ids, np.int64)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def path(self, i: int) -> str:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.paths[a:b].tobytes().decode('utf-8')

    def image_id(self, i: int) -> int:
        return i + 1 if self.ids is None else int(self.ids[i])

    def __getitem__(self, i: int) -> Tuple[str, int]:
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f'image {i} of {len(self)}')
        return self.path(i), self.image_id(i)

    def __iter__(self) -> Iterator[Tuple[str, int]]:
        return (self[i] for i in range(len(self)))

    def sha256(self) -> str:
        """Digest of the ids and paths (the listing's identity)."""
        digest = hashlib.sha256()
        ids = self.ids if self.ids is not None else np.arange(
            1, len(self) + 1, dtype=np.int64)
        for arr in (ids, self.offsets, self.paths):
            digest.update(np.ascontiguousarray(arr).data)
        return digest.hexdigest()

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes for a in (self.paths, self.offsets, self.ids)
            if a is not None)


class _Builder:
    """Appends paths (and ids) to growing compact buffers."""

    def __init__(self, with_ids: bool = False):
        self.blob = bytearray()
        self.lengths = array('q')
        self.ids = array('q') if with_ids else None

    def add(self, path: str, img_id: Optional[int] = None):
        raw = path.encode('utf-8')
        self.blob += raw
        self.lengths.append(len(raw))
        if self.ids is not None:
            self.ids.append(img_id)

    def build(self) -> ImageList:
        offsets = np.zeros(len(self.lengths) + 1, np.int64)
        np.cumsum(np.frombuffer(self.lengths, np.int64), out=offsets[1:])
        ids = None if self.ids is None else np.frombuffer(self.ids, np.int64)
        return ImageList(np.frombuffer(self.blob, np.uint8), offsets, ids=ids)


def _permuted(images: ImageList, order: np.ndarray) -> ImageList:
    """``images`` in ``order`` (built block by block, no per-image
    objects held)."""
    if np.array_equal(order, np.arange(len(order))):
        return images
    out = _Builder(with_ids=images.ids is not None)
    for i in order.tolist():
        out.add(images.path(i), images.image_id(i))
    return out.build()


def _sorted_names(names: List[str]) -> np.ndarray:
    """Indexes sorting ``names`` by their utf-8 bytes (= code points)."""
    encoded = np.array([n.encode('utf-8') for n in names], dtype=bytes)
    return np.argsort(encoded, kind='stable')


def _walk_sorted(root: str, rel: str, out: _Builder):
    """Add the images below ``root/rel`` in sorted relative-path order.

    A sub-directory ``d`` sorts as ``d/``, which orders it among the files
    exactly as the full relative paths sort."""
    files, dirs = [], []
    with os.scandir(osp.join(root, rel)) as it:
        for entry in it:
            if entry.is_dir():
                dirs.append(entry.name)
            elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                files.append(entry.name)
    keys = files + [d + '/' for d in dirs]
    for k in _sorted_names(keys).tolist() if keys else []:
        if k < len(files):
            out.add(osp.join(rel, files[k]) if rel else files[k])
        else:
            name = dirs[k - len(files)]
            _walk_sorted(root, osp.join(rel, name) if rel else name, out)


def iter_json_array(path: str, key: str) -> Iterator:
    """Yield the items of the top-level array ``key`` of a JSON object file
    one at a time, with ``ijson``'s C parser (the file is never held in
    memory as a whole; numbers that are not integers come as ``float``).

    Raises:
        ImageSourceError: the file is not valid JSON, or not an object
            with a top-level array ``key``.
    """
    count = 0
    try:
        with open(path, 'rb') as f:
            for count, item in enumerate(
                    ijson.items(f, f'{key}.item', use_float=True), 1):
                yield item
        if count == 0:  # an empty array, or none: parse again to tell
            with open(path, 'rb') as f:
                events = ((prefix, event)
                          for prefix, event, _ in ijson.parse(f))
                first = next(events, ('', None))
                if first != ('', 'start_map'):
                    raise ImageSourceError(f'{path}: expected a JSON object')
                if (key, 'start_array') not in events:
                    raise ImageSourceError(
                        f'{path}: no top-level "{key}" list')
    except ijson.JSONError as e:
        raise ImageSourceError(f'{path}: invalid JSON: {e}') from e


def _coco_images(source: str) -> ImageList:
    out = _Builder(with_ids=True)
    try:
        for im in iter_json_array(source, 'images'):
            out.add(str(im['file_name']), int(im['id']))
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ImageSourceError):
            raise
        raise ImageSourceError(
            f'{source} is not an image-only COCO JSON with an "images" '
            f'list of {{"id", "file_name"}} records: {e!r}') from e
    images = out.build()
    order = np.argsort(images.ids, kind='stable')
    sorted_ids = images.ids[order]
    dup = np.flatnonzero(np.diff(sorted_ids) == 0)
    if len(dup):
        raise ImageSourceError(
            f'{source}: image id {int(sorted_ids[dup[0]])} appears more '
            'than once; COCO image ids must be unique.')
    return _permuted(images, order)


def coco_root_candidates(source: str) -> List[str]:
    """Image roots tried, in order, for an image-only COCO JSON without
    ``--img-root``: for ``ROOT/annotations/PREFIX_SPLIT.json``,
    ``ROOT/SPLIT`` (mmdet's COCO layout: ``image_info_unlabeled2017.json``
    -> ``unlabeled2017/``, the built-in ``image_info_unlabeled.json`` ->
    ``unlabeled/``), then ``ROOT`` (file names that include their folder),
    then the JSON's own directory."""
    ann_dir = osp.dirname(osp.abspath(source))
    root = osp.dirname(ann_dir)
    stem = osp.splitext(osp.basename(source))[0]
    split = stem.rsplit('_', 1)[-1]
    out = []
    for cand in (osp.join(root, split), root, ann_dir):
        if cand not in out:
            out.append(cand)
    return out


def _has_images(images: ImageList, root: str) -> bool:
    return any(
        osp.exists(osp.join(root, images.path(i)))
        for i in range(min(NUM_PROBES, len(images))))


def _choose_root(source, kind, images, img_root, defaults):
    """The image root: ``img_root`` if given, else the first of
    ``defaults`` holding one of the first images; an error names the roots
    tried and the ``--img-root`` to pass."""
    tried = [osp.abspath(img_root)] if img_root else defaults
    for root in tried:
        if _has_images(images, root):
            return root
    example = images.path(0)
    hint = ''
    if img_root:
        good = [r for r in defaults if _has_images(images, r)]
        if good:
            hint = (f' (they are under {good[0]}: pass --img-root '
                    f'{good[0]} or leave --img-root out)')
    raise ImageSourceError(
        f'none of the first {min(NUM_PROBES, len(images))} images of '
        f'{kind} source {source} (e.g. {example!r}) exists under '
        f'{" or ".join(tried)}{hint}: pass the folder that its paths are '
        'relative to with --img-root DIR (e.g. the DIR with '
        f'DIR/{example}).')


def detect_source_kind(source: str) -> str:
    """``'folder'`` for a directory, ``'coco'`` for a ``.json`` file,
    ``'list'`` for any other file (one image path per line)."""
    if osp.isdir(source):
        return SOURCE_FOLDER
    if not osp.isfile(source):
        raise ImageSourceError(
            f'image source {source} does not exist: give an image folder, '
            'a text file of image paths or an image-only COCO JSON.')
    return SOURCE_COCO if source.lower().endswith('.json') else SOURCE_LIST


def list_images(source: str,
                img_root: Optional[str] = None) -> Tuple[ImageList, dict]:
    """List an unlabeled image collection in source order.

    - folder: every file with an image extension (:data:`IMAGE_EXTENSIONS`)
      below ``source``, recursively, sorted by relative path; image ids
      1..N; paths relative to the folder (``img_root`` is ignored).
    - text file: one path per line (blank lines and ``#`` comments
      ignored), in file order; relative paths are relative to ``img_root``
      (default: the list file's directory); image ids 1..N.
    - image-only COCO JSON (e.g. ``image_info_unlabeled2017.json``): the
      ``images`` sorted by id, which is also the image id; ``file_name`` is
      relative to ``img_root``, by default the first of
      :func:`coco_root_candidates` that holds the first images (for
      ``ROOT/annotations/image_info_SPLIT.json``: ``ROOT/SPLIT/``, as
      mmdet's ``data_prefix=dict(img='SPLIT/')``, else ``ROOT``).

    Args:
        source (str): Folder, text file or ``.json`` file.
        img_root (str, optional): Root of relative paths of list and COCO
            sources. Defaults to None (see above).

    Returns:
        tuple[ImageList, dict]: The images and the source description
        ``{'kind', 'path', 'root', 'num_images', 'listing_sha256'}`` for
        the store's meta.

    Raises:
        ImageSourceError: the source is missing, empty or malformed, or
            none of its first images exists under the image root.
    """
    kind = detect_source_kind(source)
    source_abs = osp.abspath(source)
    if kind == SOURCE_FOLDER:
        out = _Builder()
        _walk_sorted(source_abs, '', out)
        images, root = out.build(), source_abs
    elif kind == SOURCE_LIST:
        out = _Builder()
        with open(source, encoding='utf-8') as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith('#'):
                    out.add(line)
        images = out.build()
    else:
        images = _coco_images(source)
    if not len(images):
        raise ImageSourceError(f'no images found in {source} ({kind}).')
    if kind == SOURCE_LIST:
        root = _choose_root(source, kind, images, img_root,
                            [osp.dirname(source_abs)])
    elif kind == SOURCE_COCO:
        root = _choose_root(source, kind, images, img_root,
                            coco_root_candidates(source))
    return images, dict(
        kind=kind,
        path=source_abs,
        root=root,
        num_images=len(images),
        listing_sha256=images.sha256())
