"""`tessera-ray index|serve` (also `python -m tessera_ray`)."""
import argparse
import json
import signal
import threading

import ray

from .indexing import build_index
from .serving import deploy


def main(argv=None):
    p = argparse.ArgumentParser(prog="tessera-ray", description=__doc__)
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local one)")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("index", help="index images into a sharded index on the cluster")
    i.add_argument("--out", required=True, help="directory of the sharded index (shards.json, shard-NN)")
    i.add_argument("--shards", type=int, required=True)
    i.add_argument("--vocab", required=True)
    i.add_argument("--chunk", type=int, default=64, help="images per indexing task")
    i.add_argument("--cli", help="the tessera binary (default: $TESSERA_CLI, else on the PATH)")
    i.add_argument("images", nargs="+")
    s = sub.add_parser("serve", help="serve a sharded index on Ray Serve until interrupted")
    s.add_argument("--manifest", required=True)
    s.add_argument("--replicas", type=int, default=1, help="replicas per shard")
    s.add_argument("--port", type=int, default=8000, help="Serve's HTTP port (127.0.0.1)")
    s.add_argument("--deadline-ms", type=int, default=5000)
    s.add_argument("--cli")
    a = p.parse_args(argv)
    ray.init(address=a.address, include_dashboard=False)
    if a.command == "index":
        print(json.dumps(build_index(a.images, a.out, a.shards, a.vocab, chunk_size=a.chunk, cli=a.cli), indent=1))
    else:
        url = deploy(a.manifest, replicas=a.replicas, cli=a.cli, http_port=a.port, deadline_ms=a.deadline_ms)
        print(f"tessera-ray: serving {a.manifest} at {url} (POST {url}/v1/query)", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
