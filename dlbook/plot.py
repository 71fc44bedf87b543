"""Plotting helpers shared by several chapters (the book's style is set by ``dlbook.setup``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["plot_curves", "plot_decision_boundary", "show_images"]


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool = False,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """One line per named curve (e.g. training and validation loss) on shared axes."""
    if not curves:
        raise ValueError("plot_curves needs at least one curve")
    if ax is None:
        _, ax = plt.subplots()
    for name, values in curves.items():
        values = [float(v) for v in values]
        ax.plot(range(1, len(values) + 1), values, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    return ax


def plot_decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    title: str,
    ax: plt.Axes | None = None,
    resolution: int = 200,
) -> plt.Axes:
    """Colour the plane by ``predict`` (class scores or labels for (m, 2) points) and overlay the data."""
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {tuple(X.shape)}")
    if ax is None:
        _, ax = plt.subplots()
    Xc = X.detach().cpu()
    pad = 0.5
    (x0, y0), (x1, y1) = (Xc.min(0).values - pad).tolist(), (Xc.max(0).values + pad).tolist()
    gx, gy = torch.meshgrid(
        torch.linspace(x0, x1, resolution), torch.linspace(y0, y1, resolution), indexing="xy"
    )
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    with torch.no_grad():
        out = predict(grid).detach().cpu()
    labels = (
        out.argmax(1)
        if out.ndim == 2 and out.shape[1] > 1
        else (out.reshape(-1) > (0.5 if out.min() >= 0 else 0)).long()
    )
    levels = np.arange(int(y.max()) + 2) - 0.5
    ax.contourf(
        gx.numpy(),
        gy.numpy(),
        labels.reshape(gx.shape).numpy(),
        alpha=0.25,
        levels=levels,
        cmap="coolwarm",
    )
    for k in torch.unique(y).tolist():
        pts = Xc[y.cpu() == k].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=12, label=f"class {k}")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(loc="upper right")
    return ax


def show_images(
    images: torch.Tensor,
    labels: Sequence[object] | None = None,
    *,
    title: str,
    ncols: int = 8,
    cmap: str = "gray_r",
) -> plt.Figure:
    """A grid of images. ``images`` is (n, H, W), (n, 1, H, W) or (n, 3, H, W)."""
    imgs = images.detach().cpu()
    if imgs.ndim == 4 and imgs.shape[1] == 1:
        imgs = imgs[:, 0]
    if imgs.ndim == 4:
        imgs = imgs.permute(0, 2, 3, 1)
    if imgs.ndim not in (3, 4):
        raise ValueError(
            f"images must be (n, H, W) or (n, C, H, W), got shape {tuple(images.shape)}"
        )
    n = len(imgs)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(imgs[i].numpy(), cmap=cmap)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=9, fontweight="normal")
    fig.suptitle(title, fontweight="bold")
    return fig
