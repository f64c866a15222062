"""Indexing throughput on Ray against one `tessera index add`, in the same run.

    $cache/venv-ray/bin/python Bench/ray_index.py VOCAB IMAGES_DIR [CHUNK]

Indexes IMAGES_DIR three ways into fresh directories: `tessera index add` (one process, both
cores), then `tessera_ray.build_index` into 4 shards on a local Ray cluster with 1 and with 2
worker slots (`num_cpus`), chunks of CHUNK images (default 50). Prints a markdown table of
seconds and images/s, and the ratio to the single process.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "tessera_ray"))
import ray  # noqa: E402

import tessera_ray  # noqa: E402
from tessera_ray.indexing import collect  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLI = os.environ.get("TESSERA_CLI", str(ROOT / ".build" / "release" / "tessera"))


def main():
    vocab, images = sys.argv[1], sys.argv[2]
    chunk = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    n = len(collect([images]))
    work = Path(tempfile.mkdtemp(prefix="tessera-ray-bench-"))
    rows = []
    try:
        t = time.time()
        subprocess.run([CLI, "index", "add", "--index", str(work / "single"), "--vocab", vocab, images],
                       check=True, capture_output=True)
        base = time.time() - t
        rows.append(("`tessera index add` (one process)", base))
        for slots in (1, 2):
            ray.init(num_cpus=slots, include_dashboard=False, _node_ip_address="127.0.0.1",
                     object_store_memory=500 << 20)
            t = time.time()
            r = tessera_ray.build_index([images], work / f"ray{slots}", 4, vocab, chunk_size=chunk, cli=CLI)
            rows.append((f"Ray, {slots} worker slot{'s' if slots > 1 else ''}, {r['chunks']} tasks + 4 merges",
                         time.time() - t))
            ray.shutdown()
        print(f"{n} images, chunks of {chunk}\n")
        print("| indexing | seconds | images/s | vs one process |")
        print("|---|---|---|---|")
        for name, s in rows:
            print(f"| {name} | {s:.1f} | {n / s:.2f} | {base / s:.2f}× |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
