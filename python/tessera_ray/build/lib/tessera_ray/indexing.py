"""Distributed indexing on Ray Core.

Each chunk of images is one task: `tessera index add` into a fresh part index in the task's
scratch directory (the CNN pass, the expensive part, runs wherever Ray puts the task), then
the part's two files go back through the object store. A task that dies is retried
(`max_retries`); that is safe because adding is idempotent and a killed add leaves whole
images, and the retry starts a part of its own. Then one merge task per shard, pinned to the
node that holds the shards (LMDB must be on a local disk), unpacks the parts and runs
`tessera shards merge --shard K`, which moves only the images routed to shard K and skips
the ones already there. The manifest's counts are rewritten last (`tessera shards refresh`),
so a reader never sees a manifest that names more than the shards hold.
"""
import io
import json
import os
import signal
import tarfile
import tempfile
import time
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .cli import run, tessera_binary

JPEG = {".jpg", ".jpeg", ".jpe", ".jfif"}


def collect(paths):
    """JPEG files under `paths` (folders walked recursively), absolute, sorted per folder."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(str(f.resolve()) for f in p.rglob("*") if f.suffix.lower() in JPEG and f.is_file())
        else:
            out.append(str(p.resolve()))
    return out


def _pack(directory: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("data.mdb", "vocabulary.path"):
            tar.add(directory / name, arcname=name)
    return buf.getvalue()


def _maybe_die(chunk: int):
    """Test hook: with $TESSERA_RAY_KILL_CHUNK = chunk and $TESSERA_RAY_KILL_MARK a file path
    that does not exist yet, the first attempt at that chunk creates the file and SIGKILLs its
    own worker process mid-task (after the add has begun)."""
    mark = os.environ.get("TESSERA_RAY_KILL_MARK")
    if os.environ.get("TESSERA_RAY_KILL_CHUNK") == str(chunk) and mark and not Path(mark).exists():
        Path(mark).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)


@ray.remote(max_retries=3)
def index_chunk(chunk: int, paths, vocab: str, cli: str):
    """`tessera index add` of `paths` into a new part; returns (chunk, added, failed, part bytes)."""
    with tempfile.TemporaryDirectory(prefix=f"tessera-part-{chunk}-") as scratch:
        part = Path(scratch) / "part"
        first, rest = paths[:1], paths[1:]
        run(cli, "index", "add", "--index", part, "--vocab", vocab, *first, check=False)
        _maybe_die(chunk)
        r = run(cli, "index", "add", "--index", part, "--vocab", vocab, *rest, check=False) if rest else None
        if r is not None and r.returncode not in (0, 1):
            raise RuntimeError(f"tessera index add failed: {r.stderr.strip()}")
        failed = [line.strip() for line in (r.stdout if r else "").splitlines() if line.strip().startswith("failed:")]
        return chunk, len(paths) - len(failed), failed, _pack(part)


@ray.remote(max_retries=3)
def merge_shard(shard: int, manifest: str, cli: str, *parts):
    """Unpacks the parts and runs `tessera shards merge --shard K`; returns its summary line."""
    with tempfile.TemporaryDirectory(prefix=f"tessera-merge-{shard}-") as scratch:
        dirs = []
        for i, blob in enumerate(parts):
            d = Path(scratch) / f"part-{i}"
            d.mkdir()
            with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
                tar.extractall(d, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(d)
            dirs.append(d)
        r = run(cli, "shards", "merge", "--manifest", manifest, "--shard", shard, *dirs, check=False)
        if r.returncode not in (0, 1):
            raise RuntimeError(f"tessera shards merge --shard {shard} failed: {r.stderr.strip()}")
        return r.stdout.strip()


def build_index(images, out, shards: int, vocab, chunk_size: int = 64, cli=None, create=True):
    """Indexes `images` (files or folders) into a sharded index at `out` on the connected Ray
    cluster (call `ray.init` first). Creates the shards when `create` and `out/shards.json` is
    absent. Returns a report: images, chunks, failures, the merge lines, seconds."""
    cli = tessera_binary(cli)
    out = Path(out).resolve()
    manifest = out / "shards.json"
    vocab = str(Path(vocab).resolve())
    if create and not manifest.exists():
        run(cli, "shards", "create", "--dir", out, "--shards", shards, "--vocab", vocab)
    start = time.time()
    files = collect(images)
    chunks = [files[i:i + chunk_size] for i in range(0, len(files), chunk_size)]
    results = ray.get([index_chunk.remote(i, c, vocab, cli) for i, c in enumerate(chunks)])
    parts = [ray.put(blob) for _, _, _, blob in results]
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    count = len(json.loads(manifest.read_text())["shards"])
    merged = ray.get([merge_shard.options(scheduling_strategy=here).remote(k, str(manifest), cli, *parts)
                      for k in range(count)])
    refreshed = run(cli, "shards", "refresh", "--manifest", manifest).stdout.strip()
    return {"images": len(files), "chunks": len(chunks), "failed": [f for _, _, fs, _ in results for f in fs],
            "merges": merged, "manifest": refreshed, "seconds": time.time() - start}
