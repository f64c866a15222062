"""End-to-end tests of `tessera serve` and the Python client, through real processes on
127.0.0.1 with free ports. Needs the CLI built (.build/release/tessera) and the setup's photos;
scripts/test.sh runs them after the Swift tests.

    PYTHONPATH=clients/python python -m unittest discover -s clients/python/tests -v
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
from pathlib import Path

from tessera_client import (BadRequest, Busy, Client, ConnectionFailed, Forbidden, NotFound, Unauthorized,
                            UnusableImage)

ROOT = Path(__file__).resolve().parents[3]
CLI = Path(os.environ.get("TESSERA_CLI", ROOT / ".build" / "release" / "tessera"))
CACHE = Path(os.environ.get("TESSERA_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
             / "tessera")
PHOTOS = CACHE / "photos"
TOKEN = "test-token-4f1c"


def jpegs(folder):
    return sorted(str(p) for p in (PHOTOS / folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))


class Server:
    """A `tessera serve` process on a free loopback port."""

    def __init__(self, index, *extra, token=True, manifest=False):
        self.work = tempfile.mkdtemp(prefix="tessera-serve-")
        args = [str(CLI), "serve", "--shards" if manifest else "--index", str(index), "--port", "0", *extra]
        if token:
            tf = Path(self.work) / "token"
            tf.write_text(TOKEN + "\n")
            args += ["--token-file", str(tf)]
        self.log = open(Path(self.work) / "log", "w+")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        # The first line says where it listens; a server that never says it fails the test.
        first = []
        reader = threading.Thread(target=lambda: first.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=120)
        line = first[0] if first else ""
        if not first:
            self.process.kill()
        if "http://" not in line:
            self.log.seek(0)
            raise RuntimeError(f"server did not start: {line!r} {self.log.read()}")
        self.url = line.strip().split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def client(self, token=TOKEN):
        return Client(self.url, token=token)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.process.stdout.close()
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)
        return code


class ServerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CLI.exists() or not (PHOTOS / ".complete").exists():
            raise unittest.SkipTest("build the CLI and run scripts/setup.sh first (scripts/test.sh does)")
        cls.tmp = Path(tempfile.mkdtemp(prefix="tessera-e2e-"))
        # `tessera demo` trains a small vocabulary and indexes the 48-photo collection.
        subprocess.run([str(CLI), "demo", "--out", str(cls.tmp / "demo")], check=True, capture_output=True)
        cls.index = cls.tmp / "demo" / "index"
        cls.query = jpegs("queries")[0]
        cls.new_photos = jpegs("train")
        cls.server = Server(cls.index, "--max-upload-mb", "1", "--idle-timeout", "2")
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "server"):
            cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def copy_index(self, name):
        dst = self.tmp / name
        shutil.copytree(self.index, dst)
        return dst

    def cli_query(self, index, image, *flags):
        out = subprocess.run([str(CLI), "query", "--index", str(index), "--json", *flags, image],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)[0]

    def test_query_equals_the_command_line(self):
        for flags, kwargs in [(["--top", "8"], {"top": 8}),
                              (["--top", "5", "--no-rerank"], {"top": 5, "rerank": False}),
                              (["--top", "6", "--query-expansion", "0", "--layers", "head/max"],
                               {"top": 6, "query_expansion": 0, "layers": ["head/max"]}),
                              (["--top", "7", "--rerank-beta", "0.3", "--rerank-combination", "rank"],
                               {"top": 7, "rerank_beta": 0.3, "rerank_combination": "rank"})]:
            expected = self.cli_query(self.index, self.query, *flags)
            got = self.c.query(self.query, **kwargs)
            self.assertEqual([h.path for h in got.results], [r["path"] for r in expected["results"]], flags)
            self.assertEqual([h.id for h in got.results], [r["id"] for r in expected["results"]])
            for h, r in zip(got.results, expected["results"]):
                self.assertAlmostEqual(h.score, r["score"], places=6)
            self.assertGreater(got.timings["total"], 0)

    def test_add_and_remove_are_visible_to_the_next_query(self):
        photo = self.new_photos[0]
        before = self.c.stats().images
        added = self.c.add(photo)
        self.assertTrue(added.added)
        self.assertFalse(self.c.add(photo).added, "same content twice")
        self.assertEqual(self.c.stats().images, before + 1)
        self.assertEqual(self.c.query(photo, top=1).results[0].id, added.id)
        self.assertEqual(self.c.image(added.id).id, added.id)
        self.assertEqual(self.c.thumbnail(added.id)[:2], b"\xff\xd8")
        self.c.remove(added.id)
        self.assertNotIn(added.id, [h.id for h in self.c.query(photo, top=20).results])
        with self.assertRaises(NotFound):
            self.c.remove(added.id)
        with self.assertRaises(NotFound):
            self.c.image(added.id)
        self.assertEqual(self.c.stats().images, before)

    def test_listing_pages_through_every_image(self):
        images = self.c.images(page_size=7)
        self.assertEqual(len(images), self.c.stats().images)
        self.assertEqual([i.id for i in images], sorted({i.id for i in images}))

    def test_another_process_adds_while_the_server_answers(self):
        index = self.copy_index("concurrent")
        server = Server(index)
        try:
            c = server.client()
            photos = self.new_photos[1:5]
            errors, answered = [], []

            def ask():
                try:
                    for _ in range(6):
                        answered.append(len(c.query(self.query, top=3).results))
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(e)
            threads = [threading.Thread(target=ask) for _ in range(2)]
            for t in threads:
                t.start()
            add = subprocess.run([str(CLI), "index", "add", "--index", str(index), *photos], capture_output=True,
                                 text=True)
            for t in threads:
                t.join()
            self.assertEqual(add.returncode, 0, add.stderr)
            self.assertEqual(errors, [])
            self.assertEqual(answered, [3] * 12)
            self.assertEqual(c.stats().images, 48 + len(photos))
            top = c.query(photos[0], top=1).results[0]
            self.assertEqual(top.path, str(Path(photos[0]).resolve()))
        finally:
            self.assertEqual(server.stop(), 0, "SIGTERM ends the server cleanly")

    def test_bad_requests_get_4xx_and_damage_nothing(self):
        before = self.c.stats()
        photo = self.new_photos[0]
        data = Path(photo).read_bytes()
        anonymous = self.server.client(token=None)
        with self.assertRaises(UnusableImage) as e:
            self.c.query(b"not a jpeg at all")
        self.assertEqual(e.exception.status, 415)
        with self.assertRaises(UnusableImage) as e:
            self.c.add(data[: len(data) // 3])
        self.assertEqual(e.exception.status, 422)
        with self.assertRaises(BadRequest) as e:
            self.c.query(b"\xff\xd8" + b"\0" * (2 << 20))
        self.assertEqual(e.exception.status, 413)
        with self.assertRaises(BadRequest):
            self.c.query(photo, top=0)
        with self.assertRaises(BadRequest):
            self.c.query(photo, layers=["no-such-layer"])
        with self.assertRaises(BadRequest):
            self.c.query(photo, rerank_combination="sum")
        with self.assertRaises(Unauthorized):
            anonymous.add(photo)
        with self.assertRaises(Forbidden):
            self.server.client(token="wrong").remove(0)
        with self.assertRaises(NotFound):
            self.c.image(999999)
        for method, path, body, ctype, status in [
                ("POST", "/v1/query", b"garbage", "multipart/form-data; boundary=zz", 400),
                ("POST", "/v1/query", data, "text/plain", 415),
                ("GET", "/v1/images/abc", None, None, 400),
                ("GET", "/v1/images?limit=0", None, None, 400),
                ("GET", "/v1/nothing", None, None, 404)]:
            req = urllib.request.Request(self.server.url + path, data=body, method=method)
            if ctype:
                req.add_header("Content-Type", ctype)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=30)
            self.assertEqual(e.exception.code, status, path)
            self.assertIn("message", json.loads(e.exception.read())["error"])
        after = self.c.stats()
        self.assertEqual((after.images, after.next_image_id), (before.images, before.next_image_id))
        self.assertTrue(self.c.healthy())

    def test_a_stalled_upload_is_cut_off_and_the_server_goes_on(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        s.sendall(b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                  b"Content-Length: 100000\r\n\r\n\xff\xd8\xff")
        start = time.monotonic()
        try:
            data = s.recv(65536)
            while data and b"HTTP/1.1" not in data:
                data = s.recv(65536)
        except ConnectionResetError:
            data = b""
        finally:
            s.close()
        self.assertLess(time.monotonic() - start, 8, "closed after the 2 s idle timeout")
        self.assertTrue(self.c.healthy())

    def test_search_page_and_metrics(self):
        page = urllib.request.urlopen(self.server.url + "/", timeout=10).read().decode()
        self.assertIn("<title>Tessera search</title>", page)
        self.c.query(self.query, top=2)
        metrics = urllib.request.urlopen(self.server.url + "/metrics", timeout=10).read().decode()
        self.assertRegex(metrics, r"tessera_queries_total [1-9]")
        self.assertIn('tessera_query_stage_seconds_bucket{stage="cnn"', metrics)
        self.assertIn("tessera_images ", metrics)

    def test_a_full_queue_answers_503_with_retry_after(self):
        server = Server(self.index, "--workers", "1", "--queue-limit", "0", token=False)
        try:
            c = server.client()
            outcomes = []

            def ask():
                try:
                    c.query(self.query, top=1)
                    outcomes.append(200)
                except Busy as e:
                    outcomes.append((e.status, e.retry_after))
            threads = [threading.Thread(target=ask) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertIn(200, outcomes)
            self.assertIn((503, 1.0), outcomes)
            with self.assertRaises(Forbidden):
                c.add(self.new_photos[0])  # no token configured: writes are disabled
        finally:
            server.stop()

    def test_sigkill_during_adds_leaves_whole_images(self):
        index = self.copy_index("killed")
        server = Server(index)
        c = server.client()
        photos = self.new_photos[:-1]  # the last one is added after the kill, so it must be new then
        done = []

        def upload():
            for p in photos:
                try:
                    done.append(c.add(p).id)
                except Exception:
                    return
        t = threading.Thread(target=upload)
        t.start()
        # Kill once a couple of adds have committed, so the kill lands mid-stream on any machine.
        deadline = time.monotonic() + 60
        while len(done) < 2 and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        server.process.kill()
        t.join()
        server.stop()
        self.assertLess(len(done), len(photos), "the kill came before the last add")
        check = subprocess.run([str(CLI), "index", "check", "--index", str(index)], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("consistent", check.stdout)
        # The index opens, and every image it lists is whole: found by its own content.
        server = Server(index)
        try:
            c = server.client()
            images = c.images()
            self.assertEqual(len(images), c.stats().images)
            uploads = [i for i in images if "/uploads/" in i.path]
            self.assertGreaterEqual(len(uploads), len(done))
            for i in uploads:
                self.assertEqual(c.query(i.path, top=1).results[0].id, i.id)
            more = c.add(self.new_photos[-1])
            self.assertTrue(more.added, "writes go on after the kill")
        finally:
            server.stop()

    def test_unreachable_server(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with self.assertRaises(ConnectionFailed):
            Client(f"http://127.0.0.1:{port}", timeout=2).stats()


if __name__ == "__main__":
    unittest.main()
