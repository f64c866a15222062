"""Independent NumPy reference for EfficientNet-Lite (used by the Swift tests).

Reads the legacy torch file with Python's own pickle (strides honoured with as_strided),
applies BatchNorm explicitly (not folded) and runs the network with im2col convolutions
and TF "SAME" padding. Usage:
  efficientnet_ref.py MODEL INPUT.npy OUTDIR TAP...
INPUT.npy is the 3xHxW float32 network input; each TAP (e.g. block11.expand, block5, head,
logits) is written to OUTDIR/TAP.npy (C x H x W, logits as a vector).
"""
import pickle, struct, sys, numpy as np

def load_legacy(path):
    f = open(path, "rb")
    class U(pickle.Unpickler):
        def persistent_load(self, pid):
            return {"type": pid[1], "key": pid[2]}
        def find_class(self, mod, name):
            if name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
                return lambda s, off, size, stride, *a: ("T", s, off, size, stride)
            if mod == "torch":
                return name
            return super().find_class(mod, name)
    for _ in range(3):
        pickle.load(f)
    sd = U(f).load()
    keys = pickle.load(f)
    storages = {}
    for k in keys:
        (n,) = struct.unpack("<q", f.read(8))
        storages[k] = f.tell(), n
        f.seek(n * 8 if any(v[1]["key"] == k and v[1]["type"] == "LongStorage" for v in sd.values()) else n * 4, 1)
    out = {}
    raw = open(path, "rb").read()
    for name, (_, s, off, size, stride) in sd.items():
        if s["type"] != "FloatStorage":
            continue
        pos, n = storages[s["key"]]
        buf = np.frombuffer(raw, dtype="<f4", count=n, offset=pos)
        view = np.lib.stride_tricks.as_strided(buf[off:], shape=size, strides=[4 * x for x in stride])
        out[name] = np.array(view, dtype=np.float32)
    return out

def same_pad(x, k, s):
    c, h, w = x.shape
    oh, ow = -(-h // s), -(-w // s)
    ph, pw = max((oh - 1) * s + k - h, 0), max((ow - 1) * s + k - w, 0)
    return np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))), oh, ow

def conv(x, w, s=1, groups=1):
    cout, cin_g, k, _ = w.shape
    xp, oh, ow = same_pad(x, k, s)
    if groups == 1:
        cols = np.stack([xp[:, ky:ky + s * oh:s, kx:kx + s * ow:s] for ky in range(k) for kx in range(k)], 0)
        # cols: (k*k, C, oh, ow) -> (C*k*k) rows ordered (c, ky, kx) like the weights.
        cols = cols.transpose(1, 0, 2, 3).reshape(cin_g * k * k, oh * ow)
        return (w.reshape(cout, cin_g * k * k) @ cols).reshape(cout, oh, ow)
    out = np.zeros((cout, oh, ow), np.float32)
    for ky in range(k):
        for kx in range(k):
            out += w[:, 0, ky, kx][:, None, None] * xp[:, ky:ky + s * oh:s, kx:kx + s * ow:s]
    return out

def bn(x, p, name):
    g, b, m, v = (p[f"{name}.{t}"] for t in ("weight", "bias", "running_mean", "running_var"))
    return ((x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-3)) * g[:, None, None] + b[:, None, None]

relu6 = lambda x: np.clip(x, 0, 6)

def block_strides(p):
    """(index, stride) of every MBConv block: a block starts a stage when its output width
    changes, and the first block of stages 2, 3, 4 and 6 has stride 2."""
    plan, i, stage, prev_stage_out = [], 0, 0, -1
    while f"_blocks.{i}._depthwise_conv.weight" in p:
        cout = p[f"_blocks.{i}._project_conv.weight"].shape[0]
        stride = 1
        if cout != prev_stage_out:
            stage += 1; prev_stage_out = cout
            stride = 2 if stage in (2, 3, 4, 6) else 1
        plan.append((i, stride))
        i += 1
    return plan

def forward(p, x, taps):
    out = {}
    x = relu6(bn(conv(x, p["_conv_stem.weight"], 2), p, "_bn0"))
    for i, stride in block_strides(p):
        q = f"_blocks.{i}."
        h = x
        if q + "_expand_conv.weight" in p:
            h = relu6(bn(conv(x, p[q + "_expand_conv.weight"]), p, q + "_bn0"))
        out[f"block{i}.expand"] = h
        c = h.shape[0]
        h = relu6(bn(conv(h, p[q + "_depthwise_conv.weight"], stride, groups=c), p, q + "_bn1"))
        h = bn(conv(h, p[q + "_project_conv.weight"]), p, q + "_bn2")
        if stride == 1 and x.shape[0] == h.shape[0]:
            h = h + x
        x = h
        out[f"block{i}"] = x
    head = relu6(bn(conv(x, p["_conv_head.weight"]), p, "_bn1"))
    out["head"] = head
    out["logits"] = p["_fc.weight"] @ head.mean(axis=(1, 2)) + p["_fc.bias"]
    return {t: out[t] for t in taps}

if __name__ == "__main__":
    model, inp, outdir, *taps = sys.argv[1:]
    p = load_legacy(model)
    x = np.load(inp).astype(np.float32)
    import os, time
    t0 = time.perf_counter()
    result = forward(p, x, taps)
    if os.environ.get("REF_TIME"):
        print(f"forward_seconds {time.perf_counter() - t0:.4f}")
    for t, v in result.items():
        np.save(f"{outdir}/{t}.npy", v.astype(np.float32))
