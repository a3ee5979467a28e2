"""COCO interchange of the pseudo-label store: export a store as a COCO
JSON with scores, import COCO detection results as a store."""
import json
import os.path as osp

import numpy as np

from rethink_mmdet.utils import atomic_write
from .chunks import write_chunk
from .columns import read_json
from .layout import FORMAT, PseudoLabelStoreError
from .merge import finalize_store
from .reader import PseudoLabelStore

DEFAULT_IMPORT_CHUNK_SIZE = 10000
IMPORT_CREATED_BY = 'rethink_mmdet.self_training.import_coco_results'


def _category_ids(meta):
    """COCO category id of every label (``meta['category_ids']`` if the
    store was imported from COCO, else label + 1)."""
    ids = meta.get('category_ids')
    return list(ids) if ids else list(range(1, len(meta['classes']) + 1))


def export_coco(store_dir, out_file, score_thr=0.0):
    """Write a store as one COCO JSON with ``images``, ``categories`` and
    ``annotations`` carrying their ``score`` (kept, unlike mmdet's
    ``CocoDataset``).

    Args:
        store_dir (str): A finalized store.
        out_file (str): The JSON file to write.
        score_thr (float): Boxes scoring below it are left out. Defaults to
            0.0.

    Returns:
        dict: The COCO dict written.
    """
    store = PseudoLabelStore(store_dir)
    cat_ids = _category_ids(store.meta)
    images, annotations = [], []
    for i in range(len(store)):
        rec = store.image(i)
        images.append({
            'id': rec['image_id'],
            'file_name': rec['path'],
            'height': rec['height'],
            'width': rec['width'],
        })
        for j, (box, score, label) in enumerate(
                zip(rec['boxes'].tolist(), rec['scores'].tolist(),
                    rec['labels'].tolist())):
            if score < score_thr:
                continue
            x1, y1, x2, y2 = box
            ann = {
                'id': len(annotations) + 1,
                'image_id': rec['image_id'],
                'category_id': cat_ids[label],
                'bbox': [x1, y1, x2 - x1, y2 - y1],
                'area': (x2 - x1) * (y2 - y1),
                'iscrowd': 0,
                'score': score,
            }
            if rec['masks_rle'] is not None:
                ann['segmentation'] = {
                    'size': [rec['height'], rec['width']],
                    'counts': rec['masks_rle'][j]
                }
            annotations.append(ann)
    coco = {
        'info': {
            'description': f'{FORMAT} export of {store_dir}',
            'score_thr': score_thr
        },
        'images':
        images,
        'categories': [{
            'id': c,
            'name': n
        } for c, n in zip(cat_ids, store.classes)],
        'annotations':
        annotations,
    }
    atomic_write(json.dumps(coco), out_file)
    return coco


def _rle_counts(seg, h, w, where):
    """COCO compressed-RLE ``counts`` string of a result's segmentation."""
    if isinstance(seg, dict) and isinstance(seg.get('counts'), (str, bytes)):
        if list(seg.get('size', (h, w))) != [h, w]:
            raise PseudoLabelStoreError(
                f'{where}: RLE size {seg.get("size")} != image (h, w) '
                f'{[h, w]}')
        counts = seg['counts']
        return counts.decode('ascii') if isinstance(counts, bytes) else counts
    from pycocotools import mask as mask_utils
    rles = mask_utils.frPyObjects(seg, h, w)
    rle = mask_utils.merge(rles) if isinstance(rles, list) else rles
    return rle['counts'].decode('ascii')


