"""Serving a sharded index on Ray Serve.

One Serve application per shard (`shard-K`, route prefix `/shard-K`): each replica starts a
`tessera serve` on the shard's directory and forwards the shard API (`/v1/shard/*`) to it.
Its health check fails when that process has died or stops answering, and Serve then
replaces the replica (a new process). A coordinator application (route prefix `/`) runs
`tessera serve --shards` over a manifest whose shards are the Serve routes, so the shard
URLs stay valid across replica restarts, and forwards `POST /v1/query` (and the probes and
`/v1/shards`) to it: the same API as the single server, answered with the merged ranking and
its coverage.
"""
import asyncio
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ray import serve
from starlette.requests import Request
from starlette.responses import Response

from .cli import tessera_binary


class TesseraProcess:
    """A `tessera serve` child on a free loopback port."""

    def __init__(self, cli, *args):
        self.log = tempfile.NamedTemporaryFile(prefix="tessera-serve-", suffix=".log", delete=False)
        self.process = subprocess.Popen([cli, "serve", "--port", "0", *map(str, args)], stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, start_new_session=True)
        line = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=120)
        if not line or "http://" not in line[0]:
            self.process.kill()
            raise RuntimeError(f"tessera serve did not start: {line} {Path(self.log.name).read_text()}")
        self.url = line[0].strip().split()[-1]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _forward(url, method, body, headers, timeout):
    """One blocking HTTP exchange with the local tessera process: (status, content type, body)."""
    request = urllib.request.Request(url, data=body if method != "GET" else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", "application/json"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", "application/json"), e.read()
    except (urllib.error.URLError, OSError) as e:
        message = json.dumps({"error": {"status": 502, "message": f"the tessera process does not answer: {e}"}})
        return 502, "application/json", message.encode()


class _Forwarding:
    """Forwards a request under this application's route prefix to the tessera process."""
    prefix = ""
    timeout = 60

    async def __call__(self, request: Request) -> Response:
        path = request.url.path
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix):] or "/"
        url = self.tessera.url + path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
        body = await request.body()
        status, kind, data = await asyncio.to_thread(_forward, url, request.method, body, headers, self.timeout)
        return Response(content=data, status_code=status, media_type=kind)

    def check_health(self):
        """Serve calls this periodically; raising replaces the replica."""
        if not self.tessera.alive():
            raise RuntimeError("the tessera process exited")
        status, _, _ = _forward(self.tessera.url + "/healthz", "GET", None, {}, 5)
        if status != 200:
            raise RuntimeError(f"the tessera process answers /healthz with {status}")

    def pid(self) -> int:
        """The tessera child's process id (for tests that kill it)."""
        return self.tessera.process.pid

    def __del__(self):
        if hasattr(self, "tessera"):
            self.tessera.stop()


@serve.deployment(health_check_period_s=2, health_check_timeout_s=10, ray_actor_options={"num_cpus": 0})
class ShardServer(_Forwarding):
    def __init__(self, shard_dir: str, prefix: str, cli: str):
        self.prefix = prefix
        self.tessera = TesseraProcess(cli, "--index", shard_dir, "--read-only")


@serve.deployment(health_check_period_s=2, health_check_timeout_s=10, ray_actor_options={"num_cpus": 0})
class Coordinator(_Forwarding):
    def __init__(self, manifest: str, cli: str, deadline_ms: int):
        self.tessera = TesseraProcess(cli, "--shards", manifest, "--deadline-ms", deadline_ms)


def deploy(manifest, replicas: int = 1, cli=None, http_port: int = 8000, deadline_ms: int = 5000,
           work_dir=None) -> str:
    """Deploys the sharded index of `manifest` on Ray Serve (connect with `ray.init` first):
    `replicas` replicas per shard and one coordinator. Returns the coordinator's base URL."""
    cli = tessera_binary(cli)
    manifest = Path(manifest).resolve()
    m = json.loads(manifest.read_text())
    serve.start(http_options={"host": "127.0.0.1", "port": http_port})
    base = f"http://127.0.0.1:{http_port}"
    for k, shard in enumerate(m["shards"]):
        if "path" not in shard:
            raise ValueError(f"shard {k} of {manifest} is not a directory")
        directory = shard["path"] if shard["path"].startswith("/") else str(manifest.parent / shard["path"])
        prefix = f"/shard-{k}"
        app = ShardServer.options(name=f"shard-{k}", num_replicas=replicas).bind(directory, prefix, cli)
        serve.run(app, name=f"shard-{k}", route_prefix=prefix, blocking=False)
    remote = dict(m)
    remote["vocabulary"] = m["vocabulary"] if m["vocabulary"].startswith("/") else str(manifest.parent / m["vocabulary"])
    remote["shards"] = [{"url": f"{base}/shard-{k}", "images": s["images"]} for k, s in enumerate(m["shards"])]
    work = Path(work_dir or tempfile.mkdtemp(prefix="tessera-ray-"))
    served = work / "served-shards.json"
    served.write_text(json.dumps(remote, indent=1))
    serve.run(Coordinator.bind(str(served), cli, deadline_ms), name="coordinator", route_prefix="/",
              blocking=False)
    _wait_ready(base, timeout=180)
    return base


def _wait_ready(base, timeout):
    """Waits until the coordinator's /readyz answers 200 (every shard answers)."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        status, _, body = _forward(base + "/readyz", "GET", None, {}, 5)
        if status == 200:
            return
        last = (status, body[:200])
        time.sleep(1)
    raise TimeoutError(f"the sharded index did not become ready at {base}: {last}")
