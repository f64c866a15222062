#!/usr/bin/env bash
# COLMAP's image retrieval (vocabulary tree with Hamming embedding, optionally re-ranked by COLMAP's
# vote-and-verify spatial verification) as a peer system on a "clutter" benchmark made by
# Bench/make_clutter_set.py. Reports top-1 accuracy, mAP and recall@k in the terms of `tessera bench custom`.
#
# Usage: bash Bench/colmap_clutter.sh --set DIR --train DIR [--work DIR] [--words 65536] [--threads N] [--verify]
#   --set DIR      benchmark folder: DIR/references/*.jpg (database), DIR/queries/*.jpg, DIR/ground_truth.tsv
#   --train DIR    JPEG photos to learn the vocabulary tree from (read in place, never copied)
#   --work DIR     scratch and cache folder (default /tmp/colmap_clutter); the training features and the
#                  vocabulary tree are kept there, so a rerun with the same training images and --words skips them
#   --words K      visual words of the tree (COLMAP's --num_visual_words, default 65536 = 256 x 256)
#   --threads N    CPU cores COLMAP may use (default: all); the process is pinned to N cores with taskset
#   --verify       re-rank every reference by COLMAP's spatial verification (--num_images_after_verification)
# Writes WORK/colmap_report.json; stage logs are in WORK/logs/.
#
# Written against COLMAP 3.8 (Debian bookworm). Its option names, checked with `colmap <command> -h`:
#   feature_extractor     --image_list_path, --SiftExtraction.use_gpu, --SiftExtraction.num_threads
#   vocab_tree_builder    --num_visual_words, --branching (256), --num_iterations (11); it has no GPU option
#   vocab_tree_retriever  --database_image_list_path, --query_image_list_path, --num_images, --output_index_path,
#                         --num_images_after_verification; it matches no descriptors, so it takes no
#                         --SiftMatching.* option (passing --SiftMatching.use_gpu is an "unrecognised option").
set -euo pipefail

usage() { sed -n '6,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

SET="" TRAIN="" WORK=/tmp/colmap_clutter WORDS=65536 THREADS="" VERIFY=0
COMMAND_LINE=$(printf '%q ' bash "$0" "$@")
while (($#)); do
  case "$1" in
    --set) SET=${2:?}; shift 2 ;;
    --train) TRAIN=${2:?}; shift 2 ;;
    --work) WORK=${2:?}; shift 2 ;;
    --words) WORDS=${2:?}; shift 2 ;;
    --threads) THREADS=${2:?}; shift 2 ;;
    --verify) VERIFY=1; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
[[ -n $SET && -n $TRAIN ]] || usage
[[ -d $SET/references && -d $SET/queries && -f $SET/ground_truth.tsv ]] \
  || { echo "error: $SET needs references/, queries/ and ground_truth.tsv" >&2; exit 2; }
[[ -d $TRAIN ]] || { echo "error: training folder $TRAIN not found" >&2; exit 2; }
[[ $WORDS =~ ^[0-9]+$ ]] || { echo "error: --words must be a number" >&2; exit 2; }
[[ -z $THREADS || $THREADS =~ ^[1-9][0-9]*$ ]] || { echo "error: --threads must be a positive number" >&2; exit 2; }
SET=$(cd "$SET" && pwd) TRAIN=$(cd "$TRAIN" && pwd)
mkdir -p "$WORK/logs" && WORK=$(cd "$WORK" && pwd)
THREADS=${THREADS:-$(nproc)}

# ---- 1. COLMAP from Debian, headless ------------------------------------------------------------------------------
# The Debian build has no CUDA; its SiftGPU path needs an OpenGL context, so SIFT runs on the CPU (use_gpu 0) and
# Qt gets the offscreen platform (no X server). /usr/bin/time (package "time") measures each stage's CPU seconds.
if ! command -v colmap >/dev/null || [[ ! -x /usr/bin/time ]]; then
  apt-cache policy colmap
  apt-get update
  apt-get install -y colmap time
