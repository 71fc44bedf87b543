"""Unit tests of chapter 5's exercise checks (dlbook/checks/ch05.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook.checks import (
    CheckError,
    NotImplementedYet,
    check_backtracking_gd,
    check_cosine_schedule,
    check_logistic_safe_lr,
)

# --- check_cosine_schedule ------------------------------------------------------


def cosine_formula(step, total_steps, lr_max, lr_min):
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * step / total_steps))


def cosine_as_tensor(step, total_steps, lr_max, lr_min):
    """Written as an interpolation, returning a 0-d tensor."""
    w = (1 + torch.cos(torch.tensor(math.pi * step / total_steps, dtype=torch.float64))) / 2
    return w * lr_max + (1 - w) * lr_min


def cosine_via_torch(step, total_steps, lr_max, lr_min):
    """Ask PyTorch's CosineAnnealingLR itself (stepping it `step` times)."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr_max)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps, eta_min=lr_min)
    for _ in range(step):
        opt.step()
        sched.step()
    return opt.param_groups[0]["lr"]


def cosine_squared_form(step, total_steps, lr_max, lr_min):
    """(1 + cos a) / 2 = cos(a / 2) ** 2, as a NumPy float."""
    return np.float64(lr_min + (lr_max - lr_min) * np.cos(np.pi * step / total_steps / 2) ** 2)


@pytest.mark.parametrize(
    "fn", [cosine_formula, cosine_as_tensor, cosine_via_torch, cosine_squared_form]
)
def test_cosine_accepts_correct_implementations(fn, capsys) -> None:
    check_cosine_schedule(fn)
    assert "✓ check_cosine_schedule" in capsys.readouterr().out


def _cosine_variant(
    *, shift=0, trig=math.cos, keep_min=True, full_range=True, half=True, pi=True, rising=False
):
    def fn(step, total_steps, lr_max, lr_min):
        angle = (math.pi if pi else 1.0) * step / (total_steps + shift)
        wave = (1 - trig(angle)) if rising else (1 + trig(angle))
        amp = (lr_max - lr_min) if full_range else lr_max
        lr = amp * wave * (0.5 if half else 1.0)
        return lr + lr_min if keep_min else lr

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_cosine_variant(shift=-1), "not total_steps - 1"),
        (_cosine_variant(shift=1), "not total_steps + 1"),
        (_cosine_variant(trig=math.sin), "sin is 0 at both ends"),
        (_cosine_variant(keep_min=False), "ends at 0 instead of lr_min"),
        (_cosine_variant(full_range=False), "your rate is lr_max + lr_min"),
        (_cosine_variant(half=False), "multiply it by one half"),
        (_cosine_variant(pi=False), "the angle must run from 0 to pi"),
        (_cosine_variant(rising=True), "your schedule rises"),
    ],
)
def test_cosine_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_cosine_schedule: case") as info:
        check_cosine_schedule(wrong)
    assert hint in str(info.value)


def test_cosine_unknown_error_gets_generic_hint() -> None:
    def linear(step, total_steps, lr_max, lr_min):
        return lr_max + (lr_min - lr_max) * step / total_steps

    with pytest.raises(CheckError, match="check step 0 \\(lr_max\\)"):
        check_cosine_schedule(linear)


def test_cosine_non_number_result_is_reported() -> None:
    def returns_list(step, total_steps, lr_max, lr_min):
        return [cosine_formula(step, total_steps, lr_max, lr_min)]

    with pytest.raises(CheckError, match="should be one number"):
        check_cosine_schedule(returns_list)

    with pytest.raises(CheckError, match="should be one number"):
        check_cosine_schedule(lambda *a: None)


def test_cosine_not_implemented_yet() -> None:
    def todo(step, total_steps, lr_max, lr_min):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet, match="not implemented yet"):
        check_cosine_schedule(todo)


@pytest.mark.parametrize("bad", [None, 0.1, "cosine"])
def test_cosine_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_cosine_schedule: expected your function"):
        check_cosine_schedule(bad)


# --- check_logistic_safe_lr -------------------------------------------------------


def stable_eigvalsh(X):
    H = X.T @ X / (4 * X.shape[0])  # the logistic Hessian at theta = 0
    return 2 / torch.linalg.eigvalsh(H)[-1]


