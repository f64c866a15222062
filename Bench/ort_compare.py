"""Tessera's forward pass against ONNX Runtime's on the same network, input and machine.

Builds the ONNX graph of EfficientNet-Lite (stem, MBConv blocks, head conv; BatchNorm folded,
ReLU6 as Clip, TF "SAME" padding as auto_pad SAME_UPPER) from the same legacy torch file with
the onnx package's helper API (no torch), checks ORT's head map against Tessera's on the
network input Tessera writes, then alternates timing rounds: Tessera (`TesseraBench forward`),
ORT with 2 threads, ORT with 1 thread. Prints a Markdown report with the ratio, per-stage times,
GFLOP/s and shares of the FMA peak measured in each Tessera round.

Usage: ort_compare.py --bench PATH --model PTH --image JPEG [--rounds 5] [--repeat 10]
Run through Bench/ort_compare.sh, which makes the venv and builds the bench.
"""
import argparse, json, os, subprocess, sys, tempfile, time
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "reference"))
from efficientnet_ref import block_strides, load_legacy  # noqa: E402  (the project's independent reader)

EPS = 1e-3  # BatchNorm epsilon of the TF-trained Lite weights


def folded(p, conv, bn):
    w = p[f"{conv}.weight"]
    g, b, m, v = (p[f"{bn}.{t}"] for t in ("weight", "bias", "running_mean", "running_var"))
    scale = g / np.sqrt(v + EPS)
    return (w * scale[:, None, None, None]).astype(np.float32), (b - m * scale).astype(np.float32)