fi
export QT_QPA_PLATFORM=offscreen
COLMAP_VERSION=$(colmap help 2>&1 | sed -n 's/^\(COLMAP [0-9.]*\).*/\1/p' | head -n 1)
DEB_VERSION=$(dpkg-query -W -f '${Version}' colmap 2>/dev/null || echo "not from a .deb")

# Pin COLMAP to the first $THREADS allowed cores: the retriever and the tree builder run FLANN searches on
# std::thread::hardware_concurrency() threads and have no thread option, so pinning is the only way to cap their
# CPU use. (The builder's hierarchical k-means, its longest step, runs on one thread whatever --threads says.)
CORES=$(python3 -c "import os; print(','.join(map(str, sorted(os.sched_getaffinity(0))[:$THREADS])))")
PIN=(taskset -c "$CORES")

echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "colmap:  $COLMAP_VERSION (Debian package $DEB_VERSION), pinned to cores $CORES"
echo "command: $COMMAND_LINE"

# run STAGE CMD...: runs CMD pinned, stdout+stderr to WORK/logs/STAGE.log, and records wall/user/sys seconds and
# peak memory in WORK/logs/STAGE.time. On failure it shows the log's tail.
run() {
  local stage=$1; shift
  echo "[$(date +%T)] $stage: $*" | cut -c 1-200
  if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/logs/$stage.time" "${PIN[@]}" "$@" >"$WORK/logs/$stage.log" 2>&1
  then
    tail -n 20 "$WORK/logs/$stage.log" >&2; echo "error: stage $stage failed (log: $WORK/logs/$stage.log)" >&2; exit 1
  fi
  read -r wall user sys _ <"$WORK/logs/$stage.time"
  echo "           wall ${wall}s, cpu $(python3 -c "print(round($user + $sys, 2))")s"
}
# SIFT on the CPU; --log_to_stderr 1 keeps glog from writing log files into /tmp.
extract() {  # extract STAGE DATABASE IMAGE_ROOT IMAGE_LIST
  run "$1" colmap feature_extractor --database_path "$2" --image_path "$3" --image_list_path "$4" \
    --SiftExtraction.use_gpu 0 --SiftExtraction.num_threads "$THREADS" --log_to_stderr 1
}
rm -f "$WORK"/logs/*.time  # a stage that is skipped (cached) must not report an old run's time

# ---- 2. Vocabulary tree from the training photos (cached) ---------------------------------------------------------
# Training features go into their own database so that the tree never sees a benchmark image. The cache is keyed
# by the list of training files: a different list drops the database and the trees built from it.
TDIR=$WORK/train
mkdir -p "$TDIR"
(cd "$TRAIN" && find -L . -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) | sed 's|^\./||' | LC_ALL=C sort) \
  >"$TDIR/list.new"
[[ -s $TDIR/list.new ]] || { echo "error: no JPEG in $TRAIN" >&2; exit 2; }
if ! cmp -s "$TDIR/list.new" "$TDIR/list.txt" || [[ $(cat "$TDIR/source" 2>/dev/null) != "$TRAIN" ]]; then
  rm -f "$TDIR"/train.db* "$TDIR"/train.done "$TDIR"/vocab_tree_*
  mv "$TDIR/list.new" "$TDIR/list.txt"; echo "$TRAIN" >"$TDIR/source"
else
  rm -f "$TDIR/list.new"
fi
N_TRAIN=$(wc -l <"$TDIR/list.txt")
if [[ ! -f $TDIR/train.done ]]; then
  rm -f "$TDIR"/train.db*
  extract train_extract "$TDIR/train.db" "$TRAIN" "$TDIR/list.txt"
  touch "$TDIR/train.done"
else
  echo "train_extract: cached ($TDIR/train.db, $N_TRAIN images)"
fi
N_TRAIN_DESC=$(python3 -c "import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute('SELECT COALESCE(SUM(rows), 0) FROM descriptors').fetchone()[0])" \
  "$TDIR/train.db")
TREE=$TDIR/vocab_tree_$WORDS.bin
if [[ ! -f $TREE ]]; then
  # COLMAP's k-means needs at least as many descriptors as words (it CHECK-fails otherwise): say so plainly.
  ((N_TRAIN_DESC >= WORDS)) || { echo "error: $N_TRAIN_DESC training descriptors < --words $WORDS" >&2; exit 2; }
  # Built to a temporary name and renamed, so an interrupted build is never mistaken for a cached tree.
  run vocab_tree_build colmap vocab_tree_builder --database_path "$TDIR/train.db" --vocab_tree_path "$TREE.tmp" \
    --num_visual_words "$WORDS" --log_to_stderr 1
  mv "$TREE.tmp" "$TREE"
  # The hierarchical k-means returns at most the requested words ((branching-1)*m+1 of them): keep the real count.
  sed -n 's/.*Quantized descriptor space using \([0-9]*\) visual words.*/\1/p' "$WORK/logs/vocab_tree_build.log" \
    >"$TREE.words"