def import_coco_results(results_file,
                        image_info_file,
                        store_dir,
                        classes=None,
                        score_floor=0.0,
                        meta=None):
    """Build a store from COCO detection results (e.g. mmdet's
    ``CocoMetric`` ``outfile_prefix`` ``.bbox.json`` / ``.segm.json``, or an
    :func:`export_coco` file) and the image-only COCO JSON of the images.

    Every image of ``image_info_file`` becomes a store image (ascending id;
    images without results have 0 boxes); results keep their file order.

    Args:
        results_file (str): A JSON list of ``{image_id, category_id, bbox
            [x, y, w, h], score, segmentation?}``, or a COCO dict whose
            ``annotations`` are such results.
        image_info_file (str): COCO JSON with ``images`` (``id``,
            ``file_name``, ``height``, ``width``) and, unless ``classes`` is
            given, ``categories``.
        store_dir (str): The store to create.
        classes (Sequence[str], optional): Class names. With ``categories``
            in ``image_info_file`` they are matched by name; without, label
            i is category id i + 1. Defaults to None (the categories' names
            in id order).
        score_floor (float): Results scoring below it are dropped and the
            value is recorded in the meta. Defaults to 0.0.
        meta (dict, optional): Extra or overriding meta keys (``teacher``,
            ``source``...). Defaults to None.

    Returns:
        dict: The meta of the new store.
    """
    info = read_json(image_info_file, 'image info')
    if not isinstance(info, dict) or 'images' not in info:
        raise PseudoLabelStoreError(
            f'{image_info_file}: no "images" list (expected an image-only '
            'COCO JSON)')
    cats = sorted(info.get('categories') or [], key=lambda c: c['id'])
    if cats:
        names = [c['name'] for c in cats]
        if classes is None:
            classes = names
        classes = list(classes)
        missing = [n for n in names if n not in classes]
        if missing:
            raise PseudoLabelStoreError(
                f'{image_info_file}: categories {missing[:5]} are not in '
                f'classes {classes[:5]}...')
        cat_ids = [None] * len(classes)
        for c in cats:
            cat_ids[classes.index(c['name'])] = c['id']
        unused = max(c['id'] for c in cats)
        for i, c in enumerate(cat_ids):  # classes with no category
            if c is None:
                unused += 1
                cat_ids[i] = unused
    elif classes is None:
        raise PseudoLabelStoreError(
            f'{image_info_file}: no "categories"; pass classes=')
    else:
        classes = list(classes)
        cat_ids = list(range(1, len(classes) + 1))
    label_of = {c: i for i, c in enumerate(cat_ids)}

    results = read_json(results_file, 'results')
    if isinstance(results, dict):
        results = results.get('annotations', [])
    images = sorted(info['images'], key=lambda im: im['id'])
    per_image = {im['id']: [] for im in images}
    has_masks = False
    for k, r in enumerate(results):
        where = f'{results_file}: result {k}'
        if r.get('image_id') not in per_image:
            raise PseudoLabelStoreError(
                f'{where} has image_id {r.get("image_id")!r} not in '
                f'{image_info_file}')
        if r.get('category_id') not in label_of:
            raise PseudoLabelStoreError(
                f'{where} has unknown category_id {r.get("category_id")!r}')
        if 'bbox' not in r or len(r['bbox']) != 4:
            raise PseudoLabelStoreError(f'{where} has no [x, y, w, h] bbox')
        has_masks = has_masks or 'segmentation' in r
        if r.get('score', 1.0) >= score_floor:
            per_image[r['image_id']].append(r)

    chunk_size = int((meta or {}).get('chunk_size', DEFAULT_IMPORT_CHUNK_SIZE))
    for c, start in enumerate(range(0, len(images), chunk_size)):
        records = []
        for im in images[start:start + chunk_size]:
            rs = per_image[im['id']]
            h, w = int(im['height']), int(im['width'])
            xywh = np.array([r['bbox'] for r in rs], np.float64).reshape(-1, 4)
            boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]],
                                   axis=1)
            masks = None
            if has_masks:
                masks = []
                for r in rs:
                    if 'segmentation' not in r:
                        raise PseudoLabelStoreError(
                            f'{results_file}: a result of image {im["id"]} '
                            'has no segmentation while others have')
                    masks.append(
                        _rle_counts(r['segmentation'], h, w,
                                    f'{results_file}: image {im["id"]}'))
            records.append({
                'path':
                im['file_name'],
                'image_id':
                int(im['id']),
                'height':
                h,
                'width':
                w,
                'boxes':
                boxes.astype(np.float32),
                'scores':
                np.array([r.get('score', 1.0) for r in rs], np.float32),
                'labels':
                np.array([label_of[r['category_id']] for r in rs], np.int64),
                'masks_rle':
                masks,
            })
        write_chunk(store_dir, c, start, records)
    if not images:
        write_chunk(store_dir, 0, 0, [])
    full_meta = {
        'classes': classes,
        'category_ids': cat_ids,
        'score_floor': float(score_floor),
        'teacher': {
            'config': '',
            'config_text': '',
            'checkpoint': '',
            'checkpoint_sha256': ''
        },
        'source': {
            'kind': 'coco',
            'path': osp.abspath(image_info_file),
            'results': osp.abspath(results_file)
        },
        'chunk_size': chunk_size,
        'created_by': IMPORT_CREATED_BY,
    }
    full_meta.update(meta or {})
    return finalize_store(store_dir, full_meta)
