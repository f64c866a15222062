#!/usr/bin/env bash
# Builds one libFuzzer target (Fuzz/) with AddressSanitizer and runs it for SECONDS on a seed
# corpus it makes itself; a crash, hang or leak stops it with the input in Fuzz/findings/.
#   bash scripts/fuzz.sh jpeg|multipart|npy|groundtruth [SECONDS]
# Prints libFuzzer's last status line (executions, coverage) for Bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${1:?jpeg, multipart, npy or groundtruth}"; seconds="${2:-300}"
cache="$(bash scripts/setup.sh | tail -1)"
work="${FUZZ_WORK:-/tmp/tessera-fuzz-$target}"
mkdir -p "$work/corpus" Fuzz/findings
case "$target" in
  jpeg)
    clang -O1 -g -fsanitize=fuzzer,address -ISources/CJPEG/include Fuzz/jpeg_fuzz.c Sources/CJPEG/tessera_jpeg.c \
      -ljpeg -o "$work/fuzz"
    # Seeds: small JPEGs of every kind the decoder branches on (gray, RGB, CMYK, progressive,
    # restart markers, each EXIF orientation), made with Pillow in the setup's venv.
    "$cache/venv/bin/python" - "$work/corpus" <<'PY'
import io, sys
from PIL import Image
out = sys.argv[1]
base = Image.new("RGB", (37, 23))
for x in range(37):
    for y in range(23):
        base.putpixel((x, y), (x * 7 % 256, y * 11 % 256, (x * y) % 256))
seeds = {"rgb": (base, {}), "gray": (base.convert("L"), {}), "cmyk": (base.convert("CMYK"), {}),
         "progressive": (base, {"progressive": True}), "restart": (base, {"restart_marker_blocks": 1}),
         "q5": (base, {"quality": 5}), "subsample": (base, {"subsampling": 2})}
for o in range(1, 9):
    exif = Image.Exif(); exif[0x0112] = o
    seeds[f"orient{o}"] = (base, {"exif": exif.tobytes()})
for name, (im, kw) in seeds.items():
    im.save(f"{out}/{name}.jpg", "JPEG", **kw)
PY
    ;;
  multipart)
    src=Sources/TesseraServer/MultipartForm.swift
    swiftc -O -sanitize=fuzzer,address -parse-as-library "$src" Fuzz/multipart_fuzz.swift -o "$work/fuzz" 2>&1 \
      | grep -v "Cannot export local symbol" || true
    printf 'multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xd9\r\n--XyZ--\r\n' \
      >"$work/corpus/one"
    printf 'multipart/form-data; boundary="q q"\npreamble\r\n--q q\r\n\r\n\r\n--q q \r\nContent-Disposition: form-data; name=top\r\n\r\n5\r\n--q q--' \
      >"$work/corpus/two"
    ;;
  npy)
    swiftc -O -sanitize=fuzzer,address -parse-as-library Sources/TesseraCore/NpyFile.swift \
      Sources/TesseraCore/MappedFile.swift Sources/TesseraCore/Matrix.swift Fuzz/npy_fuzz.swift -o "$work/fuzz" 2>&1 \
      | grep -v "Cannot export local symbol" || true
    # Seeds: arrays NumPy writes (versions 1 and 2; 0-d, 1-d, 2-d, empty), from the setup's venv.
    "$cache/venv/bin/python" - "$work/corpus" <<'PY'
import sys
import numpy as np
from numpy.lib import format as npformat
out = sys.argv[1]
arrays = {"scalar": np.float32(1.5), "row": np.arange(5, dtype="<f4"), "empty": np.zeros((0, 3), "<f4"),
          "matrix": np.arange(12, dtype="<f4").reshape(3, 4)}
for name, a in arrays.items():
    for version in ((1, 0), (2, 0)):
        with open(f"{out}/{name}-v{version[0]}.npy", "wb") as f:
            npformat.write_array(f, np.asarray(a), version=version)
PY
    ;;
  groundtruth)
    swiftc -O -sanitize=fuzzer,address -parse-as-library Sources/Evaluation/GroundTruth.swift \
      Fuzz/groundtruth_fuzz.swift -o "$work/fuzz" 2>&1 | grep -v "Cannot export local symbol" || true
    printf '# query<TAB>relevant...\nq/a.jpg\tr/a1.jpg\tr/a2.jpg\nq/b.jpg\n\r\nq/c.jpg\tr/c.jpg\r\n' >"$work/corpus/one"
    printf 'x\ty\n\t\n' >"$work/corpus/two"
    ;;
  *) echo "unknown target $target (jpeg, multipart, npy, groundtruth)" >&2; exit 2 ;;
esac
"$work/fuzz" "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -artifact_prefix=Fuzz/findings/ -print_final_stats=1 2>&1 | grep -E "^#[0-9]+.*(DONE|cov)|stat::number_of_executed_units|ERROR|SUMMARY" | tail -4
