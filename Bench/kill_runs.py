#!/usr/bin/env python3
"""SIGKILLs at seeded random moments during `tessera index add`, `index remove` and
`index compact`, each followed by an open and `tessera index check` and a resumed run of the
same command; at the end the index must equal a clean build of the same images (same paths,
same postings per layer, consistent), and every compaction's output must be a whole index or
none. Prints a Markdown summary for Bench/RESULTS.md.

    python3 Bench/kill_runs.py [--kills 24] [--seed 2016]
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / ".build" / "release" / "tessera")
CACHE = Path(os.environ.get("TESSERA_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
             / "tessera")
COLLECTION = CACHE / "photos" / "collection"


def run(*args, check=True):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"tessera {' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


def state(index):
    """(sorted paths, postings per layer) of an index, after checking it."""
    check = run("index", "check", "--index", str(index), check=False)
    if check.returncode != 0:
        raise SystemExit(f"inconsistent after a kill:\n{check.stdout}")
    paths = sorted(line.split("\t")[2] for line in run("index", "list", "--index", str(index)).stdout.splitlines())
    postings = [line.split(": ")[1].split(" postings")[0]
                for line in run("index", "stats", "--index", str(index)).stdout.splitlines() if " postings (" in line]
    return paths, postings


def killed(args, delay):
    """Starts `tessera ARGS`, SIGKILLs it after `delay` s; True when it was still running."""
    p = subprocess.Popen([CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=24)
    ap.add_argument("--seed", type=int, default=2016)
    o = ap.parse_args()
    rng = random.Random(o.seed)
    work = Path(tempfile.mkdtemp(prefix="tessera-kills-"))
    try:
        run("demo", "--out", str(work / "demo"))
        vocab = str(work / "demo" / "demo.vocab")
        images = sorted(str(p) for p in COLLECTION.glob("*.jpg"))
        clean = work / "clean"
        run("index", "add", "--index", str(clean), "--vocab", vocab, "--batch", "4", *images)
        expected = state(clean)
        index = work / "killed"
        counts = {"add": [0, 0], "remove": [0, 0], "compact": [0, 0]}  # [kills landed, runs finished first]
        # Each run is killed after a random delay below a ceiling per command that adapts
        # (lower after a run finished first, higher after a kill landed), until --kills landed.
        ceiling = {"add": 3.0, "remove": 0.3, "compact": 0.3}
        cycle = ["add", "remove", "add", "compact"]
        start = time.time()
        landed_total = attempts = 0
        while landed_total < o.kills and attempts < 30 * o.kills:
            attempts += 1
            op = cycle[landed_total % len(cycle)] if (index / "data.mdb").exists() else "add"
            indexed = state(index)[0] if (index / "data.mdb").exists() else []
            if op == "add" and len(indexed) == len(images):
                run("index", "remove", "--index", str(index), *rng.sample(indexed, 16))  # leave work to do
            if op == "remove" and len(indexed) < 24:
                op = "add"
            if op == "add":
                args = ["index", "add", "--index", str(index), "--vocab", vocab, "--batch", "4", *images]
            elif op == "remove":
                args = ["index", "remove", "--index", str(index), *rng.sample(indexed, 24)]
            else:
                out = work / f"compact-{attempts}"
                args = ["index", "compact", "--index", str(index), "--out", str(out)]
            landed = killed(args, rng.uniform(0.0, ceiling[op]))
            counts[op][0 if landed else 1] += 1
            ceiling[op] *= 1.2 if landed else 0.6
            landed_total += landed
            if (index / "data.mdb").exists():
                state(index)  # opens and checks after every kill
            if op == "compact":
                if (out / "data.mdb").exists():
                    state(out)  # a compaction's output is a whole index...
                else:
                    run(*args)  # ...or none, and a rerun makes it whole
                    state(out)
                shutil.rmtree(out)
            else:
                run(*args)  # resume
        run("index", "add", "--index", str(index), "--vocab", vocab, "--batch", "4", *images)
        final = state(index)
        same = final == expected
        print(f"| kills landed (add / remove / compact) | {counts['add'][0]} / {counts['remove'][0]} / "
              f"{counts['compact'][0]} (seed {o.seed}; {sum(c[1] for c in counts.values())} more runs finished "
              "before their kill) |")
        print("| after every kill | the index opened and `tessera index check` found it consistent; "
              "a killed compaction left no index or a whole one |")
        print(f"| final index against a clean build | {'identical' if same else 'DIFFERENT'}: "
              f"{len(final[0])} images, postings per layer {', '.join(final[1])} |")
        print(f"| wall time | {time.time() - start:.0f} s |")
        sys.exit(0 if same else 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
