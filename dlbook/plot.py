"""Plotting helpers shared by several chapters (the book's style is set by ``dlbook.setup``)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["draw_graph", "plot_curves", "plot_decision_boundary", "show_images"]


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


#: Box colours of ``draw_graph``, one per kind of node, in the order the kinds first appear.
GRAPH_COLOURS = ("#d6e6f5", "#fde2c8", "#dcefd6", "#eadcf2")


def graph_layers(
    nodes: Sequence[Hashable], edges: Sequence[tuple[Hashable, Hashable]]
) -> dict[Hashable, int]:
    """Each node's longest distance (in edges) from a node that no edge points to.

    ``edges`` are ``(source, target)`` pairs of ids from ``nodes``; the graph must be acyclic.
    A repeated edge (``x * x`` uses ``x`` twice) counts once.
    """
    known = set(nodes)
    if len(known) != len(nodes):
        raise ValueError("draw_graph: a node id appears twice in nodes")
    for src, dst in edges:
        if src not in known or dst not in known:
            raise ValueError(f"draw_graph: the edge {src!r} -> {dst!r} names an unknown node")
    targets: dict[Hashable, set[Hashable]] = {n: set() for n in nodes}
    n_in = dict.fromkeys(nodes, 0)
    for src, dst in edges:
        if dst not in targets[src]:
            targets[src].add(dst)
            n_in[dst] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if n_in[n] == 0]
    done = 0
    while ready:  # Kahn's order: a node is placed after everything that points to it
        node = ready.pop()
        done += 1
        for dst in targets[node]:
            layer[dst] = max(layer[dst], layer[node] + 1)
            n_in[dst] -= 1
            if n_in[dst] == 0:
                ready.append(dst)
    if done != len(nodes):
        raise ValueError("draw_graph: the edges form a cycle")
    return layer


def draw_graph(
    nodes: Sequence[Hashable],
    edges: Sequence[tuple[Hashable, Hashable]],
    labels: Mapping[Hashable, str],
    *,
    title: str,
    kinds: Mapping[Hashable, str] | None = None,
    xlabel: str = "nodes at the same distance from the top",
    ylabel: str = "steps from the top",
    fontsize: float = 9,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Draw a small directed acyclic graph as labelled boxes joined by arrows.

    ``nodes`` are hashable ids (each once), ``edges`` ``(source, target)`` pairs of them, and
    ``labels`` the text of each box (it may span several lines). Every node sits on the row of
    its longest distance from a node without incoming edges, so those are on top; within a row,
    nodes are ordered by where the nodes pointing to them sit, which avoids most crossings.
    ``kinds`` optionally names each node's kind (e.g. "operation", "leaf"): one box colour and
    one legend entry per kind. Returns the figure; the caller shows it.
    """
    if not nodes:
        raise ValueError("draw_graph needs at least one node")
    missing = [n for n in nodes if n not in labels]
    if missing:
        raise ValueError(f"draw_graph: no label for node {missing[0]!r}")
    layer = graph_layers(nodes, edges)
    rows: dict[int, list[Hashable]] = {}
    for node in nodes:
        rows.setdefault(layer[node], []).append(node)
    sources: dict[Hashable, list[Hashable]] = {n: [] for n in nodes}
    for src, dst in edges:
        sources[dst].append(src)
    pos: dict[Hashable, tuple[float, float]] = {}
    for depth in sorted(rows):
        row = rows[depth]
        if depth > 0:  # every node below the top row has a source in a row above
            row.sort(key=lambda n: sum(pos[s][0] for s in sources[n]) / len(sources[n]))
        for i, node in enumerate(row):
            pos[node] = (i - (len(row) - 1) / 2, -depth)

    n_rows = max(rows) + 1
    width = max(len(row) for row in rows.values())
    n_lines = max(str(labels[n]).count("\n") + 1 for n in nodes)
    if ax is None:
        _, ax = plt.subplots(
            figsize=(max(6.0, 1.6 * width + 2.5), max(3.0, (0.55 + 0.22 * n_lines) * n_rows + 1.2))
        )
    colour: dict[str, str] = {}
    box: dict[Hashable, plt.Text] = {}
    for node in nodes:
        kind = kinds.get(node, "") if kinds is not None else ""
        if kind not in colour:
            colour[kind] = GRAPH_COLOURS[len(colour) % len(GRAPH_COLOURS)]
        box[node] = ax.text(
            *pos[node],
            str(labels[node]),
            ha="center",
            va="center",
            fontsize=fontsize,
            zorder=3,
            bbox={"boxstyle": "round", "fc": colour[kind], "ec": "0.3"},
        )
    for src, dst in edges:  # from the bottom of the source's box to the top of the target's
        ax.annotate(
            "",
            xy=(0.5, 1.0),
            xycoords=box[dst],
            xytext=(0.5, 0.0),
            textcoords=box[src],
            arrowprops={"arrowstyle": "->", "color": "0.4", "shrinkA": 4, "shrinkB": 4},
            zorder=2,
        )
    if kinds is not None:
        for kind, fc in colour.items():
            ax.scatter([], [], marker="s", s=80, color=fc, ec="0.3", label=kind or "other")
        ax.legend(loc="upper right")
    half = (width - 1) / 2 + 1.1
    ax.set_xlim(-half, half)
    ax.set_ylim(-n_rows + 0.5, 0.5)
    ax.set_yticks([-d for d in range(n_rows)], [str(d) for d in range(n_rows)])
    ax.set_xticks([])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(False)
    return ax.figure