else
  echo "vocab_tree_build: cached ($TREE)"
fi
VISUAL_WORDS=$(cat "$TREE.words" 2>/dev/null || echo "")

# ---- 3. Features of the benchmark, retrieval ------------------------------------------------------------------------
# References and queries share one database rooted at the set folder, so their COLMAP names are
# "references/<file>" and "queries/<file>". It is rebuilt every run: its extraction times are part of the report.
# The query list holds the ground truth's queries only (the queries that are evaluated), in its order.
SDB=$WORK/set.db
rm -f "$SDB"*
python3 - "$SET" "$WORK" <<'PY'
import os, sys
root, work = sys.argv[1], sys.argv[2]
images = lambda d: sorted(f for f in os.listdir(os.path.join(root, d))
                          if f.lower().endswith((".jpg", ".jpeg", ".png")))
refs, query_files = images("references"), set(images("queries"))
queries, seen = [], set()
for n, line in enumerate(open(os.path.join(root, "ground_truth.tsv"), encoding="utf-8"), 1):
    line = line.rstrip("\r\n")
    if not line.strip(" \t") or line.startswith("#"):
        continue
    fields = line.split("\t")
    if "" in fields or fields[0] in seen or fields[0] in fields[1:]:
        sys.exit(f"ground_truth.tsv line {n}: empty field, repeated query or query listed as its own relevant")
    if fields[0] not in query_files:
        sys.exit(f"ground truth: query {fields[0]} is not among the query images")
    if missing := set(fields[1:]) - set(refs):
        sys.exit(f"ground truth: {sorted(missing)[0]}, relevant to {fields[0]}, is not among the references")
    seen.add(fields[0]); queries.append(fields[0])
with open(os.path.join(work, "references.txt"), "w") as f:
    f.writelines(f"references/{r}\n" for r in refs)
with open(os.path.join(work, "queries.txt"), "w") as f:
    f.writelines(f"queries/{q}\n" for q in queries)
print(f"set: {len(refs)} references, {len(queries)} queries in the ground truth")
PY
N_REF=$(wc -l <"$WORK/references.txt")
N_QUERY=$(wc -l <"$WORK/queries.txt")
extract ref_extract "$SDB" "$SET" "$WORK/references.txt"
extract query_extract "$SDB" "$SET" "$WORK/queries.txt"

# Indexing the references and querying are two runs, so that the query run's CPU time is the queries' own:
# the first writes the tree with the references' inverted files (--output_index_path; no query list, so it stops
# there), the second loads that index and ranks all N_REF references for every query (--num_images). With
# --verify, COLMAP's vote-and-verify scores are added to every ranked reference and the list is re-sorted.
run ref_index colmap vocab_tree_retriever --database_path "$SDB" --vocab_tree_path "$TREE" \
  --database_image_list_path "$WORK/references.txt" --output_index_path "$WORK/index.bin" --log_to_stderr 1