def stable_svd(X):
    """Through the largest singular value of X, as a Python float."""
    sigma = torch.linalg.svdvals(X.double())[0].item()
    return 8 * X.shape[0] / sigma**2


def stable_gram_rows(X):
    """The n-by-n matrix X X^T has the same non-zero eigenvalues as X^T X."""
    lam = torch.linalg.eigvalsh(0.25 * X @ X.T / X.shape[0]).max()
    return 2 / lam


def stable_power_iteration(X):
    """Power iteration on the bound, without any eigen-solver."""
    H = 0.25 * X.double().T @ X.double() / X.shape[0]
    v = torch.ones(H.shape[0], dtype=torch.float64)
    for _ in range(2000):
        v = H @ v
        v = v / v.norm()
    return 2 / float(v @ H @ v)


def stable_numpy(X):
    H = 0.25 * X.numpy().T @ X.numpy() / X.shape[0]
    return 2 / np.linalg.eigvalsh(H).max()


def stable_autograd_at_zero(X):
    """Autograd's Hessian of the logistic loss at theta = 0 (any labels), where it peaks."""
    X = X.double()
    s = torch.ones(X.shape[0], dtype=torch.float64)

    def loss(theta):
        return torch.nn.functional.softplus(-s * (X @ theta)).mean()

    H = torch.autograd.functional.hessian(loss, torch.zeros(X.shape[1], dtype=torch.float64))
    return 2 / torch.linalg.eigvalsh(H).max()


@pytest.mark.parametrize(
    "fn",
    [
        stable_eigvalsh,
        stable_svd,
        stable_gram_rows,
        stable_power_iteration,
        stable_numpy,
        stable_autograd_at_zero,
    ],
)
def test_stable_accepts_correct_implementations(fn, capsys) -> None:
    check_logistic_safe_lr(fn)
    assert "✓ check_logistic_safe_lr" in capsys.readouterr().out


def test_safe_rate_holds_at_random_points() -> None:
    """The reference is below 2 / lambda_max of the logistic Hessian at many random theta."""
    g = torch.Generator().manual_seed(3)
    for case in check_logistic_safe_lr.make_cases(0):
        (X,) = case.args
        X = X.double()
        safe = float(check_logistic_safe_lr.reference(X))
        s = torch.where(torch.rand(X.shape[0], generator=g) < 0.5, -1.0, 1.0).double()
        for _ in range(20):
            theta = 3 * torch.randn(X.shape[1], generator=g, dtype=torch.float64)
            m = s * (X @ theta)
            H = (X.T * (torch.sigmoid(m) * torch.sigmoid(-m))) @ X / X.shape[0]
            assert safe <= 2 / torch.linalg.eigvalsh(H).max().item() * (1 + 1e-9), case.name


def _stable_variant(*, which="max", numerator=2.0, factor=0.25, mean=True, sqrt=False):
    def fn(X):
        n = X.shape[0]
        H = factor * X.T @ X / (n if mean else 1)
        if sqrt:
            return numerator / (factor / (n if mean else 1) * torch.linalg.svdvals(X)[0])
        eig = torch.linalg.eigvalsh(H)
        lam = {
            "max": eig[-1],
            "min": eig[0],
            "trace": H.trace(),
            "diag": H.diagonal().max(),
            "fro": torch.linalg.matrix_norm(H),
        }[which]
        return numerator / lam

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_stable_variant(which="min"), "set by the *largest* eigenvalue"),
        (_stable_variant(numerator=1.0), "you returned 1 / lambda_max"),
        (_stable_variant(factor=2.0), "largest stable rate of the squared error"),
        (_stable_variant(factor=1.0), "bound on the logistic loss's curvature is too large"),
        (_stable_variant(mean=False), "n times too small"),
        (_stable_variant(which="trace"), "the trace is the sum of all the eigenvalues"),
        (_stable_variant(which="diag"), "eigenvalues only when it is diagonal"),
        (_stable_variant(which="fro"), "the Frobenius norm"),
        (_stable_variant(sqrt=True), "square the largest one"),
    ],
)
def test_stable_rejects_typical_mistakes(wrong, hint) -> None:
    with pytest.raises(CheckError, match="check_logistic_safe_lr: case") as info:
        check_logistic_safe_lr(wrong)
    assert hint in str(info.value)


