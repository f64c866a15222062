"""Builds Tessera's real-photo fixtures from the scikit-image wheel's sample data.

photos/originals/NAME.jpg     the photos as JPEG (quality 92)
photos/collection/NAME_T.jpg  four transformed copies per photo: crop, scale, rotate, light
photos/queries/NAME.jpg       the untouched photo, the query that should find its copies
photos/train/NAME.jpg         other photos (textures, documents), disjoint from the above
photos/special/...            decoder cases: grayscale, CMYK, EXIF-rotated, progressive, tiny
"""
import io, os, sys, zipfile
from PIL import Image, ImageEnhance

wheel, out = sys.argv[1], sys.argv[2]
COLLECTION = ["astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field",
              "ihc", "retina", "camera", "coins", "moon", "page"]
TRAIN = ["brick", "grass", "gravel", "cell", "text", "horse", "motorcycle_right", "color", "logo",
         "microaneurysms", "clock_motion", "phantom"]

def load(z, name):
    for ext in (".png", ".jpg"):
        try:
            return Image.open(io.BytesIO(z.read(f"skimage/data/{name}{ext}"))).convert("RGB")
        except KeyError:
            pass
    raise SystemExit(f"make_fixtures: {name} not in {wheel}")

def fit(img, side):
    s = side / max(img.size)
    return img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.LANCZOS)

def save(img, path, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img.save(path, "JPEG", quality=kw.pop("quality", 92), **kw)

z = zipfile.ZipFile(wheel)
for name in COLLECTION:
    img = fit(load(z, name), 640)
    save(img, f"{out}/originals/{name}.jpg")
    save(img, f"{out}/queries/{name}.jpg")
    w, h = img.size
    save(img.crop((w // 8, h // 10, w - w // 10, h - h // 8)), f"{out}/collection/{name}_crop.jpg")
    save(fit(img, 448), f"{out}/collection/{name}_scale.jpg")
    save(img.rotate(5, resample=Image.BICUBIC, expand=False, fillcolor=(128, 128, 128)), f"{out}/collection/{name}_rotate.jpg")
    save(ImageEnhance.Brightness(img).enhance(1.35), f"{out}/collection/{name}_light.jpg")
for name in TRAIN:
    save(fit(load(z, name), 640), f"{out}/train/{name}.jpg")

cat = fit(load(z, "chelsea"), 451)
save(cat.convert("L"), f"{out}/special/gray.jpg")
save(cat.convert("CMYK"), f"{out}/special/cmyk.jpg")
save(cat, f"{out}/special/progressive.jpg", progressive=True)
save(fit(cat, 90), f"{out}/special/tiny.jpg")
# Pixels stored rotated 90° counter-clockwise with EXIF orientation 6 ("rotate 90 CW to view").
exif = Image.Exif(); exif[0x0112] = 6
save(cat.transpose(Image.ROTATE_90), f"{out}/special/exif6.jpg", exif=exif.tobytes())
save(cat, f"{out}/special/upright.jpg")
cat.save(f"{out}/special/not-a-jpeg.png", "PNG")
print(f"make_fixtures: wrote {out}")
