"""The catalogue of bad input: one case per op or layer and kind of mistake, each raising the right exception
class with a message starting with the op's name — and odd-but-valid input giving the right answer."""

from __future__ import annotations

import re

import numpy as np
import pytest

import simplegrad as sg
from simplegrad import _core, nn

HUGE = 2**40  # any shape with two of these overflows 64-bit byte counts


def W(o: int = 4, c: int = 3, k: int = 3, dtype: str = "float32") -> sg.Tensor:
    return sg.normal((o, c, k, k), dtype=dtype)


def X(n: int = 1, c: int = 3, h: int = 5, w: int = 5, dtype: str = "float32") -> sg.Tensor:
    return sg.normal((n, c, h, w), dtype=dtype)


def labels(*values: int) -> sg.Tensor:
    return sg.Tensor(np.array(values, dtype=np.int64))


def OPT() -> sg.opt.SGD:
    return sg.opt.SGD(nn.Linear(2, 2), lr=0.1, momentum=0.9)


def STATE(**changes) -> dict:
    state = OPT().state_dict()
    state.update(changes)
    return state


class WrongGrad(sg.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return np.ones(3)  # the input has 2 elements


class HalfOut(sg.Function):
    @staticmethod
    def forward(ctx, a):
        return a.astype(np.float16)

    @staticmethod
    def backward(ctx, g):
        return g


class NoBackward(sg.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2


def DATA() -> sg.data.TensorDataset:
    return sg.data.TensorDataset(np.zeros(3))


def reshaped_after_forward() -> sg.Tensor:
    w = sg.Tensor(np.ones((2, 3)), label="w")
    y = sg.sum(w * 3)
    w.values = np.ones(4)  # a new shape: the graph's gradient (2, 3) would be summed into (4,)
    return y


def written_then_scheduled(lr) -> None:
    opt = OPT()
    opt.param_groups[0]["lr"] = lr
    sg.sch.StepLR(opt, step_size=1, gamma=0.5).step()


def stepped_with_group(opt: sg.opt.Optimizer, **settings) -> None:
    opt.param_groups[0].update(settings)  # written directly, as PyTorch users do
    for p in opt.param_groups[0]["params"].values():
        p.grad = np.ones(p.shape)
    opt.step()


class Ragged(sg.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.zeros(i + 1), np.array(i)


# (id, thunk, exception class, regex the message must start with)
CASES = [
    # ---- wrong ndim -------------------------------------------------------------------------------
    ("conv2d-x-2d", lambda: sg.conv2d(sg.ones((5, 5)), W()), ValueError, "conv2d"),
    ("conv2d-x-5d", lambda: sg.conv2d(sg.ones((1, 1, 3, 5, 5)), W()), ValueError, "conv2d"),
    ("conv2d-weight-3d", lambda: sg.conv2d(X(), sg.ones((4, 3, 3))), ValueError, "conv2d"),
    ("conv2d-bias-2d", lambda: sg.conv2d(X(), W(), sg.ones((4, 1))), ValueError, "conv2d"),
    ("max_pool2d-x-2d", lambda: sg.max_pool2d(sg.ones((4, 4)), 2), ValueError, "max_pool2d"),
    ("avg_pool2d-x-5d", lambda: sg.avg_pool2d(sg.ones((1, 1, 1, 4, 4)), 2), ValueError, "avg_pool2d"),
    ("pad-0d", lambda: sg.pad(sg.Tensor(1.0), 1), ValueError, "pad"),
    ("pad-int-width-1d", lambda: sg.pad(sg.ones((3,)), 1), ValueError, "pad"),
    ("pad-too-many-pairs", lambda: sg.pad(sg.ones((3,)), ((1, 1), (1, 1))), ValueError, "pad"),
    ("matmul-0d", lambda: sg.Tensor(2.0) @ sg.ones((2, 2)), ValueError, "matmul"),
    ("trace-3d", lambda: sg.trace(sg.ones((2, 2, 2))), ValueError, "trace"),
    ("Conv2d-x-2d", lambda: nn.Conv2d(3, 4, 3)(sg.ones((5, 5))), ValueError, "conv2d|Conv2d"),
    ("MaxPool2d-x-2d", lambda: nn.MaxPool2d(2)(sg.ones((4, 4))), ValueError, "max_pool2d|MaxPool2d"),
    ("AvgPool2d-x-2d", lambda: nn.AvgPool2d(2)(sg.ones((4, 4))), ValueError, "avg_pool2d|AvgPool2d"),
    ("BatchNorm2d-x-3d", lambda: nn.BatchNorm2d(3)(sg.ones((3, 4, 4))), ValueError, "BatchNorm2d"),
    ("Flatten-start-out-of-range", lambda: nn.Flatten(start_dim=5)(sg.ones((2, 3))), IndexError,
     "Flatten|flatten"),
    ("flatten-start-out-of-range", lambda: sg.flatten(sg.ones((2, 3)), start_dim=3), IndexError,
     "flatten"),
    ("flatten-end-out-of-range", lambda: sg.flatten(sg.ones((2, 3)), 0, -4), IndexError, "flatten"),
    ("sum-dim", lambda: sg.sum(sg.ones((2, 3)), dim=2), IndexError, "sum"),
    ("mean-dim", lambda: sg.mean(sg.ones((2, 3)), dim=-3), IndexError, "mean"),
    ("max-dim", lambda: sg.max(sg.ones((2, 3)), dim=7), IndexError, "max"),
    ("argmax-dim", lambda: sg.argmax(sg.ones((2, 3)), dim=2), IndexError, "argmax"),
    ("variance-dim", lambda: sg.variance(sg.ones((2, 3)), dim=2), IndexError, "variance"),
    ("softmax-dim", lambda: sg.softmax(sg.ones((2, 3)), dim=2), IndexError, "softmax"),
    ("log_softmax-dim", lambda: sg.log_softmax(sg.ones((2, 3)), dim=-3), IndexError, "log_softmax"),
    ("norm-dim", lambda: sg.norm(sg.ones((2, 3)), dims=4), IndexError, "norm"),
    ("transpose-dim", lambda: sg.ones((2, 3)).transpose(0, 2), IndexError, "transpose"),
    ("permute-not-a-permutation", lambda: sg.ones((2, 3)).permute(0, 0), ValueError, "permute"),
    ("getitem-out-of-range", lambda: sg.ones((2, 3))[2], IndexError, "getitem"),
    ("getitem-too-many", lambda: sg.ones((2, 3))[0, 0, 0], IndexError, "getitem"),
    ("Softmax-layer-dim", lambda: nn.Softmax(dim=3)(sg.ones((2, 3))), IndexError, "softmax|Softmax"),
    # ---- mismatched shapes and channels ---------------------------------------------------------------
    ("conv2d-channels", lambda: sg.conv2d(X(c=3), W(c=4)), ValueError,
     r"conv2d: weight has 4 input channels but x has 3"),
    ("conv2d-bias-size", lambda: sg.conv2d(X(), W(), sg.ones((5,))), ValueError, "conv2d"),
    ("conv2d-groups-channels", lambda: sg.conv2d(X(c=4), W(o=4, c=4), groups=2), ValueError,
     "conv2d"),
    ("Conv2d-channels", lambda: nn.Conv2d(3, 4, 3)(X(c=2)), ValueError, "conv2d|Conv2d"),
    ("add-broadcast", lambda: sg.ones((2, 3)) + sg.ones((4,)), ValueError, "add"),
    ("sub-broadcast", lambda: sg.ones((2, 3)) - sg.ones((2, 2)), ValueError, "sub"),
    ("mul-broadcast", lambda: sg.ones((2, 3)) * np.ones((3, 3)), ValueError, "mul"),
    ("div-broadcast", lambda: sg.div(sg.ones((2, 3)), sg.ones((3, 2))), ValueError, "div"),
    ("pow-broadcast", lambda: sg.ones((2, 3)) ** sg.ones((5,)), ValueError, "pow"),
    ("matmul-inner", lambda: sg.ones((2, 3)) @ sg.ones((4, 5)), ValueError, "matmul"),
    ("matmul-batch", lambda: sg.ones((2, 2, 3)) @ sg.ones((3, 3, 4)), ValueError, "matmul"),
    ("maximum-broadcast", lambda: sg.maximum(sg.ones((2, 3)), sg.ones((4,))), ValueError, "maximum"),
    ("minimum-broadcast", lambda: sg.minimum(sg.ones((2, 3)), sg.ones((4,))), ValueError, "minimum"),
    ("where-broadcast", lambda: sg.where(sg.ones((2, 3)) > 0, sg.ones((2, 3)), sg.ones((4,))),
     ValueError, "where"),
    ("concat-shapes", lambda: sg.concat([sg.ones((2, 3)), sg.ones((2, 4))], 0), ValueError, "concat"),
    ("concat-nothing", lambda: sg.concat([], 0), ValueError, "concat"),
    ("stack-shapes", lambda: sg.stack([sg.ones((2, 3)), sg.ones((3, 2))]), ValueError, "stack"),
    ("reshape-count", lambda: sg.ones((2, 3)).reshape(4, 2), ValueError, "reshape"),
    ("ce_loss-shape", lambda: sg.ce_loss(sg.ones((2, 3)), sg.ones((2, 4))), ValueError, "ce_loss"),
    ("ce_loss-label-high", lambda: sg.ce_loss(sg.ones((2, 3)), labels(0, 3)), IndexError, "ce_loss"),
    ("ce_loss-label-negative", lambda: sg.ce_loss(sg.ones((2, 3)), labels(0, -1)), IndexError,
     "ce_loss"),
    ("ce_loss-reduction", lambda: sg.ce_loss(sg.ones((2, 3)), labels(0, 1), reduction="avg"),
     ValueError, "ce_loss"),
    ("mse_loss-shape", lambda: sg.mse_loss(sg.ones((2, 3)), sg.ones((3, 2))), ValueError, "mse_loss"),
    ("CELoss-shape", lambda: nn.CELoss()(sg.ones((2, 3)), sg.ones((2, 4))), ValueError,
     "ce_loss|CELoss"),
    ("MSELoss-shape", lambda: nn.MSELoss()(sg.ones((2, 3)), sg.ones((2, 4))), ValueError,
     "mse_loss|MSELoss"),
    ("Linear-features", lambda: nn.Linear(3, 2)(sg.ones((4, 5))), ValueError, "Linear"),
    ("BatchNorm2d-channels", lambda: nn.BatchNorm2d(3)(sg.ones((2, 4, 3, 3))), ValueError,
     "BatchNorm2d"),
    ("LayerNorm-shape", lambda: nn.LayerNorm(4)(sg.ones((2, 3))), ValueError, "LayerNorm"),
    ("Embedding-index-high", lambda: nn.Embedding(10, 3)(labels(10)), IndexError, "Embedding"),
    ("Embedding-float-index", lambda: nn.Embedding(10, 3)(sg.Tensor([1.5])), TypeError, "Embedding"),
    ("backward-grad-shape", lambda: (sg.ones((2,)) * 2).backward(np.ones(3)), ValueError, "backward"),
    ("grad-assign-shape", lambda: setattr(sg.ones((2,)), "grad", np.ones(3)), ValueError,
     r"Tensor\.grad"),
    ("item-many", lambda: sg.ones((2,)).item(), ValueError, "item"),
    # ---- wrong dtypes: bool, complex, object, strings ------------------------------------------------
    ("Tensor-complex", lambda: sg.Tensor(np.ones(3, complex)), TypeError, "Tensor"),
    ("Tensor-object", lambda: sg.Tensor(np.array([object(), 1], dtype=object)), TypeError, "Tensor"),
    ("Tensor-string", lambda: sg.Tensor("abc"), TypeError, "Tensor"),
    ("Tensor-strings", lambda: sg.Tensor(["1", "2"]), TypeError, "Tensor"),
    ("Tensor-ragged", lambda: sg.Tensor([[1.0], [1.0, 2.0]]), TypeError, "Tensor"),
    ("Tensor-dtype-complex", lambda: sg.Tensor([1.0], dtype="complex64"), TypeError, "Tensor"),
    ("Tensor-dtype-int", lambda: sg.Tensor([1.0], dtype=5), TypeError, "Tensor"),
    ("Tensor-int-requires-grad", lambda: sg.Tensor([1], dtype="int64", requires_grad=True),
     ValueError, "Tensor"),
    ("conv2d-int-x", lambda: sg.conv2d(sg.Tensor(np.ones((1, 3, 5, 5), np.int64)), W()), TypeError,
     "conv2d"),
    ("conv2d-bool-tensor", lambda: sg.conv2d(X() > 0, W()), TypeError, "conv2d"),
    ("conv2d-complex-x", lambda: sg.conv2d(np.ones((1, 3, 5, 5), complex), W()), TypeError,
     "conv2d|Tensor"),
    ("conv2d-string-x", lambda: sg.conv2d("image", W()), TypeError, "conv2d"),
    ("conv2d-mixed-float", lambda: sg.conv2d(X(dtype="float64"), W()), TypeError, "conv2d"),
    ("conv2d-bias-dtype", lambda: sg.conv2d(X(), W(), sg.ones((4,), dtype="float64")), TypeError,
     "conv2d"),
    ("conv2d-stride-float", lambda: sg.conv2d(X(), W(), stride=1.5), TypeError, "conv2d"),
    ("conv2d-stride-bool", lambda: sg.conv2d(X(), W(), stride=True), TypeError, "conv2d"),
    ("conv2d-pad-value-string", lambda: sg.conv2d(X(), W(), pad_value="0"), TypeError, "conv2d"),
    ("conv2d-pad-mode", lambda: sg.conv2d(X(), W(), padding=1, pad_mode="mirror"), ValueError,
     "conv2d"),
    ("pad-int-x", lambda: sg.pad(sg.Tensor(np.ones((2, 2), np.int32)), 1), TypeError, "pad"),
    ("pad-width-float", lambda: sg.pad(sg.ones((2, 2)), 1.5), TypeError, "pad"),
    ("pad-width-string", lambda: sg.pad(sg.ones((2, 2)), "1"), TypeError, "pad"),
    ("pad-mode", lambda: sg.pad(sg.ones((2, 2)), 1, mode="mirror"), ValueError, "pad"),
    ("pad-mode-type", lambda: sg.pad(sg.ones((2, 2)), 1, mode=3), TypeError, "pad"),
    ("pad-value-complex", lambda: sg.pad(sg.ones((2, 2)), 1, value=1j), TypeError, "pad"),
    ("max_pool2d-int-x", lambda: sg.max_pool2d(sg.Tensor(np.ones((1, 1, 4, 4), np.int64)), 2),
     TypeError, "max_pool2d"),
    ("avg_pool2d-kernel-float", lambda: sg.avg_pool2d(X(), 2.0), TypeError, "avg_pool2d"),
    ("relu-int", lambda: sg.relu(sg.Tensor(np.ones(3, np.int64))), TypeError, "relu"),
    ("exp-none", lambda: sg.exp(None), TypeError, "exp"),
    ("log-string", lambda: sg.log("x"), TypeError, "log"),
    ("add-string", lambda: sg.ones((2,)) + "a", TypeError, "add"),
    ("radd-string", lambda: "a" + sg.ones((2,)), TypeError, "add"),
    ("mul-complex", lambda: sg.ones((2,)) * 1j, TypeError, "mul"),
    ("mul-complex-array", lambda: sg.ones((2,)) * np.ones(2, complex), TypeError, "mul|Tensor"),
    ("pow-complex", lambda: sg.ones((2,)) ** 1j, TypeError, "pow"),
    ("matmul-scalar", lambda: sg.ones((2,)) @ 2.0, TypeError, "matmul"),
    ("clip-string", lambda: sg.clip(sg.ones((2,)), "a", 1), TypeError, "clip"),
    ("elu-alpha", lambda: sg.elu(sg.ones((2,)), alpha="a"), TypeError, "elu"),
    ("leaky_relu-slope", lambda: sg.leaky_relu(sg.ones((2,)), "a"), TypeError, "leaky_relu"),
    ("gelu-mode", lambda: sg.gelu(sg.ones((2,)), mode="exact"), ValueError, "gelu"),
    ("ce_loss-float-labels", lambda: sg.ce_loss(sg.ones((2, 3)), sg.Tensor([0.5, 1.0])), ValueError,
     "ce_loss"),
    ("ELU-alpha", lambda: nn.ELU(alpha="x"), TypeError, "ELU"),
    ("GELU-mode", lambda: nn.GELU(mode="x"), ValueError, "GELU"),
    ("Linear-float-size", lambda: nn.Linear(2.5, 3), TypeError, "Linear"),
    ("Conv2d-pad-mode", lambda: nn.Conv2d(3, 4, 3, pad_mode="mirror"), ValueError, "Conv2d"),
    ("Sequential-not-module", lambda: nn.Sequential(3), TypeError, "Sequential"),
    ("default_dtype-int8", lambda: sg.default_dtype("int8"), TypeError, "default_dtype"),
    ("zeros-float-shape", lambda: sg.zeros((2.5, 3)), TypeError, "zeros|full"),
    ("zeros-string-shape", lambda: sg.zeros("ab"), TypeError, "zeros|full"),
    ("set_num_threads-float", lambda: sg.set_num_threads(2.0), TypeError, "set_num_threads"),
    # ---- zero and negative sizes ------------------------------------------------------------------------
    ("zeros-negative", lambda: sg.zeros((-1, 3)), ValueError, "zeros|full"),
    ("normal-negative", lambda: sg.normal((2, -3)), ValueError, "normal"),
    ("reshape-two-unknown", lambda: sg.ones((2, 3)).reshape(-1, -1), ValueError, "reshape"),
    ("Linear-zero", lambda: nn.Linear(0, 3), ValueError, "Linear"),
    ("Linear-negative", lambda: nn.Linear(3, -2), ValueError, "Linear"),
    ("Conv2d-negative-channels", lambda: nn.Conv2d(-1, 3, 3), ValueError, "Conv2d"),
    ("Conv2d-zero-kernel", lambda: nn.Conv2d(1, 3, 0), ValueError, "Conv2d"),
    ("BatchNorm2d-negative", lambda: nn.BatchNorm2d(-3), ValueError, "BatchNorm2d"),
    ("Embedding-negative", lambda: nn.Embedding(-1, 3), ValueError, "Embedding"),
    ("conv2d-empty-kernel", lambda: sg.conv2d(X(), sg.ones((4, 3, 0, 3))), ValueError, "conv2d"),
    ("max_pool2d-zero-kernel", lambda: sg.max_pool2d(X(), 0), ValueError, "max_pool2d"),
    ("MaxPool2d-zero-kernel", lambda: nn.MaxPool2d(0), ValueError, "MaxPool2d"),
    ("pad-negative", lambda: sg.pad(sg.ones((2, 2)), -1), ValueError, "pad"),
    ("pad-negative-pair", lambda: sg.pad(sg.ones((2, 2)), ((0, 0), (-1, 2))), ValueError, "pad"),
    ("conv2d-negative-padding", lambda: sg.conv2d(X(), W(), padding=-1), ValueError, "conv2d"),
    ("avg_pool2d-negative-padding", lambda: sg.avg_pool2d(X(), 2, padding=(0, -1)), ValueError,
     "avg_pool2d"),
    ("variance-no-dof", lambda: sg.variance(sg.ones((1,)), correction=1), ValueError, "variance"),
    ("Dropout-p-one", lambda: nn.Dropout(1.0), ValueError, "Dropout"),
    ("Dropout-p-negative", lambda: nn.Dropout(-0.1), ValueError, "Dropout"),
    ("arange-zero-step", lambda: sg.arange(0, 3, 0), ValueError, "arange"),
    ("set_num_threads-zero", lambda: sg.set_num_threads(0), ValueError, "set_num_threads"),
    ("set_num_threads-absurd", lambda: sg.set_num_threads(100_000), ValueError, "set_num_threads"),
    # ---- zero / negative stride, dilation, groups ---------------------------------------------------
    ("conv2d-stride-zero", lambda: sg.conv2d(X(), W(), stride=0), ValueError, "conv2d"),
    ("conv2d-stride-negative", lambda: sg.conv2d(X(), W(), stride=(1, -1)), ValueError, "conv2d"),
    ("conv2d-stride-triple", lambda: sg.conv2d(X(), W(), stride=(1, 1, 1)), ValueError, "conv2d"),
    ("conv2d-dilation-zero", lambda: sg.conv2d(X(), W(), dilation=0), ValueError, "conv2d"),
    ("conv2d-dilation-negative", lambda: sg.conv2d(X(), W(), dilation=-2), ValueError, "conv2d"),
    ("conv2d-groups-zero", lambda: sg.conv2d(X(), W(), groups=0), ValueError, "conv2d"),
    ("conv2d-groups-negative", lambda: sg.conv2d(X(), W(), groups=-1), ValueError, "conv2d"),
    ("conv2d-groups-not-dividing", lambda: sg.conv2d(X(c=4), W(o=4, c=2), groups=3), ValueError,
     "conv2d"),
    ("Conv2d-stride-zero", lambda: nn.Conv2d(1, 3, 3, stride=0), ValueError, "Conv2d"),
    ("Conv2d-dilation-zero", lambda: nn.Conv2d(1, 3, 3, dilation=0), ValueError, "Conv2d"),
    ("Conv2d-groups-zero", lambda: nn.Conv2d(4, 4, 3, groups=0), ValueError, "Conv2d"),
    ("Conv2d-groups-not-dividing", lambda: nn.Conv2d(4, 4, 3, groups=3), ValueError, "Conv2d"),
    ("max_pool2d-stride-zero", lambda: sg.max_pool2d(X(), 2, stride=0), ValueError, "max_pool2d"),
    ("avg_pool2d-stride-negative", lambda: sg.avg_pool2d(X(), 2, stride=-1), ValueError,
     "avg_pool2d"),
    ("max_pool2d-dilation-zero", lambda: sg.max_pool2d(X(), 2, dilation=0), ValueError, "max_pool2d"),
    ("AvgPool2d-stride-negative", lambda: nn.AvgPool2d(2, stride=-1), ValueError, "AvgPool2d"),
    # ---- kernel larger than the input ---------------------------------------------------------------
    ("conv2d-kernel-too-big", lambda: sg.conv2d(X(h=2, w=2), W()), ValueError, "conv2d"),
    ("conv2d-dilated-too-big", lambda: sg.conv2d(X(), W(), dilation=3), ValueError, "conv2d"),
    ("Conv2d-kernel-too-big", lambda: nn.Conv2d(3, 4, 7)(X()), ValueError, "conv2d|Conv2d"),
    ("max_pool2d-kernel-too-big", lambda: sg.max_pool2d(X(), 6), ValueError, "max_pool2d"),
    ("avg_pool2d-kernel-too-big", lambda: sg.avg_pool2d(X(), (2, 9)), ValueError, "avg_pool2d"),
    ("MaxPool2d-kernel-too-big", lambda: nn.MaxPool2d(7)(X()), ValueError, "max_pool2d|MaxPool2d"),
    # ---- padding a mode cannot do -------------------------------------------------------------------
    ("pad-reflect-empty-axis", lambda: sg.pad(sg.ones((2, 0)), 1, mode="reflect"), ValueError, "pad"),
    ("pad-edge-empty-axis", lambda: sg.pad(sg.ones((0, 2)), 1, mode="edge"), ValueError, "pad"),
    ("pad-wrap-empty-axis", lambda: sg.pad(sg.ones((1, 0, 2)), 1, mode="circular"), ValueError,
     "pad"),
    ("conv2d-reflect-empty", lambda: sg.conv2d(X(h=0), W(k=1), padding=1, pad_mode="reflect"),
     ValueError, "conv2d|pad"),
    ("conv2d-padding-alias-conflict", lambda: sg.conv2d(X(), W(), pad_width=1, padding=2),
     ValueError, "conv2d"),
    # an explicit 0 is not the default: it must agree with the alias too
    ("conv2d-padding-alias-zero", lambda: sg.conv2d(X(), W(), pad_width=0, padding=2),
     ValueError, "conv2d: pad_width=0 and padding=2 disagree"),
    ("Conv2d-padding-alias-zero", lambda: nn.Conv2d(3, 4, 3, pad_width=0, padding=1),
     ValueError, "Conv2d"),
    ("max_pool2d-padding-alias-zero", lambda: sg.max_pool2d(X(), 2, pad_width=0, padding=1),
     ValueError, "max_pool2d"),
    ("AvgPool2d-padding-alias-conflict", lambda: nn.AvgPool2d(2, pad_width=(1, 0), padding=1),
     ValueError, "AvgPool2d"),
    # ---- a dilated window whose extent overflows int64 (was an out-of-bounds read) -------------------
    ("max_pool2d-dilated-extent-overflow",
     lambda: sg.max_pool2d(X(), (1, 2**32), stride=(1, 2**32), dilation=(1, 2**32)), ValueError,
     "max_pool2d: kernel .* is larger than the padded input"),
    ("avg_pool2d-dilated-extent-overflow",
     lambda: sg.avg_pool2d(X(), 2**32, stride=2**32, dilation=2**32), ValueError, "avg_pool2d"),
    ("AvgPool2d-dilated-extent-overflow",
     lambda: nn.AvgPool2d(2**32, stride=2**32, dilation=2**32)(X()), ValueError,
     "avg_pool2d|AvgPool2d"),
    # ---- byte counts that overflow 64 bits: refused before any allocation ------------------------------
    ("zeros-overflow", lambda: sg.zeros((HUGE, HUGE)), MemoryError, "zeros|full"),
    ("ones-overflow", lambda: sg.ones((2**62, 4)), MemoryError, "ones|full"),
    ("full-overflow", lambda: sg.full((HUGE, HUGE, HUGE), 1.0), MemoryError, "full"),
    ("normal-overflow", lambda: sg.normal((HUGE, HUGE)), MemoryError, "normal"),
    ("uniform-overflow", lambda: sg.uniform((HUGE, HUGE)), MemoryError, "uniform"),
    ("randn-overflow", lambda: sg.randn(HUGE, HUGE), MemoryError, "randn|normal"),
    ("rand-overflow", lambda: sg.rand(HUGE, HUGE), MemoryError, "rand|uniform"),
    ("eye-overflow", lambda: sg.eye(HUGE), MemoryError, "eye|zeros|full"),
    ("arange-overflow", lambda: sg.arange(2**62), (MemoryError, ValueError), "arange"),
    ("reshape-overflow", lambda: sg.ones((2, 3)).reshape(HUGE, HUGE), ValueError, "reshape"),
    ("pad-overflow", lambda: sg.pad(sg.ones((2, 2)), 2**62), MemoryError, "pad"),
    ("pad-huge", lambda: sg.pad(sg.ones((2, 2)), HUGE), MemoryError, "pad"),
    ("conv2d-padding-overflow", lambda: sg.conv2d(X(), W(), padding=2**62), MemoryError, "conv2d"),
    ("conv2d-padding-huge", lambda: sg.conv2d(X(), W(), padding=HUGE), MemoryError, "conv2d"),
    ("max_pool2d-padding-huge", lambda: sg.max_pool2d(X(), 2, padding=HUGE), MemoryError,
     "max_pool2d"),
    ("avg_pool2d-kernel-huge", lambda: sg.avg_pool2d(X(), HUGE, padding=HUGE), MemoryError,
     "avg_pool2d"),
    ("Linear-overflow", lambda: nn.Linear(HUGE, HUGE), MemoryError, "Linear"),
    ("Conv2d-overflow", lambda: nn.Conv2d(2**20, 2**20, 2**10), MemoryError, "Conv2d"),
    ("Embedding-overflow", lambda: nn.Embedding(HUGE, HUGE), MemoryError, "Embedding"),
    # ---- hyperparameters that are not finite ---------------------------------------------------------
    ("SGD-lr-inf", lambda: sg.opt.SGD([sg.ones((2,))], lr=np.inf), ValueError, "SGD: lr"),
    ("SGD-momentum-nan", lambda: sg.opt.SGD([sg.ones((2,))], momentum=np.nan), ValueError,
     "SGD: momentum"),
    ("SGD-weight-decay-inf", lambda: sg.opt.SGD([sg.ones((2,))], weight_decay=np.inf), ValueError,
     "SGD: weight_decay"),
    ("Adam-eps-nan", lambda: sg.opt.Adam([sg.ones((2,))], eps=np.nan), ValueError, "Adam: eps"),
    ("AdamW-weight-decay-nan", lambda: sg.opt.AdamW([sg.ones((2,))], weight_decay=np.nan),
     ValueError, "AdamW: weight_decay"),
    # ---- operands that are not numbers ----------------------------------------------------------------
    ("add-string-first", lambda: sg.add("a", sg.ones((2,))), TypeError, "add"),
    ("less-string-first", lambda: sg.less("a", sg.ones((2,))), TypeError, "less"),
    ("values-strings", lambda: setattr(sg.ones((2,)), "values", np.array(["a", "b"])), TypeError,
     "Tensor.values"),
    # ---- ints past int64 (were pybind11 argument dumps) ----------------------------------------------
    ("zeros-past-int64", lambda: sg.zeros((2**64,)), MemoryError, "zeros"),
    ("eye-past-int64", lambda: sg.eye(2**64), MemoryError, "eye"),
    ("Linear-past-int64", lambda: nn.Linear(2**64, 2), MemoryError, "Linear"),
    ("Conv2d-kernel-past-int64", lambda: nn.Conv2d(1, 1, 2**64), ValueError, "Conv2d"),
    ("pad-past-int64", lambda: sg.pad(X(), 2**64), ValueError, "pad"),
    ("conv2d-stride-past-int64", lambda: sg.conv2d(X(), W(), stride=2**64), ValueError, "conv2d"),
    ("max_pool2d-stride-past-int64", lambda: sg.max_pool2d(X(), 2, stride=2**64), ValueError,
     "max_pool2d"),
    ("avg_pool2d-padding-past-int64", lambda: sg.avg_pool2d(X(), 2, padding=2**64), ValueError,
     "avg_pool2d"),
    ("set_num_threads-past-int32", lambda: sg.set_num_threads(2**40), ValueError,
     "set_num_threads: expected at most"),
    ("set_num_threads-past-int64", lambda: sg.set_num_threads(2**64), ValueError,
     "set_num_threads"),
    # ---- factory arguments that are not finite numbers ----------------------------------------------
    ("full-string", lambda: sg.full((2,), "abc"), TypeError, "full"),
    ("full-int64-overflow", lambda: sg.full((2,), 2**70, dtype="int64"), ValueError, "full"),
    ("full-int64-nan", lambda: sg.full((2,), np.nan, dtype="int64"), ValueError, "full"),
    ("normal-sigma-string", lambda: sg.normal((2,), sigma="1"), TypeError, "normal"),
    ("normal-sigma-nan", lambda: sg.normal((2,), sigma=np.nan), ValueError, "normal"),
    ("uniform-high-inf", lambda: sg.uniform((2,), high=np.inf), ValueError, "uniform"),
    ("uniform-low-nan", lambda: sg.uniform((2,), low=np.nan), ValueError, "uniform"),
    ("variance-correction-nan", lambda: sg.variance(sg.ones((3,)), correction=np.nan), ValueError,
     "variance"),
    ("norm-correction-nan", lambda: sg.norm(sg.ones((3,)), 0, correction=np.nan), ValueError,
     "norm"),
    ("BatchNorm2d-eps-nan", lambda: nn.BatchNorm2d(2, eps=np.nan), ValueError, "BatchNorm2d"),
    ("LayerNorm-eps-inf", lambda: nn.LayerNorm(2, eps=np.inf), ValueError, "LayerNorm"),
    # ---- schedules whose values leave the float range --------------------------------------------------
    ("ExponentialLR-start-underflows",
     lambda: sg.sch.ExponentialLR(OPT(), end_lr=0.01, total_steps=1000, gamma=0.1), ValueError,
     "ExponentialLR: the derived start_lr"),
    ("ExponentialLR-end-overflows",
     lambda: sg.sch.ExponentialLR(OPT(), start_lr=0.01, total_steps=1000, gamma=10.0), ValueError,
     "ExponentialLR: the derived end_lr"),
    ("ExponentialLR-endless-overflows",
     lambda: [sched := sg.sch.ExponentialLR(OPT(), start_lr=0.01, gamma=10.0)]
     + [sched.step() for _ in range(400)], ValueError, "ExponentialLR: the learning rate after"),
    ("StepLR-overflows", lambda: [sched := sg.sch.StepLR(OPT(), 1, gamma=10.0)]
     + [sched.step() for _ in range(400)], ValueError, "StepLR: the learning rate after"),
    ("LinearLR-start-inf", lambda: sg.sch.LinearLR(OPT(), start_lr=np.inf, end_lr=0, total_steps=10),
     ValueError, "LinearLR: start_lr"),
    # ---- optimizer states that do not fit -------------------------------------------------------------
    ("load_state_dict-negative-step", lambda: OPT().load_state_dict(STATE(step_count=-1)),
     ValueError, "load_state_dict: step_count"),
    ("load_state_dict-step-string", lambda: OPT().load_state_dict(STATE(step_count="x")),
     ValueError, "load_state_dict: step_count"),
    ("load_state_dict-negative-lr", lambda: OPT().load_state_dict(STATE(lr=-5.0)), ValueError,
     "load_state_dict: lr"),
    ("load_state_dict-group-not-dict", lambda: OPT().load_state_dict(STATE(param_groups=[1])),
     ValueError, "load_state_dict: param_groups"),
    # ---- user Functions that break the contract -----------------------------------------------------
    ("Function-gradient-shape", lambda: WrongGrad.apply(sg.ones((2,))).sum().backward(),
     RuntimeError, r"WrongGrad.backward returned a gradient of shape \(3,\) for an input"),
    ("Function-forward-float16", lambda: HalfOut.apply(sg.ones((2,))), TypeError,
     "HalfOut.forward returned float16"),
    # ---- batches that cannot be stacked ---------------------------------------------------------------
    ("DataLoader-ragged-samples", lambda: list(sg.data.DataLoader(Ragged(), batch_size=2)),
     ValueError, "DataLoader: part 0 of the samples"),
    ("DataLoader-uint64-past-int64",
     lambda: list(sg.data.DataLoader(sg.data.TensorDataset(np.array([2**63 + 5], np.uint64)))),
     ValueError, "DataLoader: uint64"),
    # ---- misuse of autograd and devices -----------------------------------------------------------
    ("backward-twice", lambda: [y := (sg.ones((2,)) * 2).sum(), y.backward(), y.backward()],
     RuntimeError, "backward"),
    ("backward-no-grad", lambda: sg.Tensor([1.0], comp_grad=False).backward(), RuntimeError,
     "backward"),
    ("reshape-float-size", lambda: sg.ones((4, 6)).reshape(4.5, 6), TypeError, "reshape"),
    ("sum-float-dim", lambda: sg.sum(sg.ones((4, 6)), dim=1.0), TypeError, "sum"),
    ("transpose-float-dim", lambda: sg.ones((4, 6)).transpose(0.0, 1), TypeError, "transpose"),
    ("transpose-1d-range", lambda: sg.ones((3,)).transpose(0, 5), IndexError, "transpose"),
    ("flatten-float-dim", lambda: sg.ones((4, 6)).flatten(0.5), TypeError, "flatten"),
    ("permute-float-dim", lambda: sg.ones((4, 6)).permute(1.0, 0), TypeError, "permute"),
    ("sum-0d-dim-1", lambda: sg.sum(sg.Tensor(3.0), dim=1), IndexError, "sum"),
    ("Norm-eps-string", lambda: nn.Norm(3, eps="a"), TypeError, "Norm"),
    ("LayerNorm-eps-None", lambda: nn.LayerNorm(4, eps=None), TypeError, "LayerNorm"),
    ("BatchNorm2d-momentum-None", lambda: nn.BatchNorm2d(2, momentum=None), TypeError,
     "BatchNorm2d"),
    ("Embedding-index-negative", lambda: nn.Embedding(10, 3)(np.array([0, -1])), IndexError,
     "Embedding"),
    ("DataLoader-list-sample", lambda: next(iter(sg.data.DataLoader(
        [[np.ones(3), 1], [np.ones(3), 2]], batch_size=2))), ValueError, "DataLoader"),
    ("LeakyReLU-slope-string", lambda: nn.LeakyReLU("a"), TypeError, "LeakyReLU"),
    ("LeakyReLU-slope-None", lambda: nn.LeakyReLU(None), TypeError, "LeakyReLU"),
    ("conv2d-pad-mode-int", lambda: sg.conv2d(sg.ones((1, 1, 3, 3)), sg.ones((1, 1, 2, 2)),
                                              pad_mode=3), TypeError, "conv2d"),
    ("pad-no-width", lambda: sg.pad(sg.ones((2, 2))), TypeError, "pad"),
    ("pad-widths-disagree", lambda: sg.pad(sg.ones((2, 2)), 1, pad_width=2), ValueError, "pad"),
    ("device-cuda", lambda: sg.ones((2,), device="cuda:0"), RuntimeError, "ones|full"),
    ("device-unknown", lambda: sg.ones((2,), device="tpu"), ValueError, "ones|full|validate_device"),
    # NumPy's own refusals, which surfaced unnamed before
    ("less-no-broadcast", lambda: sg.ones((3, 4)) < sg.ones((3,)), ValueError, "less"),
    ("equal-no-broadcast", lambda: sg.equal(sg.ones((3, 4)), np.ones(3)), ValueError, "equal"),
    ("add-python-int-past-int32", lambda: sg.Tensor([1], dtype="int32") + 2**40, OverflowError,
     "add"),
    ("mul-python-int-past-int64", lambda: 2**64 * sg.Tensor([1], dtype="int64"), OverflowError,
     "mul"),
    ("add-python-int-past-float", lambda: sg.ones((1,)) + 2**2000, OverflowError, "add"),
    ("sub-bools", lambda: sg.equal(sg.ones(2), 1) - sg.equal(sg.ones(2), 1), TypeError, "sub"),
    ("neg-bools", lambda: -sg.equal(sg.ones(2), 1), TypeError, "neg"),
    ("values-ragged", lambda: setattr(sg.ones((2,)), "values", [[1.0], [2.0, 3.0]]), TypeError,
     "Tensor.values"),
    ("grad-ragged", lambda: setattr(sg.ones((2,)), "grad", [[1.0], [2.0, 3.0]]), TypeError,
     "Tensor.grad"),
    ("backward-ragged", lambda: (sg.ones((2,)) * 2).backward([[1.0], [2.0, 3.0]]), TypeError,
     "backward"),
    ("add-ragged-operand", lambda: sg.add(sg.ones((2,)), [[1.0], [2.0, 3.0]]), TypeError, "add"),
    ("div-ints-no-broadcast", lambda: sg.Tensor([1, 2], dtype="int64") / sg.Tensor([1, 2, 3],
                                                                            dtype="int64"),
     ValueError, "div"),
    # ---- sixteenth review: yes/no options take bools only ('no' was truthy: it meant yes) -------
    ("DataLoader-shuffle-string", lambda: sg.data.DataLoader(DATA(), shuffle="no"), TypeError,
     "DataLoader: shuffle must be a bool"),
    ("DataLoader-drop_last-int", lambda: sg.data.DataLoader(DATA(), drop_last=1), TypeError,
     "DataLoader: drop_last"),
    ("Tensor-comp_grad-string", lambda: sg.Tensor([1.0], comp_grad="no"), TypeError,
     "Tensor: comp_grad"),
    ("requires_grad-string", lambda: setattr(sg.ones(2), "requires_grad", "no"), TypeError,
     "requires_grad"),
    ("backward-retain_graph-string", lambda: (sg.ones(2) * 2).backward(retain_graph="no"),
     TypeError, "backward: retain_graph"),
    ("Linear-use_bias-string", lambda: nn.Linear(2, 2, use_bias="no"), TypeError,
     "Linear: use_bias"),
    ("Conv2d-use_bias-string", lambda: nn.Conv2d(2, 2, 3, use_bias="no"), TypeError,
     "Conv2d: use_bias"),
    ("LayerNorm-affine-string", lambda: nn.LayerNorm(2, elementwise_affine="no"), TypeError,
     "LayerNorm: elementwise_affine"),
    ("BatchNorm2d-affine-string", lambda: nn.BatchNorm2d(2, affine="no"), TypeError,
     "BatchNorm2d: affine"),
    ("plateau-verbose-string", lambda: sg.sch.ReduceLROnPlateauLR(OPT(), 0.5, verbose="no"),
     TypeError, "ReduceLROnPlateauLR: verbose"),
    ("plateau-maximize-string",
     lambda: sg.sch.ReduceLROnPlateauLR(OPT(), 0.5, maximize_metric="no"), TypeError,
     "ReduceLROnPlateauLR: maximize_metric"),
    # ---- shapes and element types that were converted silently ----------------------------------
    ("LayerNorm-shape-string", lambda: nn.LayerNorm("12"), TypeError, "LayerNorm"),  # was (1, 2)
    ("LayerNorm-shape-float", lambda: nn.LayerNorm([2.7]), TypeError, "LayerNorm"),  # was (2,)
    ("LayerNorm-shape-bool", lambda: nn.LayerNorm((True,)), TypeError, "LayerNorm"),
    ("zeros_like-string", lambda: sg.zeros_like("abc"), TypeError, "zeros_like"),
    ("ones_like-None", lambda: sg.ones_like(None), TypeError, "ones_like"),
    ("zeros_like-ragged", lambda: sg.zeros_like([[1], [1, 2]]), TypeError, "zeros_like"),
    ("contains-string", lambda: "a" in sg.ones(2), TypeError, "Tensor.__contains__"),
    ("Tensor-None-element", lambda: sg.Tensor([1.0, None]), TypeError, "Tensor: None"),
    ("add-None-element", lambda: sg.ones((2,)) + np.array([1, None], object), TypeError, "add"),
    ("grad-complex", lambda: setattr(sg.ones(2), "grad", np.array([1 + 2j, 3j])), TypeError,
     "Tensor.grad"),  # the imaginary part was dropped
    ("grad-strings", lambda: setattr(sg.ones(2), "grad", np.array(["a", "b"])), TypeError,
     "Tensor.grad"),
    ("grad-None-element", lambda: setattr(sg.ones(2), "grad", np.array([1, None], object)),
     TypeError, "Tensor.grad"),
    ("grad-of-int-tensor", lambda: setattr(sg.Tensor([1, 2], dtype="int64"), "grad", np.ones(2)),
     TypeError, "Tensor.grad"),
    ("reshape-negative-size", lambda: sg.ones(6).reshape(-5, 2), ValueError, "reshape"),
    ("reshape-65-dims", lambda: sg.ones(1).reshape(*[1] * 65), ValueError, "reshape: at most 64"),
    ("zeros-65-dims", lambda: sg.zeros((1,) * 65), ValueError, "zeros: number of dimensions"),
    ("stack-65-dims", lambda: sg.stack([sg.zeros((1,) * 64)] * 2), ValueError, "stack: number"),
    # ---- out of memory named by the op, not the allocator ("empty") -----------------------------
    ("mul-out-of-memory", lambda: sg.zeros((2**20, 1)) * sg.zeros((1, 2**20)), MemoryError,
     "mul: out of memory"),
    ("matmul-out-of-memory", lambda: sg.zeros((2**20, 1)) @ sg.zeros((1, 2**20)), MemoryError,
     "matmul: out of memory"),
    ("less-out-of-memory", lambda: sg.zeros((2**20, 1)) < sg.zeros((1, 2**20)), MemoryError,
     "less: out of memory"),
    # ---- the rest of the sixteenth review -------------------------------------------------------
    ("backward-after-values-reshaped", lambda: reshaped_after_forward().backward(), RuntimeError,
     r"backward: tensor 'w' of shape \(2, 3\) .* 'Mul' was given values of shape"),
    ("SGD-step-lr-written-nan", lambda: stepped_with_group(OPT(), lr=float("nan")), ValueError,
     r"SGD: lr must be .* \(in param group 'default"),
    ("Adam-step-beta-written", lambda: stepped_with_group(sg.opt.Adam(nn.Linear(2, 2)),
                                                          beta_1=1.0), ValueError, "Adam: beta_1"),
    ("getitem-float-slice", lambda: sg.ones(3)[0:1.5], TypeError, "getitem"),
    ("TensorDataset-index", lambda: DATA()[10], IndexError, "TensorDataset"),
    ("bool-of-empty", lambda: bool(sg.zeros((0,))), ValueError, "Tensor: .* with 0 elements"),
    ("conv2d-groups-float", lambda: sg.conv2d(X(c=2), W(o=2, c=1), groups=2.0), TypeError,
     "conv2d: groups must be an int, got"),
    ("Function-without-backward", lambda: NoBackward.apply(sg.ones(2)).backward(),
     NotImplementedError, "Function.backward: "),
    ("zeros-comp_grad-string", lambda: sg.zeros(2, comp_grad="no"), TypeError, "zeros: comp_grad"),
    ("train-mode-string", lambda: nn.Linear(2, 2).train("no"), TypeError, "Linear.train: mode"),
    ("contains-no-broadcast", lambda: sg.ones(3) in sg.ones(2), ValueError, "Tensor.__contains__"),
    ("scheduler-lr-written-string", lambda: written_then_scheduled("0.01"), ValueError,
     "SGD: lr must be"),
    ("clip-int-past-float", lambda: sg.clip(sg.ones(2), 0, 10**400), ValueError, "clip: max"),
    ("elu-int-past-float", lambda: sg.elu(sg.ones(2), alpha=10**400), ValueError, "elu: alpha"),
]


@pytest.mark.parametrize("thunk, error, prefix", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_raises(thunk, error, prefix):
    with pytest.raises(error) as info:
        thunk()
    message = str(info.value)
    assert re.match(rf"({prefix})\b", message), f"message does not start with the op: {message!r}"


def test_catalogue_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


# ---- odd but valid input: the right answer ---------------------------------------------------------------


def conv_reference(x: np.ndarray, w: np.ndarray, stride: int = 1) -> np.ndarray:
    """float64 direct convolution (no padding) of (N, C, H, W) with (O, C, kh, kw)."""
    kh, kw = w.shape[2:]
    ho = (x.shape[2] - kh) // stride + 1
    wo = (x.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out


LAYOUTS = {
    "reversed": lambda a: a[::-1, :, ::-1].copy()[::-1, :, ::-1],
    "transposed": lambda a: np.ascontiguousarray(a.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2),
    "fortran": np.asfortranarray,
    "strided": lambda a: np.repeat(a, 2, axis=3)[..., ::2],
    "negative-last": lambda a: a[..., ::-1].copy()[..., ::-1],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_non_contiguous_numpy_inputs_give_the_right_answer(layout, rng):
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    odd_x, odd_w = LAYOUTS[layout](x.copy()), LAYOUTS[layout](w.copy())
    assert np.array_equal(odd_x, x) and not (odd_x.flags.c_contiguous and odd_w.flags.c_contiguous)
    expected = conv_reference(x, w)
    out = sg.conv2d(sg.Tensor(odd_x, dtype="float64"), sg.Tensor(odd_w, dtype="float64"))
    np.testing.assert_allclose(out.values, expected, rtol=1e-10, atol=1e-10)
    out = sg.conv2d(odd_x.astype(np.float32), odd_w.astype(np.float32))  # plain arrays as operands
    np.testing.assert_allclose(out.values, expected, rtol=1e-4, atol=1e-4)
    pooled = sg.max_pool2d(sg.Tensor(odd_x), 2)
    np.testing.assert_allclose(pooled.values, sg.max_pool2d(sg.Tensor(x), 2).values)
    padded = sg.pad(sg.Tensor(odd_x), 2, mode="reflect")
    np.testing.assert_allclose(padded.values, np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)),
                                                     mode="reflect"), rtol=1e-6)
    np.testing.assert_allclose((sg.Tensor(odd_x) * 2).values, 2 * x, rtol=1e-6)
    np.testing.assert_allclose((sg.Tensor(odd_x[0, 0]) @ sg.Tensor(odd_x[0, 1].T)).values,
                               x[0, 0] @ x[0, 1].T, rtol=1e-5, atol=1e-5)


def test_negatively_strided_values_assignment(rng):
    t = sg.zeros((3, 4))
    a = rng.standard_normal((3, 4))
    t.values = a[::-1, ::-1]
    np.testing.assert_allclose(t.values, a[::-1, ::-1], rtol=1e-6)


def test_read_only_arrays_are_copied_not_rejected(rng):
    a = rng.standard_normal((1, 3, 5, 5))
    a.flags.writeable = False
    t = sg.Tensor(a, dtype="float64")
    t.values[0, 0, 0, 0] = 7.0  # the tensor owns a writable copy
    assert a[0, 0, 0, 0] != 7.0
    w = rng.standard_normal((2, 3, 3, 3))
    w.flags.writeable = False
    out = sg.conv2d(a, w)
    np.testing.assert_allclose(out.values, conv_reference(a, w), rtol=1e-4, atol=1e-4)
    t.values = a  # assigning a read-only array copies it in
    assert t.values.flags.writeable
    grad = np.ones((1, 3, 5, 5))
    grad.flags.writeable = False
    y = sg.Tensor(a) * 2
    y.backward(grad)


def test_zero_size_inputs_give_empty_results():
    out = sg.conv2d(sg.zeros((0, 3, 5, 5)), W())
    assert out.shape == (0, 4, 3, 3)
    out.sum().backward()
    assert sg.max_pool2d(sg.zeros((0, 2, 4, 4)), 2).shape == (0, 2, 2, 2)
    assert sg.avg_pool2d(sg.zeros((2, 0, 4, 4)), 2).shape == (2, 0, 2, 2)
    assert sg.pad(sg.zeros((2, 0)), 1).shape == (4, 2)  # constant mode may extend an empty axis
    assert (sg.zeros((0, 3)) @ sg.zeros((3, 2))).shape == (0, 2)
    assert sg.zeros((0,)).sum().item() == 0.0
    assert nn.Linear(3, 2)(sg.zeros((0, 3))).shape == (0, 2)


def test_reflect_wider_than_the_input_follows_numpy(rng):
    x = rng.standard_normal((1, 1, 3, 2))
    out = sg.pad(sg.Tensor(x, dtype="float64"), 5, mode="reflect")
    np.testing.assert_allclose(out.values, np.pad(x, ((0, 0), (0, 0), (5, 5), (5, 5)), mode="reflect"))
    w = rng.standard_normal((1, 1, 3, 3))
    conv = sg.conv2d(sg.Tensor(x, dtype="float64"), sg.Tensor(w, dtype="float64"), padding=4,
                     pad_mode="reflect")
    expected = conv_reference(np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)), mode="reflect"), w)
    np.testing.assert_allclose(conv.values, expected, rtol=1e-10)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_propagate(bad, rng):
    x = rng.standard_normal((1, 1, 6, 6))
    x[0, 0, 0, 0] = bad
    t = sg.Tensor(x, dtype="float64")
    w = np.ones((1, 1, 3, 3))
    out = sg.conv2d(t, sg.Tensor(w, dtype="float64"))
    assert not np.isfinite(out.values[0, 0, 0, 0])  # the window holding the bad value
    assert np.all(np.isfinite(out.values[0, 0, 1:, :])) and np.all(np.isfinite(out.values[0, 0, :, 1:]))
    pooled = sg.max_pool2d(t, 2).values
    if bad != -np.inf:
        assert not np.isfinite(pooled[0, 0, 0, 0])
    assert np.all(np.isfinite(pooled[0, 0, 1:])) and np.all(np.isfinite(pooled[0, 0, :, 1:]))
    assert not np.isfinite(sg.avg_pool2d(t, 2).values[0, 0, 0, 0])
    assert not np.isfinite(sg.pad(t, 1, mode="edge").values[0, 0, 0, 0])
    with np.errstate(all="ignore"):
        for op in (sg.relu, sg.tanh, sg.sigmoid, sg.exp, sg.gelu, lambda v: sg.softmax(v, dim=-1)):
            op(t).sum().backward()  # no crash, no exception
    assert np.isnan(sg.sum(sg.Tensor([1.0, np.nan])).item())
    conv = nn.Conv2d(1, 2, 3, dtype="float64")
    conv(t).sum().backward()
    assert conv.weight.grad is not None


@pytest.mark.parametrize("call", [
    lambda a: _core.erf(a, np.empty(a.shape, a.dtype)),
    lambda a: _core.max_pool2d_forward(a.reshape(4, 4), [2, 2], [2, 2], [0] * 4, [1, 1]),
    lambda a: _core.avg_pool2d_forward(a.reshape(4, 4), [2, 2], [2, 2], [0] * 4, [1, 1]),
    lambda a: _core.pad_forward(a, [1], [1], "edge"),
], ids=["erf", "max_pool2d", "avg_pool2d", "pad"])
@pytest.mark.parametrize("dtype", [">f4", ">f8"])
def test_core_kernels_refuse_byte_swapped_arrays(call, dtype):
    # The kernels read the machine's byte order: a big-endian array would be read as other numbers.
    a = np.arange(16, dtype=dtype)
    with pytest.raises(TypeError, match="byte order"):
        call(a)


def test_gemm_reads_byte_swapped_operands_by_value(rng):
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((7, 3))
    out = _core.gemm(a.astype(">f8"), b.astype(">f8"))
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)
