"""No leaks: long training keeps the core's bytes in use and the process RSS flat; dropping a graph (or
tensors, layers, optimizers) hands every buffer back, by reference counting alone (no gc needed)."""

from __future__ import annotations

import gc
import os
import resource

import numpy as np
import pytest

import simplegrad as sg
from simplegrad import nn

# Tolerances. The core's accounting is exact, so after warm-up bytes in use must not move at all;
# RSS may wobble with Python's own allocator, so it gets a fixed allowance far below what any
# per-step leak would add over 1 800 steps (a 4 KiB leak per step is 7 MB).
BYTES_IN_USE_TOLERANCE = 0
RSS_TOLERANCE = 4 * 2**20
WARMUP_STEPS = 200
STEPS = 2000


def rss_bytes() -> int:
    """The resident set size of this process now (Linux), or the peak RSS elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        scale = 1 if os.uname().sysname == "Darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def in_use() -> int:
    return sg.memory_stats()["bytes_in_use"]


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, pad_mode="reflect")
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2)
        self.norm = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 2 * 2, 3)

    def forward(self, x: sg.Tensor) -> sg.Tensor:
        x = self.pool(sg.relu(self.conv1(x)))
        x = self.avg(sg.gelu(self.norm(self.conv2(x))))
        return self.fc(sg.flatten(x, 1))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_keeps_memory_flat(optimizer):
    sg.seed(0)
    model = TinyCNN()
    if optimizer == "sgd":
        opt = sg.opt.SGD(model, lr=0.01, momentum=0.9)
    else:
        opt = sg.opt.Adam(model, lr=1e-3)
    rng = np.random.default_rng(0)
    x = sg.Tensor(rng.standard_normal((4, 1, 8, 8)), comp_grad=False)
    y = sg.Tensor(rng.integers(0, 3, size=4))
    losses = []
    for step in range(STEPS):
        opt.zero_grad()
        loss = sg.ce_loss(model(x), y)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            losses.append(loss.item())
        if step == WARMUP_STEPS:
            del loss
            warm_bytes, warm_rss = in_use(), rss_bytes()
    del loss
    end_bytes, end_rss = in_use(), rss_bytes()
    assert losses[-1] < losses[0], "the model did not train (the loop is not doing real work)"
    assert abs(end_bytes - warm_bytes) <= BYTES_IN_USE_TOLERANCE, (
        f"bytes in use grew from {warm_bytes} to {end_bytes} over {STEPS - WARMUP_STEPS} steps"
    )
    assert end_rss - warm_rss <= RSS_TOLERANCE, (
        f"RSS grew by {(end_rss - warm_rss) / 2**20:.1f} MiB over {STEPS - WARMUP_STEPS} steps"
    )


def test_dropping_a_graph_frees_its_buffers():
    x = sg.normal((2, 3, 16, 16))
    conv = nn.Conv2d(3, 8, 3, padding=1)
    fc = nn.Linear(8 * 8 * 8, 4)
    baseline = in_use()
    gc.disable()  # reference counting alone must free everything
    try:
        out = fc(sg.flatten(sg.max_pool2d(sg.relu(conv(x)), 2), 1))
        loss = sg.softmax(out, dim=-1).sum()
        assert in_use() > baseline  # the graph holds saved buffers
        del out, loss
        assert in_use() == baseline, "an unused graph kept buffers alive"
        # a graph kept for a second backward is freed when dropped, too
        loss = sg.mean(fc(sg.flatten(sg.avg_pool2d(conv(x), 2), 1)) ** 2)
        loss.backward(retain_graph=True)
        loss.backward()
        del loss
        grads = x.grad.nbytes + sum(p.grad.nbytes for p in list(conv.parameters().values()) +
                                    list(fc.parameters().values()))
        assert in_use() == baseline + grads
    finally:
        gc.enable()


def test_backward_releases_saved_buffers_before_the_graph_is_dropped():
    """max_pool2d saves its argmax (int64, the output's shape) for backward: gone after backward even
    while the output and the loss are still referenced."""
    x = sg.normal((4, 8, 32, 32))
    baseline = in_use()
    y = sg.max_pool2d(x, 2)
    loss = sg.sum(y)
    held = in_use() - baseline
    assert held == y.values.nbytes + 8 * y.size + loss.values.nbytes
    loss.backward()
    assert in_use() - baseline - x.grad.nbytes == held - 8 * y.size


def test_dropping_tensors_modules_and_optimizers_frees_everything():
    baseline = in_use()
    gc.disable()
    try:
        model = TinyCNN()
        opt = sg.opt.Adam(model, lr=1e-3)
        loss = sg.ce_loss(model(sg.normal((2, 1, 8, 8))), sg.Tensor(np.array([0, 2])))
        loss.backward()
        opt.step()
        assert in_use() > baseline
        del model, opt, loss
        assert in_use() == baseline
    finally:
        gc.enable()


def test_failed_ops_do_not_leak():
    x = sg.normal((1, 3, 8, 8))
    w = sg.normal((4, 3, 3, 3))
    baseline = in_use()
    for _ in range(50):
        for bad in (lambda: sg.conv2d(x, w, padding=2**40), lambda: sg.pad(x, 2**62),
                    lambda: sg.max_pool2d(x, 2, padding=2**40), lambda: sg.zeros((2**40, 2**40)),
                    lambda: sg.conv2d(x, sg.normal((4, 2, 3, 3)))):
            with pytest.raises((MemoryError, ValueError)):
                bad()
    assert in_use() == baseline


def test_intermediates_freed_after_backward_while_loss_is_kept():
    """The graph links nodes, not tensors: keeping `loss` alive (e.g. in a list of losses) must not keep
    the intermediate activations alive once backward has released the saved buffers."""
    x = sg.Tensor(np.ones((256, 256)))
    gc.collect()
    before = sg.memory_stats()["bytes_in_use"]
    loss = ((x * 2.0).exp() * 3.0).sum()
    loss.backward()
    gc.collect()
    held = sg.memory_stats()["bytes_in_use"] - before
    # What may stay: x.grad (256*256*4 bytes) and the 1-element loss.
    assert held <= 256 * 256 * 4 + 64
    assert not loss.is_leaf and loss.oper == "sum"