VERIFY_ARGS=()
((VERIFY)) && VERIFY_ARGS=(--num_images_after_verification "$N_REF")
# The ranking is printed on stdout: "Querying for image queries/q.jpg [i/n] in 0.012s", then one line per
# result "  image_id=7, image_name=references/ref_00006.jpg, score=0.123456", best first. The stdout goes to
# retrieval.txt, glog's stderr to the log.
run query sh -c 'colmap "$@" >"$0"' "$WORK/retrieval.txt" vocab_tree_retriever --database_path "$SDB" \
  --vocab_tree_path "$WORK/index.bin" --database_image_list_path "$WORK/references.txt" \
  --query_image_list_path "$WORK/queries.txt" --num_images "$N_REF" "${VERIFY_ARGS[@]}" --log_to_stderr 1

# ---- 4. Metrics and report ----------------------------------------------------------------------------------------
# As Tessera's `bench custom`: top-1 = precision@1; recall@k = |relevant in top k| / |relevant|, averaged over all
# ground-truth queries; a relevant reference COLMAP does not rank counts as missed. mAP here is standard AP (mean
# of the precision at each relevant hit, divided by the relevant count); Tessera's mAP is the Holidays trapezoid
# AP (score_ap_from_ranks_1), reported too as "mAP (Holidays)" to compare like with like.
export SET WORK TRAIN WORDS VISUAL_WORDS VERIFY THREADS CORES N_TRAIN N_TRAIN_DESC N_REF N_QUERY COMMAND_LINE
export COLMAP_VERSION DEB_VERSION TREE
python3 - <<'PY'
import json, os, re, time
E = os.environ
work = E["WORK"]

truth = []  # (query, relevant set), in file order
for line in open(os.path.join(E["SET"], "ground_truth.tsv"), encoding="utf-8"):
    line = line.rstrip("\r\n")
    if line.strip(" \t") and not line.startswith("#"):
        f = line.split("\t")
        truth.append((f[0], set(f[1:])))

rankings, query_wall, current = {}, [], None
for line in open(os.path.join(work, "retrieval.txt"), encoding="utf-8"):
    if m := re.match(r"Querying for image (.*) \[\d+/\d+\](?: in ([0-9.]+)s)?", line):
        current = os.path.basename(m.group(1))
        rankings[current] = []
        if m.group(2):
            query_wall.append(float(m.group(2)))
    elif (m := re.match(r"\s+image_id=\d+, image_name=(.*), score=(\S+)$", line)) and current is not None:
        name = os.path.basename(m.group(1))
        if name not in rankings[current]:  # first occurrence wins, as in Tessera's metrics
            rankings[current].append(name)
missing = [q for q, _ in truth if q not in rankings]
if missing:
    raise SystemExit(f"error: no ranking for {len(missing)} queries (first {missing[0]}); see retrieval.txt")

def ap_standard(ranks, n):  # ranks: 0-based positions of the relevant hits
    return sum((i + 1) / (r + 1) for i, r in enumerate(sorted(ranks))) / n

def ap_holidays(ranks, n):  # Tessera's RetrievalMetrics.averagePrecision (trapezoids)
    return sum((1 / n) * ((1.0 if r == 0 else i / r) + (i + 1) / (r + 1)) / 2 for i, r in enumerate(sorted(ranks)))

ks = (1, 4, 5, 10)
aps, apsh, per_query = [], [], []
recall = {k: 0.0 for k in ks}
for q, rel in truth:
    ranking = rankings[q]
    ranks = [i for i, name in enumerate(ranking) if name in rel]
    if rel:
        aps.append(ap_standard(ranks, len(rel))); apsh.append(ap_holidays(ranks, len(rel)))
        for k in ks:
            recall[k] += sum(1 for name in ranking[:k] if name in rel) / len(rel)
    per_query.append({"query": q, "relevant": sorted(rel), "top": ranking[:3],
                      "firstRelevantRank": ranks[0] + 1 if ranks else None})
nq = max(len(truth), 1)
top1 = sum(1 for q, rel in truth if rankings[q][:1] and rankings[q][0] in rel) / nq
mean = lambda v: sum(v) / len(v) if v else 0.0