def test_stable_mistake_hints_do_not_state_the_answer() -> None:
    from dlbook.checks.ch05 import _STABLE_MISTAKES

    for text in [*_STABLE_MISTAKES, check_logistic_safe_lr.hint]:
        assert "1/4" not in text and "0.25" not in text and "8 *" not in text, text


def test_stable_rejects_in_place_modification() -> None:
    def in_place(X):
        X.mul_(0.5 / X.shape[0] ** 0.5)  # scales X so that X^T X is already the bound
        return 2 / torch.linalg.eigvalsh(X.T @ X).max()

    with pytest.raises(CheckError, match="changed its input in place"):
        check_logistic_safe_lr(in_place)


def test_stable_vector_result_is_reported() -> None:
    def all_rates(X):
        return 8 * X.shape[0] / torch.linalg.eigvalsh(X.T @ X)  # one per eigenvalue

    with pytest.raises(CheckError, match="should be one number"):
        check_logistic_safe_lr(all_rates)


def test_stable_complex_result_is_reported() -> None:
    def complex_eigs(X):
        return 8 * X.shape[0] / torch.linalg.eigvals(X.T @ X)[0]

    with pytest.raises(CheckError, match="complex number"):
        check_logistic_safe_lr(complex_eigs)


def test_stable_not_implemented_yet() -> None:
    def todo(X):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_logistic_safe_lr(todo)


@pytest.mark.parametrize("bad", [None, 0.2, [1, 2]])
def test_stable_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_logistic_safe_lr: expected your function"):
        check_logistic_safe_lr(bad)


# --- check_backtracking_gd ----------------------------------------------------------


def line_search_notebook(X, y, theta0, steps, lr0, shrink, c):
    """The chapter's reference solution."""

    def mse(th):
        return ((X @ th - y) ** 2).mean()

    theta = theta0.clone()
    thetas, rates = [theta], []
    for _ in range(steps):
        grad = 2 * X.T @ (X @ theta - y) / len(y)
        now, lr = mse(theta), lr0
        while mse(theta - lr * grad) > now - c * lr * (grad @ grad):
            lr *= shrink
        theta = theta - lr * grad
        thetas.append(theta)
        rates.append(lr)
    return torch.stack(thetas), torch.tensor(rates, dtype=X.dtype)


def line_search_autograd(X, y, theta0, steps, lr0, shrink, c):
    """Autograd's gradient, an explicit accept flag, a list of rates (Python floats)."""
    theta = theta0.detach().clone()
    thetas, rates = [theta], []
    for _ in range(steps):
        t = theta.clone().requires_grad_(True)
        loss = torch.nn.functional.mse_loss(X @ t, y)
        (grad,) = torch.autograd.grad(loss, t)
        loss, slope = loss.item(), (grad @ grad).item()
        lr, accepted = lr0, False
        while not accepted:
            trial = theta - lr * grad
            accepted = torch.nn.functional.mse_loss(X @ trial, y).item() <= loss - c * lr * slope
            if not accepted:
                lr = lr * shrink
        theta = trial
        thetas.append(theta)
        rates.append(lr)
    return thetas, rates


def line_search_numpy(X, y, theta0, steps, lr0, shrink, c):
    """In NumPy float64 via the residual norm, converted back at the end."""
    A, b, th = X.double().numpy(), y.double().numpy(), theta0.double().numpy()
    n = len(b)

    def loss(t):
        r = A @ t - b
        return float(r @ r) / n

    out, rates = [th], []
    for _ in range(steps):
        g = 2 / n * A.T @ (A @ th - b)
        k = 0
        while loss(th - lr0 * shrink**k * g) > loss(th) - c * lr0 * shrink**k * float(g @ g):
            k += 1
        th = th - lr0 * shrink**k * g
        out.append(th)
        rates.append(lr0 * shrink**k)
    return torch.from_numpy(np.stack(out)).to(X.dtype), torch.tensor(rates).to(X.dtype)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 7])
