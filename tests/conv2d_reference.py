"""The naive NumPy conv2d the conv2d tests compare against: np.pad, then a slice per kernel tap."""

import numpy as np

NUMPY_MODES = {
    "constant": "constant",
    "zeros": "constant",
    "edge": "edge",
    "replicate": "edge",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "wrap": "wrap",
    "circular": "wrap",
}


# ---- the NumPy reference: np.pad, then one strided slice per kernel offset ----------------------


def output_size(size, before, after, kernel, stride, dilation):
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def padded_input(x, pads, mode, value):
    width = ((0, 0),) * (x.ndim - 2) + ((pads[0], pads[1]), (pads[2], pads[3]))
    if NUMPY_MODES[mode] == "constant":
        return np.pad(x, width, mode="constant", constant_values=value)
    return np.pad(x, width, mode=NUMPY_MODES[mode])


def reference_conv2d(
    x,
    w,
    b=None,
    stride=(1, 1),
    pads=(0, 0, 0, 0),
    dilation=(1, 1),
    groups=1,
    pad_value=0.0,
    mode="constant",
):
    """y[n, o, oy, ox] = sum over c in o's group, i, j of
    w[o, c, i, j] * xpad[n, c, oy*sh + i*dh, ox*sw + j*dw]."""
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho = output_size(h, pads[0], pads[1], kh, stride[0], dilation[0])
    wo = output_size(wd, pads[2], pads[3], kw, stride[1], dilation[1])
    xp = padded_input(x, pads, mode, pad_value)
    y = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                top, left = i * dilation[0], j * dilation[1]
                patch = xp[
                    :,
                    g * cg : (g + 1) * cg,
                    top : top + stride[0] * (ho - 1) + 1 : stride[0],
                    left : left + stride[1] * (wo - 1) + 1 : stride[1],
                ]
                y[:, g * og : (g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", patch, w[g * og : (g + 1) * og, :, i, j]
                )
    if b is not None:
        y += b[None, :, None, None]
    return y[0] if unbatched else y


def reference_conv2d_backward(x, w, dy, stride, pads, dilation, groups):
    """(dx, dw, db) of reference_conv2d (zero padding): the same slices, transposed."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho, wo = dy.shape[2:]
    xp = padded_input(x, pads, "constant", 0.0)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    og = o // groups
    for g in range(groups):
        dyg = dy[:, g * og : (g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (ho - 1) + 1, stride[0])
                cols = slice(j * dilation[1], j * dilation[1] + stride[1] * (wo - 1) + 1, stride[1])
                channels = slice(g * cg, (g + 1) * cg)
                dw[g * og : (g + 1) * og, :, i, j] = np.einsum(
                    "nohw,nchw->oc", dyg, xp[:, channels, rows, cols]
                )
                dxp[:, channels, rows, cols] += np.einsum(
                    "nohw,oc->nchw", dyg, w[g * og : (g + 1) * og, :, i, j]
                )
    dx = dxp[:, :, pads[0] : pads[0] + h, pads[2] : pads[2] + wd]
    return dx, dw, dy.sum(axis=(0, 2, 3))
