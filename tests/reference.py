"""Naive NumPy (float64) references for every layer: plain loops and einsums written straight
from the definitions, independent of the C++ code (im2col, GEMM, banding)."""
import numpy as np


def conv_out(size, k, s, p, d):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def conv2d(x, w, b, s=(1, 1), p=(0, 0), d=(1, 1), group=1):
    """y[n, o, y, x] = sum_{c,i,j} w[o, c, i, j] * xpad[n, g*Cg + c, y*s + i*d, x*s + j*d] + b[o]."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    Ho, Wo = conv_out(H, kh, s[0], p[0], d[0]), conv_out(W, kw, s[1], p[1], d[1])
    xp = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]))
    xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W] = x
    y = np.zeros((N, O, Ho, Wo))
    Og = O // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * Cg:(g + 1) * Cg, i * d[0]:i * d[0] + s[0] * (Ho - 1) + 1:s[0],
                           j * d[1]:j * d[1] + s[1] * (Wo - 1) + 1:s[1]]
                y[:, g * Og:(g + 1) * Og] += np.einsum("oc,nchw->nohw", w[g * Og:(g + 1) * Og, :, i, j], patch)
    if b is not None:
        y += b[None, :, None, None]
    return y


def conv2d_backward(x, w, dy, s=(1, 1), p=(0, 0), d=(1, 1), group=1):
    """Returns (dx, dw, db) of conv2d for output gradient dy."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    Ho, Wo = dy.shape[2:]
    xp = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]))
    xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w, dtype=np.float64)
    Og = O // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                sl = (slice(None), slice(g * Cg, (g + 1) * Cg), slice(i * d[0], i * d[0] + s[0] * (Ho - 1) + 1, s[0]),
                      slice(j * d[1], j * d[1] + s[1] * (Wo - 1) + 1, s[1]))
                dyg = dy[:, g * Og:(g + 1) * Og]
                dw[g * Og:(g + 1) * Og, :, i, j] = np.einsum("nohw,nchw->oc", dyg, xp[sl])
                dxp[sl] += np.einsum("oc,nohw->nchw", w[g * Og:(g + 1) * Og, :, i, j], dyg)
    return dxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W], dw, dy.sum(axis=(0, 2, 3))


def deconv2d(x, w, b, s=(1, 1), p=(0, 0), d=(1, 1), group=1):
    """The transpose of conv2d: out[n, o, y*s + i*d - p, x*s + j*d - p] += x[n, c, y, x] * w[c, o, i, j]."""
    N, C, H, W = x.shape
    _, Og, kh, kw = w.shape
    Ho = s[0] * (H - 1) + d[0] * (kh - 1) + 1 - 2 * p[0]
    Wo = s[1] * (W - 1) + d[1] * (kw - 1) + 1 - 2 * p[1]
    big = np.zeros((N, Og * group, Ho + 2 * p[0], Wo + 2 * p[1]))
    Cg = C // group
    for g in range(group):
        for i in range(kh):
            for j in range(kw):
                big[:, g * Og:(g + 1) * Og, i * d[0]:i * d[0] + s[0] * (H - 1) + 1:s[0],
                    j * d[1]:j * d[1] + s[1] * (W - 1) + 1:s[1]] += np.einsum(
                        "co,nchw->nohw", w[g * Cg:(g + 1) * Cg, :, i, j], x[:, g * Cg:(g + 1) * Cg])
    y = big[:, :, p[0]:p[0] + Ho, p[1]:p[1] + Wo]
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def pool2d(x, k, s, p, method, ceil=True):
    """Caffe pooling, written out window by window. Returns (y, argmax-or-None)."""
    N, C, H, W = x.shape
    def size(n, kk, ss, pp):
        v = (n + 2 * pp - kk) / ss
        o = int(np.ceil(v) if ceil else np.floor(v)) + 1
        if pp > 0 and (o - 1) * ss >= n + pp:
            o -= 1
        return o
    Ho, Wo = size(H, k[0], s[0], p[0]), size(W, k[1], s[1], p[1])
    y = np.zeros((N, C, Ho, Wo))
    arg = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for oh in range(Ho):
        for ow in range(Wo):
            hs, ws = oh * s[0] - p[0], ow * s[1] - p[1]
            if method == "MAX":
                h0, w0, h1, w1 = max(hs, 0), max(ws, 0), min(hs + k[0], H), min(ws + k[1], W)
                win = x[:, :, h0:h1, w0:w1].reshape(N, C, -1)
                a = win.argmax(-1)
                y[:, :, oh, ow] = win.max(-1)
                arg[:, :, oh, ow] = (h0 + a // (w1 - w0)) * W + (w0 + a % (w1 - w0))
            else:
                h1, w1 = min(hs + k[0], H + p[0]), min(ws + k[1], W + p[1])
                area = (h1 - hs) * (w1 - ws)
                y[:, :, oh, ow] = x[:, :, max(hs, 0):min(h1, H), max(ws, 0):min(w1, W)].sum(axis=(2, 3)) / area
    return y, (arg if method == "MAX" else None)


def pool2d_backward(x, dy, k, s, p, method, arg=None):
    N, C, H, W = x.shape
    dx = np.zeros_like(x, dtype=np.float64)
    Ho, Wo = dy.shape[2:]
    for oh in range(Ho):
        for ow in range(Wo):
            if method == "MAX":
                flat = dx.reshape(N, C, -1)
                for n in range(N):
                    for c in range(C):
                        flat[n, c, arg[n, c, oh, ow]] += dy[n, c, oh, ow]
            else:
                hs, ws = oh * s[0] - p[0], ow * s[1] - p[1]
                h1, w1 = min(hs + k[0], H + p[0]), min(ws + k[1], W + p[1])
                area = (h1 - hs) * (w1 - ws)
                dx[:, :, max(hs, 0):min(h1, H), max(ws, 0):min(w1, W)] += dy[:, :, oh, ow][:, :, None, None] / area
    return dx


def softmax(x, axis=1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(y, dy, axis=1):
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def bilinear_kernel(k):
    f = int(np.ceil(k / 2))
    c = (k - 1) / (2 * f)
    r = 1 - np.abs(np.arange(k) / f - c)
    return np.outer(r, r)


def philox4x32_10(counter, key):
    """Philox4x32-10 (Salmon et al., SC 2011) written from the paper: ten rounds of two 32x32->64
    multiplies, with the Weyl key schedule bumped before every round but the first."""
    c, (k0, k1), mask = list(counter), key, 0xFFFFFFFF
    for rnd in range(10):
        if rnd:
            k0, k1 = (k0 + 0x9E3779B9) & mask, (k1 + 0xBB67AE85) & mask
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & mask, (p0 >> 32) ^ c[3] ^ k1, p0 & mask]
    return tuple(c)