@pytest.mark.parametrize("fn", [line_search_notebook, line_search_autograd, line_search_numpy])
def test_line_search_accepts_correct_implementations(fn, seed) -> None:
    verdict = check_backtracking_gd.verify(fn, seed=seed)
    assert verdict.passed, verdict.message


def test_line_search_notebook_call_prints_success(capsys) -> None:
    check_backtracking_gd(line_search_notebook)
    assert "✓ check_backtracking_gd: all 6 cases passed" in capsys.readouterr().out


def _line_search_variant(
    *, test="armijo", reset=True, first_shrunk=False, grad_factor=2.0, sum_grad=False
):
    def fn(X, y, theta0, steps, lr0, shrink, c):
        def mse(th):
            return ((X @ th - y) ** 2).mean()

        theta, thetas, rates, lr = theta0.clone(), [theta0.clone()], [], lr0
        for _ in range(steps):
            r = X @ theta - y
            grad = grad_factor * X.T @ r / (1 if sum_grad else len(y))
            now, gg = mse(theta), grad @ grad
            lr = lr0 if reset else lr
            lr = lr * shrink if first_shrunk else lr
            for _ in range(400):
                new = mse(theta - lr * grad)
                ok = {
                    "armijo": new <= now - c * lr * gg,
                    "none": True,
                    "decrease": new < now,
                    "reversed": new >= now - c * lr * gg,
                    "no c": new <= now - lr * gg,
                    "plus": new <= now + c * lr * gg,
                    "norm": new <= now - c * lr * gg.sqrt(),
                }[test]
                if ok:
                    break
                lr *= shrink
            theta = theta - lr * grad
            thetas.append(theta)
            rates.append(lr)
        return torch.stack(thetas), torch.tensor(rates, dtype=X.dtype)

    return fn


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_line_search_variant(test="none"), "your rate never shrinks"),
        (_line_search_variant(test="decrease"), "you accept any step that lowers the loss"),
        # a reversed test takes lr0 exactly where no test would: the same hint names both
        (_line_search_variant(test="reversed"), "check which way your test compares"),
        (_line_search_variant(test="no c"), "asks for more than a positive step can deliver"),
        (_line_search_variant(sum_grad=True), "that of the mean over the n rows"),
        (_line_search_variant(test="plus"), "your test lets a step raise the loss"),
        (_line_search_variant(test="norm"), "has the wrong units"),
        (_line_search_variant(reset=False), "must start again from lr0"),
        (_line_search_variant(first_shrunk=True), "the first rate tried at every step is lr0"),
        (_line_search_variant(grad_factor=1.0), "your gradient is half the loss's"),
    ],
)
def test_line_search_rejects_typical_mistakes(wrong, hint, seed) -> None:
    verdict = check_backtracking_gd.verify(wrong, seed=seed)
    assert verdict.kind == "failed", verdict
    assert "check_backtracking_gd: case" in verdict.message
    assert hint in verdict.message, verdict.message


def test_line_search_hints_do_not_state_the_test() -> None:
    from dlbook.checks.ch05 import _LINE_SEARCH_MISTAKES

    for text in [*_LINE_SEARCH_MISTAKES, check_backtracking_gd.hint]:
        for formula in ("c * lr", "c*lr", "grad @ grad", "||g||", "<=", "norm(g"):
            assert formula not in text, (formula, text)


def test_line_search_cases_are_decided_with_margin() -> None:
    """No acceptance test of the reference is close to a tie (rounding cannot flip it)."""
    from dlbook.checks.ch05 import _backtrack

    for seed in range(12):
        for case in check_backtracking_gd.make_cases(seed):
            margins: list[float] = []
            _backtrack(*case.args, margins=margins)
            least = 1e-4 if case.args[0].dtype == torch.float32 else 1e-10
            assert not margins or min(margins) > least, (seed, case.name)


def test_line_search_cases_depend_on_the_seed_only() -> None:
    a, b = check_backtracking_gd.make_cases(4), check_backtracking_gd.make_cases(4)
    c = check_backtracking_gd.make_cases(5)
    assert all(torch.equal(x.args[0], y.args[0]) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0].args[0], c[0].args[0])


