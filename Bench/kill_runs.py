#!/usr/bin/env python3
"""SIGKILLs at seeded random moments during `tessera index add`, `index remove` and
`index compact`, each followed by an open and `tessera index check` and a resumed run of the
same command; at the end the index must equal a clean build of the same images (same paths,
same postings per layer, consistent), and every compaction's output must be a whole index or
none. Then the two other writers: `tessera vocab train` over an existing vocabulary and
whitening (after every kill the pair at the destination loads, or loading names the broken
pair; a rerun completes), and the benchmark's feature cache (`tessera bench custom` killed
while it fills the cache; every later run reports exactly what a run on a fresh cache does).
Prints a Markdown summary for Bench/RESULTS.md.

    python3 Bench/kill_runs.py [--kills 24] [--writer-kills 8] [--seed 2016]
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
TRAIN = CACHE / "photos" / "train"
QUERIES = CACHE / "photos" / "queries"
SMALL_VOCAB = ["--words", "64", "--iterations", "3", "--max-side", "320"]


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


def adaptive_kills(args, kills, rng, ceiling, after_kill):
    """Runs ARGS until KILLS SIGKILLs landed (delays below an adaptive ceiling, as above),
    calling after_kill() after each kill and rerunning ARGS to completion; returns
    (kills landed, runs that finished first)."""
    landed = finished = 0
    while landed < kills and landed + finished < 30 * kills:
        if killed(args, rng.uniform(0.0, ceiling)):
            landed += 1
            ceiling *= 1.2
            after_kill()
        else:
            finished += 1
            ceiling *= 0.6
        run(*args)
    return landed, finished


def vocabulary_kills(work, kills, rng):
    """`tessera vocab train` over an existing vocabulary and whitening, killed KILLS times."""
    out = work / "killed.vocab"
    args = ["vocab", "train", "--images", str(TRAIN), "--out", str(out), *SMALL_VOCAB]
    run(*args)
    outcomes = {"whole": 0, "refused": 0}

    def check():
        r = run("vocab", "stats", str(out), check=False)
        if r.returncode == 0 and "global whitening: " in r.stdout:
            outcomes["whole"] += 1
        elif "is not the whitening trained with" in r.stderr or "is missing beside it" in r.stderr:
            outcomes["refused"] += 1  # killed between the vocabulary's and the whitening's rename
        else:
            raise SystemExit(f"vocabulary after a kill: {r.returncode} {r.stdout}{r.stderr}")
    landed, finished = adaptive_kills(args, kills, rng, 4.0, check)
    check()
    strays = sorted(p.name for p in work.iterdir() if p.name.startswith("killed.vocab") and p.suffix == ".partial")
    return landed, finished, outcomes, strays


def feature_cache_kills(work, kills, rng):
    """`tessera bench custom` killed KILLS times while it fills its feature cache (and trains
    the vocabulary it caches). After every kill each cache entry must be byte for byte the
    entry a run on a fresh cache writes (extraction is deterministic), and the rerun must print
    the same metrics."""
    gt = work / "queries.tsv"
    gt.write_text("".join(f"{q.name}\t" + "\t".join(f"{q.stem}_{v}.jpg" for v in ("crop", "light", "rotate", "scale"))
                          + "\n" for q in sorted(QUERIES.glob("*.jpg"))))
    args = ["bench", "custom", "--images", str(COLLECTION), "--queries", str(QUERIES), "--ground-truth", str(gt),
            "--train", str(TRAIN), *SMALL_VOCAB]
    # The bench cache is TESSERA_CACHE's; the model stays the setup's.
    env = {**os.environ, "TESSERA_MODEL": str(CACHE / "efficientnet-lite0-57934424.pth")}

    def metrics(cache):
        out = subprocess.run([CLI, *args], capture_output=True, text=True, env={**env, "TESSERA_CACHE": str(cache)})
        if out.returncode != 0:
            raise SystemExit(f"bench failed ({out.returncode}): {out.stdout}{out.stderr}")
        lines = out.stdout.splitlines()
        return lines[:next(i for i, line in enumerate(lines) if line.startswith("| timing"))]

    def entries(cache):
        return {p.name: p.read_bytes() for p in (cache / "bench" / "features").glob("*.feat")}
    expected = metrics(work / "fresh-cache")
    fresh = entries(work / "fresh-cache")
    cache = work / "killed-cache"
    landed = finished = checked = 0
    strays = set()
    ceiling = 8.0
    while landed < kills and landed + finished < 30 * kills:
        p = subprocess.Popen([CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**env, "TESSERA_CACHE": str(cache)})
        try:
            p.wait(timeout=rng.uniform(0.0, ceiling))
            finished += 1
            ceiling *= 0.6
            continue
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        landed += 1
        ceiling *= 1.2
        for name, data in entries(cache).items():
            if data != fresh.get(name):
                raise SystemExit(f"feature cache entry {name} differs from a fresh run's after a kill")
            checked += 1
        strays |= {q.name for q in (cache / "bench" / "features").iterdir() if q.suffix != ".feat"} \
            if (cache / "bench" / "features").exists() else set()
        if metrics(cache) != expected:
            raise SystemExit("a run after a kill reported other numbers than a fresh cache")
        if landed % 2 == 0:  # start filling again, so later kills also land mid-fill
            shutil.rmtree(cache / "bench", ignore_errors=True)
    return landed, finished, checked, len(strays)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=24)
    ap.add_argument("--writer-kills", type=int, default=8)
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
        start = time.time()
        landed, finished, outcomes, strays = vocabulary_kills(work, o.writer_kills, rng)
        print(f"| `vocab train` kills landed | {landed} ({finished} runs finished first); after each, the pair "
              f"loaded {outcomes['whole']} times and was refused with the reason {outcomes['refused']} times; "
              f"stray staged files: {len(strays)} |")
        landed, finished, checked, strays = feature_cache_kills(work, o.writer_kills, rng)
        print(f"| `bench custom` kills while filling its caches | {landed} ({finished} runs finished first); "
              f"{checked} cache entries found after the kills, each byte for byte a fresh run's; every rerun "
              f"printed a fresh run's metrics; stray temporary files: {strays} |")
        print(f"| writers' wall time | {time.time() - start:.0f} s |")
        sys.exit(0 if same else 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
