"""Tessera on a real local Ray cluster (loopback only): distributed indexing with a worker
SIGKILLed mid-task, and serving on Ray Serve with a shard's process killed. Needs the CLI
built (.build/release/tessera) and the setup's photos; scripts/test.sh runs it.

    TESSERA_CLI=.build/release/tessera python -m unittest discover -s python/tessera_ray/tests -v
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray  # noqa: E402
from ray import serve  # noqa: E402

import tessera_ray  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
CLI = Path(os.environ.get("TESSERA_CLI", ROOT / ".build" / "release" / "tessera"))
CACHE = Path(os.environ.get("TESSERA_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
             / "tessera")
PHOTOS = CACHE / "photos"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args):
    return subprocess.run([str(CLI), *map(str, args)], check=True, capture_output=True, text=True).stdout


def query_http(base, image, top=10):
    req = urllib.request.Request(f"{base}/v1/query?top={top}", data=Path(image).read_bytes(), method="POST",
                                 headers={"Content-Type": "image/jpeg"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


class RayTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CLI.exists() or not (PHOTOS / ".complete").exists():
            raise unittest.SkipTest("build the CLI and run scripts/setup.sh first (scripts/test.sh does)")
        cls.tmp = Path(tempfile.mkdtemp(prefix="tessera-ray-test-"))
        cli("demo", "--out", cls.tmp / "demo")  # a small vocabulary and one index of the collection
        cls.vocab = cls.tmp / "demo" / "demo.vocab"
        cls.single = cls.tmp / "demo" / "index"
        os.environ["TESSERA_RAY_KILL_CHUNK"] = "1"
        os.environ["TESSERA_RAY_KILL_MARK"] = str(cls.tmp / "killed")
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 << 20,
                 _node_ip_address="127.0.0.1", runtime_env={"env_vars": {
                     "TESSERA_RAY_KILL_CHUNK": "1", "TESSERA_RAY_KILL_MARK": str(cls.tmp / "killed"),
                     "RAY_USAGE_STATS_ENABLED": "0"}})
        start = time.time()
        cls.report = tessera_ray.build_index([PHOTOS / "collection"], cls.tmp / "sharded", 3, cls.vocab,
                                             chunk_size=12, cli=str(CLI))
        cls.index_seconds = time.time() - start
        cls.manifest = cls.tmp / "sharded" / "shards.json"

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "tmp"):
            try:
                serve.shutdown()
            finally:
                ray.shutdown()
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_indexing_survives_a_killed_worker_and_loses_nothing(self):
        self.assertTrue((self.tmp / "killed").exists(), "the kill hook did not fire: the test tests nothing")
        self.assertEqual(self.report["images"], 48)
        self.assertEqual(self.report["chunks"], 4)
        m = json.loads(self.manifest.read_text())
        self.assertEqual(sum(s["images"] for s in m["shards"]), 48)  # nothing lost, nothing twice
        self.assertTrue(all(s["images"] > 0 for s in m["shards"]))
        listed = [line.split("\t")[-1] for k in range(3)
                  for line in cli("index", "list", "--index", self.tmp / "sharded" / f"shard-0{k}").splitlines()
                  if line.strip()]
        self.assertEqual(len(set(listed)), 48)
        print(f"\n  indexed 48 images in 4 tasks (one killed, retried) + 3 merges: {self.index_seconds:.1f} s")

    def test_2_serve_equals_one_index_and_recovers_from_a_killed_shard(self):
        base = tessera_ray.deploy(self.manifest, replicas=1, cli=str(CLI), http_port=free_port(), deadline_ms=10000,
                                  work_dir=self.tmp)
        queries = sorted(str(p) for p in (PHOTOS / "queries").glob("*.jpg"))[:3]
        for q in queries:
            want = json.loads(cli("query", "--index", self.single, "--json", "--top", "10", q))[0]
            got = query_http(base, q)
            self.assertEqual([r["path"] for r in got["results"]], [r["path"] for r in want["results"]])
            for a, b in zip(got["results"], want["results"]):
                self.assertAlmostEqual(a["score"], b["score"], places=5)
            self.assertFalse(got["coverage"]["partial"])
        # Kill shard 1's tessera process: answers are partial until Serve replaces the replica.
        pid = serve.get_app_handle("shard-1").pid.remote().result()
        os.kill(pid, signal.SIGKILL)
        partial = query_http(base, queries[0])
        self.assertTrue(partial["coverage"]["partial"])
        self.assertEqual(partial["coverage"]["failed"], 1)
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(2)
            back = query_http(base, queries[0])
            if not back["coverage"]["partial"]:
                break
        else:
            self.fail("the killed shard never came back")
        self.assertNotEqual(serve.get_app_handle("shard-1").pid.remote().result(), pid)
        want = json.loads(cli("query", "--index", self.single, "--json", "--top", "10", queries[0]))[0]
        self.assertEqual([r["path"] for r in back["results"]], [r["path"] for r in want["results"]])


if __name__ == "__main__":
    unittest.main()