def test_line_search_reference_lowers_the_loss_at_every_step() -> None:
    from dlbook.checks.ch05 import _backtrack

    for case in check_backtracking_gd.make_cases(0):
        X, y = case.args[0].double(), case.args[1].double()
        thetas, _ = _backtrack(*case.args)
        losses = ((thetas.double() @ X.T - y) ** 2).mean(dim=1)
        assert bool((losses[1:] <= losses[:-1] * (1 + 1e-6)).all()), case.name


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda *a: None, "return two things"),
        (lambda *a: line_search_notebook(*a)[0], "return two things"),
        (lambda *a: (line_search_notebook(*a)[0], "rates"), "should be a tensor"),
        (lambda *a: line_search_notebook(*a)[::-1], "shape differs"),
    ],
)
def test_line_search_malformed_results_are_reported(bad, message) -> None:
    verdict = check_backtracking_gd.verify(bad)
    assert verdict.kind == "failed" and message in verdict.message, verdict.message


def test_line_search_raising_and_in_place() -> None:
    def raises(X, y, theta0, steps, lr0, shrink, c):
        raise ValueError("boom")

    def in_place(X, y, theta0, steps, lr0, shrink, c):
        theta0.zero_()
        return line_search_notebook(X, y, theta0, steps, lr0, shrink, c)

    verdict = check_backtracking_gd.verify(raises)
    assert verdict.kind == "failed" and "raised ValueError: boom" in verdict.message
    with pytest.raises(CheckError, match="changed its input in place"):
        check_backtracking_gd(in_place)


def test_line_search_not_implemented_yet() -> None:
    def todo(X, y, theta0, steps, lr0, shrink, c):
        raise NotImplementedError()

    with pytest.raises(NotImplementedYet):
        check_backtracking_gd(todo)


@pytest.mark.parametrize("bad", [None, 0.3, "armijo"])
def test_line_search_non_callable_is_rejected(bad) -> None:
    with pytest.raises(CheckError, match="check_backtracking_gd: expected your function"):
        check_backtracking_gd(bad)


def _line_search_strict(X, y, theta0, steps, lr0, shrink, c):
    """A strict test (a tie fails): at a zero gradient no trial ever passes. The reader
    interrupts the kernel, simulated here after 2000 trials."""
    theta, thetas, rates = theta0.clone(), [theta0.clone()], []
    for _ in range(steps):
        grad = 2 * X.T @ (X @ theta - y) / len(y)
        now, lr, tries = ((X @ theta - y) ** 2).mean(), lr0, 0
        while not ((X @ (theta - lr * grad) - y) ** 2).mean() < now - c * lr * (grad @ grad):
            lr, tries = lr * shrink, tries + 1
            if tries > 2000:
                raise KeyboardInterrupt
        theta = theta - lr * grad
        thetas.append(theta)
        rates.append(lr)
    return torch.stack(thetas), torch.tensor(rates, dtype=X.dtype)


def test_line_search_endless_search_is_named_when_interrupted() -> None:
    verdict = check_backtracking_gd.verify(_line_search_strict)
    assert verdict.kind == "failed", verdict
    assert "exact" in verdict.message and "was interrupted" in verdict.message
    assert "a search that never ends" in verdict.message, verdict.message


def _line_search_sum_loss(X, y, theta0, steps, lr0, shrink, c):
    """Sum of squared residuals instead of their mean, in the loss and its gradient."""
    theta, thetas, rates = theta0.clone(), [theta0.clone()], []
    for _ in range(steps):
        grad = 2 * X.T @ (X @ theta - y)
        now, lr = ((X @ theta - y) ** 2).sum(), lr0
        while ((X @ (theta - lr * grad) - y) ** 2).sum() > now - c * lr * (grad @ grad):
            lr *= shrink
        theta = theta - lr * grad
        thetas.append(theta)
        rates.append(lr)
    return torch.stack(thetas), torch.tensor(rates, dtype=X.dtype)


@pytest.mark.parametrize("seed", [0, 5])
def test_line_search_rejects_the_summed_loss(seed) -> None:
    verdict = check_backtracking_gd.verify(_line_search_sum_loss, seed=seed)
    assert verdict.kind == "failed", verdict
