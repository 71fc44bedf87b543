"""Unit tests of dlbook.plot.draw_graph (the graph figures of Chapter 2)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from dlbook.plot import draw_graph, graph_layers  # noqa: E402


def _boxes(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts if not isinstance(t, Annotation)]


def _arrows(fig: plt.Figure) -> int:
    return sum(isinstance(t, Annotation) for t in fig.axes[0].texts)


def test_returns_a_figure_with_one_box_per_node_and_one_arrow_per_edge() -> None:
    # f = x*x + x: x is used by two nodes, and twice by one of them
    nodes = ["add", "mul", "x"]
    edges = [("add", "mul"), ("add", "x"), ("mul", "x"), ("mul", "x")]
    labels = {"add": "+", "mul": "*\ngrad 1", "x": "x\ngrad 3"}
    fig = draw_graph(nodes, edges, labels, title="g", kinds={"add": "op", "mul": "op", "x": "leaf"})
    ax = fig.axes[0]
    assert isinstance(fig, plt.Figure) and ax.get_title() == "g"
    assert sorted(_boxes(fig)) == sorted(labels.values())  # x drawn once
    assert _arrows(fig) == len(edges)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["op", "leaf"]
    plt.close(fig)


def test_layers_are_longest_distances_from_the_top() -> None:
    # x feeds both the output directly and through two steps: it sits on the lowest row
    nodes = ["out", "a", "b", "x"]
    edges = [("out", "a"), ("a", "b"), ("b", "x"), ("out", "x")]
    assert graph_layers(nodes, edges) == {"out": 0, "a": 1, "b": 2, "x": 3}
    # a repeated edge counts once
    assert graph_layers(["m", "x"], [("m", "x"), ("m", "x")]) == {"m": 0, "x": 1}


def test_one_node_and_no_edges() -> None:
    fig = draw_graph([7], [], {7: "alone"}, title="one")
    assert _boxes(fig) == ["alone"] and _arrows(fig) == 0
    assert fig.axes[0].get_legend() is None
    plt.close(fig)


def test_draws_into_a_given_axes() -> None:
    fig, ax = plt.subplots()
    assert draw_graph(["a", "b"], [("a", "b")], {"a": "A", "b": "B"}, title="t", ax=ax) is fig
    plt.close(fig)


@pytest.mark.parametrize(
    ("nodes", "edges", "labels", "message"),
    [
        ([], [], {}, "at least one node"),
        (["a"], [], {}, "no label"),
        (["a", "a"], [], {"a": "A"}, "twice"),
        (["a"], [("a", "z")], {"a": "A"}, "unknown node"),
        (["a", "b"], [("a", "b"), ("b", "a")], {"a": "A", "b": "B"}, "cycle"),
    ],
)
def test_bad_graphs_get_a_clear_message(nodes, edges, labels, message) -> None:
    with pytest.raises(ValueError, match=message):
        draw_graph(nodes, edges, labels, title="bad")
    plt.close("all")
