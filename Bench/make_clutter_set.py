#!/usr/bin/env python3
"""Seeded generator of a synthetic "objects in clutter" development benchmark (numpy + Pillow only).

Each reference is a clean crop of a source photo (the database). Each query is a different, cluttered photo with a
reference pasted into it small, perspective-warped and rotated, then relit, blurred, noised and JPEG-compressed.
Queries are not in the database; reference and background photos are disjoint sets of source photos.

Run:  ~/.cache/tessera/venv/bin/python Bench/make_clutter_set.py --source ../shared/data/train --out /tmp/clutter \\
          [--references 200] [--queries-per-reference 1] [--seed 0]
Writes OUT/references/ref_00000.jpg ..., OUT/queries/q_00000_0.jpg ... (reference index, query index),
OUT/ground_truth.tsv (query<TAB>reference) and OUT/sources.tsv (source photos and sampled parameters per image).
Same source file list, file contents and arguments give byte-identical output. Reference i depends only on
(seed, i), so changing --queries-per-reference leaves the references unchanged. --out must not already hold images.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

REF_SIDE = 480            # longer side of a reference image
FRAME = (640, 480)        # query size (landscape 4:3)
CROP_FRACTION = (0.5, 0.8)
CORNER_JITTER = 0.18      # max corner move, as a fraction of the side
MAX_ROTATION = 15.0       # degrees
OBJECT_FRACTION = (0.25, 0.7)  # warped object's longer side / frame's longer side
MIN_SIDE = 64             # smaller photos are not usable


def load_rgb(path):
    """Decode a photo as upright RGB, or return None (with a message on stderr) if it is unreadable or tiny."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
    except Exception as e:  # noqa: BLE001 - any decoder failure means "skip"
        print(f"skipping unreadable image {path}: {e}", file=sys.stderr)
        return None
    if min(im.size) < MIN_SIDE:
        print(f"skipping tiny image {path} ({im.size[0]}x{im.size[1]})", file=sys.stderr)
        return None
    return im


def select_sources(source, n_refs, n_backgrounds, rng):
    """Shuffle the sorted photo list; the first n_refs usable photos are references, the next ones backgrounds."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg"))
    refs, backgrounds = [], []
    for k in rng.permutation(len(files)):
        if len(backgrounds) == n_backgrounds:
            break
        if load_rgb(files[k]) is not None:
            (refs if len(refs) < n_refs else backgrounds).append(files[k])
    if len(refs) + len(backgrounds) < 2 * n_refs:
        sys.exit(f"error: {source} has {len(refs) + len(backgrounds)} usable JPEG photos, "
                 f"need at least {2 * n_refs} (--references {n_refs} plus as many backgrounds)")
    return refs, backgrounds


def make_reference(photo, rng):
    """Random crop covering 50-80% of each side, resized so the longer side is REF_SIDE. Returns (image, crop box)."""
    w, h = photo.size
    cw, ch = (int(round(s * rng.uniform(*CROP_FRACTION))) for s in (w, h))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    s = REF_SIDE / max(cw, ch)
    size = (max(1, round(cw * s)), max(1, round(ch * s)))
    return photo.crop((x0, y0, x0 + cw, y0 + ch)).resize(size, Image.LANCZOS), (x0, y0, cw, ch)


def background_frame(photo):
    """Center-crop to the frame's 4:3 aspect ratio, then resize to FRAME."""
    return ImageOps.fit(photo, FRAME, Image.LANCZOS, centering=(0.5, 0.5))


def homography(src, dst):
    """8 PIL PERSPECTIVE coefficients mapping each dst point (output pixel) to its src point (input pixel)."""
    a, b = [], []
    for (u, v), (x, y) in zip(src, dst):
        a.append([x, y, 1, 0, 0, 0, -x * u, -y * u])
        a.append([0, 0, 0, x, y, 1, -x * v, -y * v])
        b += [u, v]
    return np.linalg.solve(np.array(a, float), np.array(b, float))


def warped_corners(w, h, rng):
    """Corners of a w x h image jittered by up to CORNER_JITTER of the side, rotated, centered on the origin."""
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], float) / 2
    corners += rng.uniform(-CORNER_JITTER, CORNER_JITTER, (4, 2)) * [w, h]
    angle = rng.uniform(-MAX_ROTATION, MAX_ROTATION)
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    return corners @ np.array([[c, s], [-s, c]]), angle


