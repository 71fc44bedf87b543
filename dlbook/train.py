"""The book's training loop: exactly the loop chapter 10 writes by hand, packaged for reuse.

One optimization step is always the same five lines::

    optimizer.zero_grad()            # forget the previous step's gradients
    outputs = model(x)               # forward pass
    loss = loss_fn(outputs, y)       # loss
    loss.backward()                  # backpropagation
    optimizer.step()                 # update the parameters

and evaluation runs the model in ``eval()`` mode under ``torch.no_grad()``.
:func:`fit` repeats that over epochs and records the mean loss (and metrics such
as :func:`accuracy`) on the training and validation batches after every epoch.

``batches`` can be anything that yields ``(inputs, targets)`` pairs and can be
iterated again every epoch: a :class:`torch.utils.data.DataLoader`, or simply a
list such as ``[(X, y)]`` for full-batch training. Every number is weighted by
batch size, so a smaller last batch counts for exactly what it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["accuracy", "evaluate", "train_epoch", "fit"]

#: ``loss_fn(outputs, targets)`` -> a scalar tensor (the batch mean), e.g. ``F.cross_entropy``.
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``metric(outputs, targets)`` -> a float averaged over the batch, e.g. :func:`accuracy`.
Metric = Callable[[torch.Tensor, torch.Tensor], float]
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows of ``logits`` (N, C) whose largest entry is at the label in ``labels`` (N,)."""
    if logits.ndim != 2 or labels.ndim != 1 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"accuracy expects logits (N, C) and labels (N,), got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}"
        )
    if labels.numel() == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (logits.argmax(dim=1) == labels).float().mean().item()


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


class _Means:
    """Running, batch-size-weighted means of the loss and of each metric over an epoch."""

    def __init__(self, metrics: Mapping[str, Metric]) -> None:
        self.metrics = metrics
        self.totals = {"loss": 0.0, **{name: 0.0 for name in metrics}}
        self.count = 0

    def add(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        n = len(targets)
        self.count += n
        self.totals["loss"] += loss.item() * n
        with torch.no_grad():
            for name, metric in self.metrics.items():
                self.totals[name] += float(metric(outputs.detach(), targets)) * n

    def result(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("no batches: the data loader or list of batches is empty")
        return {name: total / self.count for name, total in self.totals.items()}


def train_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    *,
    loss_fn: LossFn = F.cross_entropy,
    metrics: Mapping[str, Metric] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """One epoch of training in ``train()`` mode: one optimizer step per batch.

    Returns the mean training loss (and each metric) over the epoch, computed on the
    batches as they were seen during the epoch (so with dropout active, and while the
    weights were still changing). ``metrics`` defaults to ``{"acc": accuracy}``.
    """
    metrics = {"acc": accuracy} if metrics is None else metrics
    device = torch.device(device) if device is not None else _device_of(model)
    model.train()
    means = _Means(metrics)
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        outputs = model(x)
        loss = loss_fn(outputs, y)
        loss.backward()
        optimizer.step()
        means.add(loss, outputs, y)
    return means.result()


def evaluate(
    model: nn.Module,
    batches: Batches,
    *,
    loss_fn: LossFn = F.cross_entropy,
    metrics: Mapping[str, Metric] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Mean loss (and each metric) of ``model`` over ``batches`` in ``eval()`` mode, without gradients.

    The model's previous mode (training or evaluation) is restored afterwards.
    ``metrics`` defaults to ``{"acc": accuracy}``; pass ``{}`` for regression.
    """
    metrics = {"acc": accuracy} if metrics is None else metrics
    device = torch.device(device) if device is not None else _device_of(model)
    was_training = model.training
    model.eval()
    means = _Means(metrics)
    try:
        with torch.no_grad():
            for x, y in batches:
                x, y = x.to(device), y.to(device)
                outputs = model(x)
                means.add(loss_fn(outputs, y), outputs, y)
    finally:
        model.train(was_training)
    return means.result()


def fit(
    model: nn.Module,
    train_batches: Batches,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    loss_fn: LossFn = F.cross_entropy,
    metrics: Mapping[str, Metric] | None = None,
    val_batches: Batches | None = None,
    device: torch.device | str | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` for ``epochs`` epochs; return the history of every recorded number.

    The history maps ``"train_loss"`` and ``"train_<metric>"`` (means over each epoch's
    batches, see :func:`train_epoch`) and, when ``val_batches`` is given, ``"val_loss"``
    and ``"val_<metric>"`` (from :func:`evaluate` after each epoch) to one value per
    epoch. ``metrics`` defaults to ``{"acc": accuracy}``; pass ``{}`` for regression.
    The model is moved to ``device`` (default: where its parameters already are) and
    every batch follows it there.
    """
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    metrics = {"acc": accuracy} if metrics is None else dict(metrics)
    device = torch.device(device) if device is not None else _device_of(model)
    model.to(device)
    keys = ["loss", *metrics]
    history: dict[str, list[float]] = {f"train_{k}": [] for k in keys}
    if val_batches is not None:
        history.update({f"val_{k}": [] for k in keys})
    for _ in range(epochs):
        train = train_epoch(
            model, train_batches, optimizer, loss_fn=loss_fn, metrics=metrics, device=device
        )
        for k in keys:
            history[f"train_{k}"].append(train[k])
        if val_batches is not None:
            val = evaluate(model, val_batches, loss_fn=loss_fn, metrics=metrics, device=device)
            for k in keys:
                history[f"val_{k}"].append(val[k])
    return history
