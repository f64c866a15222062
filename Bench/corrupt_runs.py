#!/usr/bin/env python3
"""Seeded damage to an index's `data.mdb`: a flipped bit at a random offset of the pages in use,
or the file cut short at a random length. After each, `tessera index check` and one
`tessera query` run on the damaged copy; each must end with an exit status (0: the damage
missed anything read, or 1 with a message), never a signal. Prints a Markdown summary for
Bench/RESULTS.md.

    python3 Bench/corrupt_runs.py [--flips 100] [--cuts 20] [--seed 2016]
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / ".build" / "release" / "tessera")
CACHE = Path(os.environ.get("TESSERA_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
             / "tessera")
QUERY = CACHE / "photos" / "queries" / "coins.jpg"


def outcome(args):
    """'ok', 'error' (exit 1-127 with a message), or 'signal N'."""
    r = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)
    if r.returncode < 0:
        return f"signal {-r.returncode}", r.stderr[-300:]
    if r.returncode == 0:
        return "ok", ""
    return ("error" if (r.stderr.strip() or r.stdout.strip()) else "silent failure"), (r.stderr or r.stdout)[-300:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flips", type=int, default=100)
    ap.add_argument("--cuts", type=int, default=20)
    ap.add_argument("--seed", type=int, default=2016)
    o = ap.parse_args()
    rng = random.Random(o.seed)
    work = Path(tempfile.mkdtemp(prefix="tessera-corrupt-"))
    try:
        subprocess.run([CLI, "demo", "--out", str(work / "demo")], check=True, capture_output=True)
        index = work / "demo" / "index"
        size = (index / "data.mdb").stat().st_size
        tally = {"flip": Counter(), "cut": Counter()}
        examples = {}
        for kind, n in (("flip", o.flips), ("cut", o.cuts)):
            for _ in range(n):
                copy = work / "copy"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(index, copy)
                with open(copy / "data.mdb", "r+b") as f:
                    if kind == "flip":
                        at = rng.randrange(size)
                        f.seek(at)
                        b = f.read(1)[0]
                        f.seek(at)
                        f.write(bytes([b ^ (1 << rng.randrange(8))]))
                    else:
                        f.truncate(rng.randrange(size))
                for what, args in (("check", ["index", "check", "--index", str(copy)]),
                                   ("query", ["query", "--index", str(copy), "--top", "3", str(QUERY)])):
                    result, text = outcome(args)
                    tally[kind][f"{what}: {result}"] += 1
                    if result != "ok":
                        examples.setdefault(f"{kind} {what} {result}", text.strip().splitlines()[-1:])
        print(f"| damage (seed {o.seed}, a {size // 1024} KiB demo index) | runs | outcomes |")
        print("|---|---|---|")
        for kind, n in (("flip", o.flips), ("cut", o.cuts)):
            print(f"| {'one flipped bit' if kind == 'flip' else 'file cut short'} | {n} | "
                  + "; ".join(f"{k} {v}" for k, v in sorted(tally[kind].items())) + " |")
        for k, v in sorted(examples.items()):
            print(f"- {k}: {v[0] if v else ''}")
        crashed = any("signal" in k for t in tally.values() for k in t)
        sys.exit(1 if crashed else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