def paste_object(frame, ref, rng):
    """Warp ref, scale it to a random fraction of the frame and alpha-composite it fully inside the frame."""
    dst, angle = warped_corners(*ref.size, rng)
    fraction = rng.uniform(*OBJECT_FRACTION)
    extent = dst.max(0) - dst.min(0)
    scale = fraction * max(FRAME) / extent.max()
    dst = (dst - dst.min(0)) * scale
    box = extent * scale
    dst += [rng.uniform(0, FRAME[0] - box[0]), rng.uniform(0, FRAME[1] - box[1])]
    # Downscale with Lanczos first so the (non-antialiased) perspective transform only does the remaining warp.
    small = ref.resize((max(1, round(ref.size[0] * scale)), max(1, round(ref.size[1] * scale))), Image.LANCZOS)
    sw, sh = small.size
    coeffs = homography([(0, 0), (sw, 0), (sw, sh), (0, sh)], dst)
    obj = small.transform(FRAME, Image.PERSPECTIVE, coeffs, Image.BICUBIC)
    mask = Image.new("L", small.size, 255).transform(FRAME, Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    mask = mask.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.GaussianBlur(0.7))  # no dark fringe, soft edge
    return Image.composite(obj, frame, mask), {"scale": fraction, "rotation": angle}


def degrade(img, rng):
    """Lighting change, optional colour cast, Gaussian blur and optional pixel noise; returns (image, parameters)."""
    brightness, contrast = rng.uniform(0.7, 1.3), rng.uniform(0.8, 1.2)
    cast = 1 + rng.uniform(-0.04, 0.04, 3) if rng.random() < 0.5 else np.ones(3)
    blur = rng.uniform(0, 1.5)
    noise = rng.uniform(0, 3) if rng.random() < 0.5 else 0.0
    x = np.asarray(img, np.float64)
    x = ((x - x.mean()) * contrast + x.mean()) * brightness * cast
    img = Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur))
    if noise > 0:
        x = np.asarray(img, np.float64) + rng.normal(0, noise, (FRAME[1], FRAME[0], 3))
        img = Image.fromarray(np.clip(np.rint(x), 0, 255).astype(np.uint8))
    return img, {"brightness": brightness, "contrast": contrast, "cast": cast, "blur": blur, "noise": noise}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, type=Path, help="folder of JPEG photos (searched recursively)")
    ap.add_argument("--out", required=True, type=Path, help="output folder (must not already hold images)")
    ap.add_argument("--references", type=int, default=200)
    ap.add_argument("--queries-per-reference", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    n, q = a.references, a.queries_per_reference
    if n < 1 or q < 1 or a.seed < 0:
        sys.exit("error: --references and --queries-per-reference must be >= 1, --seed >= 0")
    if not a.source.is_dir():
        sys.exit(f"error: --source {a.source} is not a folder")
    ref_dir, query_dir = a.out / "references", a.out / "queries"
    if any(d.is_dir() and any(d.iterdir()) for d in (ref_dir, query_dir)):
        sys.exit(f"error: {a.out} already holds generated images; choose a new or empty --out")
    ref_dir.mkdir(parents=True, exist_ok=True)
    query_dir.mkdir(parents=True, exist_ok=True)

    # One distinct background per query while the source lasts (at least n); cycled if there are fewer.
    refs, backgrounds = select_sources(a.source, n, n * q, np.random.default_rng(a.seed))
    rel = lambda p: p.relative_to(a.source).as_posix()  # noqa: E731
    truth = [f"# generator: Bench/make_clutter_set.py  seed: {a.seed}  source: {a.source}  "
             f"references: {n}  queries: {n * q}", "# query\treference"]
    rows = ["file\tkind\tsource\tbackground\tcrop_xywh\tscale_of_frame\trotation_deg\tbrightness\tcontrast\tcast_rgb\t"
            "blur\tnoise\tquality"]
    for i, ref_path in enumerate(refs):
        ref, crop = make_reference(load_rgb(ref_path), np.random.default_rng([a.seed, 1, i]))
        ref_name = f"ref_{i:05d}.jpg"
        ref.save(ref_dir / ref_name, "JPEG", quality=92)
        rows.append(f"{ref_name}\treference\t{rel(ref_path)}\t-\t{','.join(map(str, crop))}" + "\t-" * 8)
        for j in range(q):
            rng = np.random.default_rng([a.seed, 2, i, j])
            bg_path = backgrounds[(i * q + j) % len(backgrounds)]
            img, p = paste_object(background_frame(load_rgb(bg_path)), ref, rng)
            img, d = degrade(img, rng)
            quality = int(rng.integers(40, 86))
            name = f"q_{i:05d}_{j}.jpg"
            img.save(query_dir / name, "JPEG", quality=quality)
            truth.append(f"{name}\t{ref_name}")
            cast = ",".join(f"{c:.3f}" for c in d["cast"])
            rows.append(f"{name}\tquery\t{rel(ref_path)}\t{rel(bg_path)}\t-\t{p['scale']:.3f}\t{p['rotation']:.2f}\t"
                        f"{d['brightness']:.3f}\t{d['contrast']:.3f}\t{cast}\t{d['blur']:.3f}\t{d['noise']:.3f}\t"
                        f"{quality}")
    (a.out / "ground_truth.tsv").write_text("\n".join(truth) + "\n")
    (a.out / "sources.tsv").write_text("\n".join(rows) + "\n")
    print(f"wrote {n} references, {n * q} queries ({len(backgrounds)} background photos) to {a.out}")


if __name__ == "__main__":
    main()
