#!/usr/bin/env python3
"""faiss exact k-means on the same .npy as the Swift quantizer bench, for a time comparison.

Setup (once): python3 -m venv /tmp/faiss-venv && /tmp/faiss-venv/bin/pip install faiss-cpu numpy
Run:          /tmp/faiss-venv/bin/python Bench/faiss_kmeans.py --npy FILE --k 2000 --iterations 10
Prints a Markdown row: time, seconds per iteration and final mean squared error.
No subsampling (max_points_per_centroid is raised), same k and iterations as the Swift bench.
"""
import argparse
import time

import faiss
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--npy", required=True)
    ap.add_argument("--k", type=int, default=2000)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--n", type=int, default=0, help="use the first N rows (0 = all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="OpenMP threads (0 = faiss default)")
    a = ap.parse_args()
    x = np.ascontiguousarray(np.load(a.npy, mmap_mode="r").astype(np.float32))
    if a.n:
        x = np.ascontiguousarray(x[: a.n])
    if a.threads:
        faiss.omp_set_num_threads(a.threads)
    n, d = x.shape
    km = faiss.Kmeans(d, a.k, niter=a.iterations, seed=a.seed, verbose=False,
                      max_points_per_centroid=max(256, n // a.k + 1))
    t = time.time()
    km.train(x)
    el = time.time() - t
    # faiss's obj[i] is the summed squared error of iteration i's assignment.
    print("| assigner | time (s) | s/iteration | final mean sq. error |")
    print("|---|---|---|---|")
    print(f"| faiss {faiss.__version__} exact (n={n}, d={d}, k={a.k}, threads={faiss.omp_get_max_threads()}) "
          f"| {el:.2f} | {el / a.iterations:.2f} | {km.obj[-1] / n:.6g} |")


if __name__ == "__main__":
    main()
