"""End to end: a sharded index built and searched with the CLI, its shards opened in-process
and served by real `tessera serve` processes on loopback; the merged rankings against one
index of the same images, a killed shard (partial answers, then recovery) and a shard of
another identity. scripts/test.sh runs it after the Swift tests.
"""
import json
import shutil
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

from test_server import CLI, PHOTOS, Server

FLAGS = [["--top", "10"], ["--top", "6", "--no-rerank"], ["--top", "8", "--verify", "--verify-depth", "20"],
         ["--top", "5", "--global-only"], ["--top", "7", "--rerank-global", "10"]]


def cli(*args, check=True):
    return subprocess.run([str(CLI), *map(str, args)], check=check, capture_output=True, text=True)


def query(source, image, *flags, check=True):
    r = cli("query", *source, "--json", *flags, image, check=check)
    return r, (json.loads(r.stdout)[0] if r.returncode in (0, 3) and r.stdout.strip() else None)


class ShardTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CLI.exists() or not (PHOTOS / ".complete").exists():
            raise unittest.SkipTest("build the CLI and run scripts/setup.sh first (scripts/test.sh does)")
        cls.tmp = Path(tempfile.mkdtemp(prefix="tessera-shards-"))
        cli("demo", "--out", cls.tmp / "demo")
        cls.single = ["--index", cls.tmp / "demo" / "index"]
        cls.vocab = cls.tmp / "demo" / "demo.vocab"
        cls.dir = cls.tmp / "sharded"
        cli("shards", "create", "--dir", cls.dir, "--shards", "3", "--vocab", cls.vocab)
        cls.manifest = cls.dir / "shards.json"
        out = cli("shards", "add", "--manifest", cls.manifest, PHOTOS / "collection").stdout
        assert "added 48," in out, out
        cls.queries = sorted(str(p) for p in (PHOTOS / "queries").glob("*.jpg"))[:3]
        cls.servers = [Server(cls.dir / f"shard-0{i}", token=False) for i in range(3)]
        remote = json.loads(cls.manifest.read_text())
        for shard, server in zip(remote["shards"], cls.servers):
            del shard["path"]
            shard["url"] = server.url
        cls.remote = cls.tmp / "remote.json"
        cls.remote.write_text(json.dumps(remote))
        # The coordinator behind HTTP, over the shard servers.
        cls.coordinator = Server(cls.remote, "--deadline-ms", "20000", token=False, manifest=True)

    @classmethod
    def tearDownClass(cls):
        for s in getattr(cls, "servers", []) + ([cls.coordinator] if hasattr(cls, "coordinator") else []):
            s.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_same(self, got, want, what):
        self.assertEqual([r["path"] for r in got["results"]], [r["path"] for r in want["results"]], what)
        for a, b in zip(got["results"], want["results"]):
            self.assertAlmostEqual(a["score"], b["score"], places=5, msg=what)
        self.assertFalse(got["coverage"]["partial"], what)

    def test_local_and_served_shards_rank_as_one_index(self):
        seen = set()
        for flags in FLAGS:
            for q in self.queries:
                _, want = query(self.single, q, *flags)
                _, local = query(["--shards", self.manifest], q, *flags)
                _, served = query(["--shards", self.remote], q, *flags)
                self.assert_same(local, want, f"in-process {flags} {q}")
                self.assert_same(served, want, f"over HTTP {flags} {q}")
                seen |= {r["shard"] for r in served["results"]}
        self.assertEqual(seen, {0, 1, 2})
        # The coordinator server answers as the CLI does, through the Python client.
        c = self.coordinator.client(token=None)
        for q in self.queries:
            _, want = query(self.single, q, "--top", "8")
            got = c.query(q, top=8)
            self.assertEqual([h.path for h in got.results], [r["path"] for r in want["results"]])
            for h, r in zip(got.results, want["results"]):
                self.assertAlmostEqual(h.score, r["score"], places=5)
            self.assertEqual((got.coverage.asked, got.coverage.answered, got.coverage.partial), (3, 3, False))
            self.assertIn(got.results[0].shard, (0, 1, 2))

    def test_a_killed_shard_gives_partial_answers_then_recovers(self):
        q = self.queries[0]
        server = self.servers[1]
        port = server.port
        server.stop(sig=signal.SIGKILL)
        try:
            r, _ = query(["--shards", self.remote], q, check=False)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("partial results: 2 of 3 shards answered (1 failed", r.stderr)
            r, partial = query(["--shards", self.remote, "--allow-partial"], q)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(partial["coverage"]["failed"], 1)
            self.assertTrue(partial["results"])
            self.assertNotIn(1, {x["shard"] for x in partial["results"]})
            served = self.coordinator.client(token=None).query(q)
            self.assertEqual((served.coverage.failed, served.coverage.partial), (1, True))
            self.assertEqual([h.path for h in served.results], [x["path"] for x in partial["results"]])
        finally:
            self.servers[1] = Server(self.dir / "shard-01", "--port", str(port), token=False)
        _, back = query(["--shards", self.remote], q)
        _, want = query(self.single, q)
        self.assert_same(back, want, "after the restart")

    def test_a_shard_of_another_identity_is_refused(self):
        other = json.loads(self.manifest.read_text())
        other["identity"]["whiteningSHA256"] = "0" * 64
        path = self.tmp / "other.json"
        for i in range(3):
            other["shards"][i]["path"] = str(self.dir / f"shard-0{i}")
        path.write_text(json.dumps(other))
        r, _ = query(["--shards", path], self.queries[0], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is not part of this index: whitening", r.stderr)

    def test_stats_and_a_duplicate_add(self):
        out = cli("shards", "stats", "--manifest", self.manifest).stdout
        self.assertIn("total 48 images", out)
        again = cli("shards", "add", "--manifest", self.manifest, PHOTOS / "collection").stdout
        self.assertIn("added 0, already indexed 48", again)


if __name__ == "__main__":
    unittest.main()
