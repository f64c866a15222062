#!/usr/bin/env bash
# Builds one libFuzzer target (Fuzz/) with AddressSanitizer and runs it for SECONDS on a seed
# corpus it makes itself; a crash, hang or leak stops it with the input in Fuzz/findings/.
#   bash scripts/fuzz.sh TARGET [SECONDS]
# TARGET: jpeg, multipart, npy, groundtruth (a few sources compiled with the harness), or torch,
# vocabulary, whitening, index-records, query-parameters (linked against the package's modules,
# built once into .build/fuzz in debug mode, so Swift's bounds and overflow checks stay on).
# Prints libFuzzer's last status line (executions, coverage) for Bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
targets="jpeg, multipart, npy, groundtruth, torch, vocabulary, whitening, index-records or query-parameters"
target="${1:?$targets}"; seconds="${2:-300}"
cache="$(bash scripts/setup.sh | tail -1)"
work="${FUZZ_WORK:-/tmp/tessera-fuzz-$target}"
mkdir -p "$work/corpus" Fuzz/findings

# Builds the engine's modules with coverage and AddressSanitizer, then links harness $1 (and any
# further sources) against them into $work/fuzz.
link_with_modules() {
  swift build -c debug --build-path .build/fuzz --target TesseraEngine \
    -Xswiftc -O -Xswiftc -sanitize=fuzzer,address -Xcc -O1 -Xcc -fsanitize=fuzzer-no-link,address >&2
  local b=.build/fuzz/debug maps=() t
  for t in CJPEG CPostingScan COpenBLASCore CConvolution; do
    maps+=(-Xcc "-fmodule-map-file=$PWD/$b/$t.build/module.modulemap")
  done
  swiftc -g -sanitize=fuzzer,address -parse-as-library -I "$b/Modules" -I Sources/COpenBLAS -I Sources/CLMDB \
    "${maps[@]}" "$@" $b/{TesseraCore,Patches,Quantizer,Index,Fusion,GlobalDescriptors,Evaluation,TesseraEngine}.build/*.o \
    $b/{CJPEG,CPostingScan,COpenBLASCore,CConvolution}.build/*.o -lopenblas -ljpeg -llmdb -o "$work/fuzz" 2>&1 \
    | grep -v "Cannot export local symbol" || true
}

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
  torch)
    link_with_modules Fuzz/torch_fuzz.swift
    # Seeds: legacy files as torch.save writes them (five pickles, then the storages), from
    # Python's own pickle with stand-ins for torch's globals: strided views, offsets, a 0-d
    # int64 tensor.
    python3 - "$work/corpus" <<'PY'
import collections, io, pickle, struct, sys, types
out = sys.argv[1]
torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
sys.modules.update({"torch": torch, "torch._utils": utils})
class FloatStorage: pass
class LongStorage: pass
FloatStorage.__module__ = LongStorage.__module__ = "torch"
def _rebuild_tensor_v2(*args): pass
_rebuild_tensor_v2.__module__ = "torch._utils"
torch.FloatStorage, torch.LongStorage, torch._utils = FloatStorage, LongStorage, utils
utils._rebuild_tensor_v2 = _rebuild_tensor_v2
class Storage:
    def __init__(self, kind, key, values): self.kind, self.key, self.values = kind, key, values
class Tensor:
    def __init__(self, storage, offset, size, stride): self.args = (storage, offset, size, stride)
    def __reduce__(self): return (_rebuild_tensor_v2, self.args + (False, collections.OrderedDict()))
class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", obj.kind, obj.key, "cpu", len(obj.values)) if isinstance(obj, Storage) else None
def legacy(name, tensors, storages):
    f = io.BytesIO()
    for obj in (0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True},
                collections.OrderedDict(tensors), [s.key for s in storages]):
        Pickler(f, protocol=2).dump(obj)
    for s in storages:
        code = "f" if s.kind is FloatStorage else "q"
        f.write(struct.pack("<q", len(s.values)) + struct.pack(f"<{len(s.values)}{code}", *s.values))
    open(f"{out}/{name}.pth", "wb").write(f.getvalue())
a = Storage(FloatStorage, "0", [float(i) for i in range(12)])
b = Storage(FloatStorage, "1", [0.5, -1.5, 2.0])
n = Storage(LongStorage, "2", [7])
legacy("one", {"w": Tensor(a, 0, (3, 4), (4, 1))}, [a])
legacy("strided", {"conv.weight": Tensor(a, 0, (2, 3, 2), (1, 2, 6)), "bias": Tensor(b, 0, (3,), (1,)),
                   "view": Tensor(a, 2, (5,), (2,))}, [a, b])
legacy("long", {"num_batches_tracked": Tensor(n, 0, (), ()), "w": Tensor(b, 1, (2,), (1,))}, [b, n])
PY
    ;;
  vocabulary|whitening|index-records)
    link_with_modules "Fuzz/${target//-/_}_fuzz.swift"
    # Seeds: files of each kind that the harness writes itself from the engine's own code.
    TESSERA_FUZZ_SEEDS="$work/corpus" "$work/fuzz" >/dev/null 2>&1
    ;;
  query-parameters)
    link_with_modules Sources/TesseraServer/QueryParameters.swift Fuzz/query_parameters_fuzz.swift
    printf 'top=5&rerank=false&layers=head/max,logits/fc' >"$work/corpus/one"
    printf 'verify=true&verify_depth=50&qe=3&ma=2&whiten=off&global_only=0&rerank_global=100' >"$work/corpus/two"
    printf 'top=%%31%%30&layers=&verify=false&verify_depth=3&x=1&top=2' >"$work/corpus/three"
    ;;
  *) echo "unknown target $target ($targets)" >&2; exit 2 ;;
esac
"$work/fuzz" "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -artifact_prefix=Fuzz/findings/ -print_final_stats=1 2>&1 | grep -E "^#[0-9]+.*(DONE|cov)|stat::number_of_executed_units|ERROR|SUMMARY" | tail -4
