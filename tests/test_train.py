"""dlbook.train: the training loop of chapter 10, reused by later chapters."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlbook
from dlbook.train import accuracy, evaluate, fit, train_epoch


def _data(n: int = 60, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return dlbook.data.make_moons(n, noise=0.1, seed=seed)


def _model(seed: int = 0, p: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 2))


def _loader(X: torch.Tensor, y: torch.Tensor, seed: int = 0) -> DataLoader:
    return DataLoader(
        TensorDataset(X, y),
        batch_size=16,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )


# --- accuracy ---------------------------------------------------------------------------


def test_accuracy_values() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 2, 0])) == 1.0
    assert accuracy(logits, torch.tensor([0, 1, 2, 2])) == 0.75
    assert accuracy(logits, torch.tensor([1, 2, 0, 2])) == 0.0
    assert isinstance(accuracy(logits, torch.tensor([0, 1, 2, 0])), float)


@pytest.mark.parametrize(
    ("logits", "labels"),
    [
        (torch.zeros(4), torch.zeros(4, dtype=torch.long)),  # 1-D logits
        (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long)),  # N mismatch
        (torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long)),  # 2-D labels
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)),  # empty
    ],
    ids=["1d-logits", "n-mismatch", "2d-labels", "empty"],
)
def test_accuracy_rejects_bad_shapes(logits, labels) -> None:
    with pytest.raises(ValueError):
        accuracy(logits, labels)


# --- fit -----------------------------------------------------------------------------------


def test_fit_is_exactly_the_hand_written_loop() -> None:
    """Same seed, same batches: fit's weights and history equal the five-line loop's."""
    X, y = _data()
    X_val, y_val = _data(40, seed=1)

    by_hand = _model()
    opt = torch.optim.SGD(by_hand.parameters(), lr=0.1)
    loader = _loader(X, y)
    hist_hand = {"train_loss": [], "val_loss": []}
    for _ in range(3):
        by_hand.train()
        total, seen = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(by_hand(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        hist_hand["train_loss"].append(total / seen)
        by_hand.eval()
        with torch.no_grad():
            hist_hand["val_loss"].append(F.cross_entropy(by_hand(X_val), y_val).item())

    packaged = _model()
    hist = fit(
        packaged,
        _loader(X, y),
        torch.optim.SGD(packaged.parameters(), lr=0.1),
        epochs=3,
        val_batches=[(X_val, y_val)],
    )
    for p_hand, p_fit in zip(by_hand.parameters(), packaged.parameters(), strict=True):
        torch.testing.assert_close(p_hand, p_fit, rtol=0, atol=0)
    assert hist["train_loss"] == pytest.approx(hist_hand["train_loss"], rel=1e-12)
    assert hist["val_loss"] == pytest.approx(hist_hand["val_loss"], rel=1e-12)


def test_fit_history_keys_and_lengths() -> None:
    X, y = _data()
    model = _model()
    hist = fit(model, _loader(X, y), torch.optim.Adam(model.parameters()), epochs=4)
    assert set(hist) == {"train_loss", "train_acc"}
    assert all(len(v) == 4 for v in hist.values())
    hist = fit(
        model,
        [(X, y)],
        torch.optim.Adam(model.parameters()),
        epochs=2,
        val_batches=[(X, y)],
        metrics={"acc": accuracy, "err": lambda out, t: 1 - accuracy(out, t)},
    )
    assert set(hist) == {"train_loss", "train_acc", "train_err", "val_loss", "val_acc", "val_err"}
    for split in ("train", "val"):
        for a, e in zip(hist[f"{split}_acc"], hist[f"{split}_err"], strict=True):
            assert a + e == pytest.approx(1.0)
    assert fit(model, [(X, y)], torch.optim.Adam(model.parameters()), epochs=0) == {
        "train_loss": [],
        "train_acc": [],
    }


def test_fit_learns() -> None:
    """On two well-separated moons the network gets nearly everything right."""
    X, y = _data(200)
    model = _model()
    hist = fit(
        model,
        _loader(X, y),
        torch.optim.Adam(model.parameters(), lr=0.02),
        epochs=40,
        val_batches=[_data(200, seed=5)],
    )
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    assert hist["val_acc"][-1] > 0.95


def test_fit_regression_without_metrics() -> None:
    X, y = dlbook.data.make_line(64, seed=0)
    model = nn.Linear(1, 1)
    hist = fit(
        model,
        [(X, y)],
        torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=100,
        loss_fn=F.mse_loss,
        metrics={},
        device="cpu",
    )
    assert set(hist) == {"train_loss"}
    assert model.weight.item() == pytest.approx(2.0, abs=0.2)  # make_line's slope


def test_fit_rejects_bad_epochs_and_empty_data() -> None:
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="epochs"):
            fit(model, [_data()], opt, epochs=bad)
    with pytest.raises(ValueError, match="no batches"):
        fit(model, [], opt, epochs=1)


# --- evaluate and train_epoch ------------------------------------------------------------------


def test_evaluate_weights_batches_by_size() -> None:
    X, y = _data(50)
    model = _model()
    whole = evaluate(model, [(X, y)])
    pieces = evaluate(model, [(X[:7], y[:7]), (X[7:30], y[7:30]), (X[30:], y[30:])])
    assert pieces["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    assert pieces["acc"] == pytest.approx(whole["acc"], rel=1e-6)
    assert whole["acc"] == accuracy(model(X), y)


def test_evaluate_uses_eval_mode_no_grad_and_restores_mode() -> None:
    X, y = _data()
    model = _model(p=0.9)  # heavy dropout: train-mode outputs would be random
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    first, second = evaluate(model, [(X, y)]), evaluate(model, [(X, y)])
    assert first == second  # dropout was off
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())  # no gradients computed
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    model.eval()
    evaluate(model, [(X, y)])
    assert not model.training


def test_train_epoch_steps_once_per_batch_and_sets_train_mode() -> None:
    X, y = _data(48)
    model = _model()
    model.eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = train_epoch(model, _loader(X, y), opt)  # 3 batches of 16
    assert model.training
    assert set(result) == {"loss", "acc"}
    counter = {"steps": 0}
    opt.register_step_post_hook(lambda *_: counter.__setitem__("steps", counter["steps"] + 1))
    train_epoch(model, _loader(X, y), opt)
    assert counter["steps"] == 3
