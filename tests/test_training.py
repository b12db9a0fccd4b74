"""End-to-end training: networks built from sg.nn drive a loss down on fixed learnable problems."""

import numpy as np

import simplegrad as sg
import simplegrad.nn as nn


def spirals(n_per_class=60, seed=0):
    """Two interleaved spirals: not linearly separable, learnable by a small MLP."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.3, 2 * np.pi, n_per_class)
    xs, ys = [], []
    for label, phase in enumerate((0.0, np.pi)):
        xs.append(np.stack([t * np.cos(t + phase), t * np.sin(t + phase)], 1) / (2 * np.pi))
        ys.append(np.full(n_per_class, label))
    x = np.concatenate(xs) + rng.normal(0, 0.01, (2 * n_per_class, 2))
    return x.astype(np.float32), np.concatenate(ys).astype(np.int64)


def test_two_layer_network_learns_spirals():
    sg.seed(0)
    x, y = spirals()
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = sg.opt.Adam(model, lr=0.05)
    sched = sg.sch.StepLR(opt, step_size=100, gamma=0.5)
    loss_fn = nn.CELoss()
    loader = sg.data.DataLoader(sg.data.TensorDataset(x, y), batch_size=40, shuffle=True)
    first = None
    for _ in range(150):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
        sched.step()
    model.eval()
    with sg.no_grad():
        logits = model(sg.Tensor(x))
        final = loss_fn(logits, y).item()
    accuracy = (logits.values.argmax(1) == y).mean()
    assert first > 0.6 and final < 0.1, (first, final)  # chance level is log 2 = 0.69
    assert accuracy > 0.95


def test_mlp_regression_with_sgd_momentum_and_dropout():
    sg.seed(1)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (128, 3)).astype(np.float32)
    y = (np.sin(2 * x[:, :1]) + x[:, 1:2] * x[:, 2:3]).astype(np.float32)
    model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))
    opt = sg.opt.SGD(model, lr=0.05, momentum=0.9)
    xt, yt = sg.Tensor(x, comp_grad=False), sg.Tensor(y, comp_grad=False)
    for _ in range(400):
        opt.zero_grad()
        nn.MSELoss()(model(xt), yt).backward()
        opt.step()
    model.eval()
    final = nn.MSELoss()(model(xt), yt).item()
    assert final < 0.1 * y.var(), (final, y.var())  # explains over 90% of the variance


def test_small_cnn_learns_bars():
    """Conv2d -> ReLU -> MaxPool2d -> Flatten -> Linear separates horizontal from vertical bars."""
    sg.seed(2)
    rng = np.random.default_rng(2)
    n = 64
    images = rng.normal(0, 0.1, (n, 1, 8, 8)).astype(np.float32)
    labels = np.arange(n) % 2
    for i in range(n):
        k = rng.integers(1, 7)
        if labels[i]:
            images[i, 0, :, k] += 1.0
        else:
            images[i, 0, k, :] += 1.0
    model = nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 2),
    )
    opt = sg.opt.Adam(model, lr=0.01)
    x = sg.Tensor(images, comp_grad=False)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = sg.ce_loss(model(x), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.5 and losses[-1] < 0.05, (losses[0], losses[-1])
    assert (model(x).values.argmax(1) == labels).all()