timings = {}
for stage in ("train_extract", "vocab_tree_build", "ref_extract", "query_extract", "ref_index", "query"):
    path = os.path.join(work, "logs", stage + ".time")
    if os.path.exists(path):
        wall, user, sys_, rss = open(path).read().split()[:4]
        timings[stage] = {"wall_s": float(wall), "cpu_s": round(float(user) + float(sys_), 2),
                          "peak_rss_mib": round(int(rss) / 1024)}
    else:
        timings[stage] = "cached"
counts = {"train_extract": int(E["N_TRAIN"]), "ref_extract": int(E["N_REF"]), "query_extract": int(E["N_QUERY"]),
          "ref_index": int(E["N_REF"]), "query": int(E["N_QUERY"])}
per_image = {s: round(t["cpu_s"] / counts[s], 4) for s, t in timings.items() if isinstance(t, dict) and s in counts}
cpu_per_query = per_image.get("query")
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")

report = {
    "system": "COLMAP vocab tree" + (" + spatial verification" if E["VERIFY"] == "1" else ""),
    "dataset": "custom:" + os.path.basename(E["SET"]), "set": E["SET"], "metric": "mAP", "score": mean(aps),
    "mAP": mean(aps), "mAPHolidays": mean(apsh), "top1": top1,
    "recallPrecision": {**{f"recall@{k}": recall[k] / nq for k in ks}, "precision@1": top1},
    "images": int(E["N_REF"]), "queries": len(truth),
    "trainingSet": E["TRAIN"], "trainingImages": int(E["N_TRAIN"]), "trainingDescriptors": int(E["N_TRAIN_DESC"]),
    "wordsRequested": int(E["WORDS"]), "visualWords": int(E["VISUAL_WORDS"]) if E["VISUAL_WORDS"] else None,
    "vocabTree": E["TREE"], "timings": timings, "cpuSecondsPerImage": per_image,
    "cpuSecondsPerQuery": cpu_per_query, "queryWallSecondsMean": mean(query_wall),
    "colmap": E["COLMAP_VERSION"], "debianPackage": E["DEB_VERSION"], "threads": int(E["THREADS"]),
    "cores": E["CORES"], "machine": {"nproc": os.cpu_count(), "cpu": cpu_model}, "command": E["COMMAND_LINE"],
    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "worstQueries": sorted(per_query, key=lambda p: p["firstRelevantRank"] or 10**9, reverse=True)[:8],
}
with open(os.path.join(work, "colmap_report.json"), "w") as f:
    json.dump(report, f, indent=2)

print(f"\n### {report['system']} on {report['dataset']} ({report['images']} references, {report['queries']} queries)\n")
print("| metric | value |\n|---|---|")
rows = [("top-1 accuracy (precision@1)", top1), ("mAP (standard AP)", mean(aps)),
        ("mAP (Holidays AP, as Tessera)", mean(apsh))] + [(f"recall@{k}", recall[k] / nq) for k in ks]
for name, v in rows:
    print(f"| {name} | {v:.3f} |")
print(f"| CPU s per query (retrieval only) | {cpu_per_query} |")
print(f"| wall s per query (COLMAP's own timer) | {mean(query_wall):.4f} |")
print(f"| CPU s per query image, SIFT | {per_image.get('query_extract')} |")
print("\n| stage | images | wall s | CPU s | CPU s / image | peak MiB |\n|---|---|---|---|---|---|")
for s, t in timings.items():
    n = counts.get(s, "")
    if isinstance(t, dict):
        print(f"| {s} | {n} | {t['wall_s']} | {t['cpu_s']} | {per_image.get(s, '')} | {t['peak_rss_mib']} |")
    else:
        print(f"| {s} | {n} | cached | | | |")
print(f"\nvisual words: {report['visualWords']} (requested {report['wordsRequested']}) from "
      f"{report['trainingDescriptors']} descriptors of {report['trainingImages']} photos")
print(f"report: {os.path.join(work, 'colmap_report.json')}")
PY