def build_graph(p, height, width):
    """The network to the head conv, with the reference's stage plan (as EfficientNetLite.swift's)."""
    nodes, inits = [], []

    def conv(name, x, conv_name, bn_name, stride=1, groups=1, relu=True):
        w, b = folded(p, conv_name, bn_name)
        inits.extend([numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")])
        k = w.shape[2]
        out = name + ("_pre" if relu else "")
        nodes.append(helper.make_node("Conv", [x, name + "_w", name + "_b"], [out], name=name, kernel_shape=[k, k],
                                      strides=[stride, stride], group=groups, auto_pad="SAME_UPPER"))
        if relu:
            nodes.append(helper.make_node("Clip", [out, "zero", "six"], [name], name=name + "_relu6"))
        return name

    inits += [numpy_helper.from_array(np.array(0, np.float32), "zero"),
              numpy_helper.from_array(np.array(6, np.float32), "six")]
    x = conv("stem", "input", "_conv_stem", "_bn0", stride=2)
    for i, stride in block_strides(p):
        q = f"_blocks.{i}."
        cout = p[q + "_project_conv.weight"].shape[0]
        h = x
        if q + "_expand_conv.weight" in p:
            h = conv(f"b{i}_expand", x, q + "_expand_conv", q + "_bn0")
        c = p[q + "_depthwise_conv.weight"].shape[0]
        h = conv(f"b{i}_dw", h, q + "_depthwise_conv", q + "_bn1", stride=stride, groups=c)
        h = conv(f"b{i}_project", h, q + "_project_conv", q + "_bn2", relu=False)
        cin = p[q + "_expand_conv.weight"].shape[1] if q + "_expand_conv.weight" in p else c
        if stride == 1 and cin == cout:
            nodes.append(helper.make_node("Add", [h, x], [f"b{i}_out"], name=f"b{i}_add"))
            h = f"b{i}_out"
        x = h
    x = conv("head", x, "_conv_head", "_bn1")
    head_shape = [1, p["_conv_head.weight"].shape[0], -(-height // 32), -(-width // 32)]
    graph = helper.make_graph(nodes, "efficientnet_lite_head",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, head_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def session(model_bytes, threads, profile_dir=None):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_dir:
        o.enable_profiling = True
        o.profile_file_prefix = os.path.join(profile_dir, "ort_profile")
    return ort.InferenceSession(model_bytes, o, providers=["CPUExecutionProvider"])


def time_ort(sess, x, repeat):
    sess.run(None, {"input": x})
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sess.run(None, {"input": x})
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def ort_stages(model_bytes, x, threads, repeat, profile_dir):
    """Per-kind kernel time of ORT's own profiler (median per node over `repeat` runs)."""
    sess = session(model_bytes, threads, profile_dir)
    for _ in range(repeat + 1):
        sess.run(None, {"input": x})
    events = json.load(open(sess.end_profiling()))
    per_node = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node.setdefault(e["name"][: -len("_kernel_time")], []).append(e["dur"] / 1e6)
    stages = {}
    for node, ds in per_node.items():
        base = node.split("_relu6")[0]
        kind = "depthwise" if "_dw" in base else "stem" if base.startswith("stem") else "pointwise"
        stages[kind] = stages.get(kind, 0) + float(np.median(ds[1:] if len(ds) > 1 else ds))
    return stages


def cpu_line():
    info = open("/proc/cpuinfo").read()
    model = next(l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name"))
    flags = next(l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags"))
    vec = [f for f in flags if f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile")]
    return f"{model}, {os.cpu_count()} cores, flags {' '.join(vec)}"


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--bench", required=True)
    a.add_argument("--model", required=True)
    a.add_argument("--image", required=True)
    a.add_argument("--rounds", type=int, default=5)
    a.add_argument("--repeat", type=int, default=10)
    args = a.parse_args()
    tmp = tempfile.mkdtemp(prefix="tessera-ort-")

    def tessera_round():
        out = subprocess.run([args.bench, "forward", "--image", args.image, "--model", args.model,
                              "--repeat", str(args.repeat), "--out", tmp], check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = tessera_round()
    x = np.load(os.path.join(tmp, "input.npy"))[None].astype(np.float32)
    model = build_graph(load_legacy(args.model), x.shape[2], x.shape[3])
    model_bytes = model.SerializeToString()
    two, one = session(model_bytes, 2), session(model_bytes, 1)
    ours = np.load(os.path.join(tmp, "head.npy"))
    theirs = two.run(None, {"input": x})[0][0]
    error = float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-12))
    if ours.shape != theirs.shape or error > 1e-3:
        sys.exit(f"head maps differ: shapes {ours.shape} {theirs.shape}, max relative error {error:.2e}")

    rounds = []
    for r in range(args.rounds):
        t = first if r == 0 else tessera_round()
        rounds.append({"tessera": t["median_seconds"], "ort2": time_ort(two, x, args.repeat),
                       "ort1": time_ort(one, x, args.repeat), "peak": t["fma_peak_gflops"], "stages": t["stages"]})
    med = lambda key: float(np.median([r[key] for r in rounds]))
    ratio2 = float(np.median([r["tessera"] / r["ort2"] for r in rounds]))
    ratio1 = float(np.median([r["tessera"] / r["ort1"] for r in rounds]))
    peak = med("peak")
    t_stages = {k: float(np.median([r["stages"][k]["seconds"] for r in rounds])) for k in first["stages"]}
    madds = {k: v["multiply_adds"] for k, v in first["stages"].items()}
    o_stages = ort_stages(model_bytes, x, 2, args.repeat, tmp)

    print(f"## Forward pass against ONNX Runtime {ort.__version__} ({x.shape[3]}×{x.shape[2]}, to the head)\n")
    print(f"- Machine: {cpu_line()}")
    print(f"- OpenBLAS kernel: {first['blas_kernel']}; FMA peak ({first['fma_isa']}, all cores, median of "
          f"{args.rounds} rounds): {peak:.0f} GFLOP/s")
    print(f"- Same input for both (Tessera's network input); head maps agree within {error:.1e} (relative to max)")
    print(f"- {args.rounds} alternating rounds of {args.repeat} forwards each; medians\n")
    print("| runtime | forward (s) | Tessera ÷ it |\n|---|---|---|")
    print(f"| Tessera (2 cores) | {med('tessera'):.4f} | — |")
    print(f"| ORT, 2 threads | {med('ort2'):.4f} | {ratio2:.2f}× |")
    print(f"| ORT, 1 thread | {med('ort1'):.4f} | {ratio1:.2f}× |\n")
    total = sum(madds.values())
    print("| stage | multiply-adds | Tessera s | GFLOP/s | % of peak | share of forward | ORT (2 thr.) s | GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    for k in ("stem", "pointwise", "depthwise"):
        s, o, m = t_stages.get(k, 0), o_stages.get(k, 0), madds.get(k, 0)
        g = 2 * m / s / 1e9 if s else 0
        go = 2 * m / o / 1e9 if o else 0
        print(f"| {k} | {m / 1e9:.3f} G ({100 * m / total:.0f}%) | {s:.4f} | {g:.0f} | {100 * g / peak:.0f}% "
              f"| {100 * s / med('tessera'):.0f}% | {o:.4f} | {go:.0f} |")


if __name__ == "__main__":
    main()
