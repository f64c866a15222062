"""Tessera's sharded index on Ray.

- `build_index` (Ray Core): one task per chunk of images runs `tessera index add` into a part
  index and hands the part back through the object store; then one task per shard runs
  `tessera shards merge --shard K` on the node that holds the shards; the manifest is
  rewritten last (`tessera shards refresh`).
- `deploy` (Ray Serve): one deployment per shard whose replicas each run `tessera serve` on
  the shard, health-checked, and a coordinator deployment running `tessera serve --shards`
  over them, exposing the single server's `POST /v1/query`.

The `tessera` binary does all the work; this package only schedules it.
"""
from .indexing import build_index
from .serving import deploy

__all__ = ["build_index", "deploy"]
