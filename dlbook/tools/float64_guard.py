"""Run a chapter as if its device had no float64, as Apple's MPS has none.

``DLBOOK_DEVICE=no-float64`` makes :func:`dlbook.setup` return :data:`STAND_IN`
(the CPU, named ``cpu:0`` so that moves to it can be told apart from moves to
``"cpu"``) and install :class:`NoFloat64Mode`. From then on, a float64 tensor that
is created on the chapter's ``device``, moved there, or computed from a tensor
that lives there raises ``TypeError``, as it does on every M-series Mac. The
book's test run sets this variable (``dlbook.tools.pytest_setup``), so every
chapter under nbval proves that it keeps its float64 work on the CPU.

Tensors moved to ``cpu:0`` are plain CPU tensors (their ``.device`` prints as
``cpu``), so the mode follows them itself: it remembers which tensors are "on the
device" and passes that on to every result computed from them, until a tensor is
moved elsewhere (``.cpu()``, ``.to("cpu")``). A move that would return the tensor
itself returns an alias (a view), as a real device returns a new tensor; a
module's parameters follow ``module.to(device)`` and ``module.cpu()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakTensorKeyDictionary

__all__ = ["STAND_IN", "NoFloat64Mode", "install", "installed"]

#: The device a chapter gets under ``DLBOOK_DEVICE=no-float64``.
STAND_IN = torch.device("cpu", 0)
#: What MPS says, give or take the device name.
MESSAGE = (
    "Cannot convert a tensor on the chapter's device to float64: Apple's MPS has no "
    "float64 (DLBOOK_DEVICE=no-float64 checks this on the CPU). Keep float64 work on "
    "the CPU: do not move a float64 tensor or a .double() model to `device`."
)
_NO_FLOAT64 = (torch.float64, torch.complex128)
_MOVES = (torch.Tensor.to, torch.Tensor.cpu)

_mode: NoFloat64Mode | None = None


def _tensors(values: Iterable[Any]) -> Iterable[torch.Tensor]:
    for v in values:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (t for t in v if isinstance(t, torch.Tensor))


def _is_data_setter(func) -> bool:
    """``tensor.data = other`` (a new method-wrapper object on every access)."""
    return getattr(func, "__name__", "") == "__set__" and getattr(func, "__self__", None) is (
        torch._C.TensorBase.data
    )


class NoFloat64Mode(TorchFunctionMode):
    """Raise ``TypeError`` when a float64 tensor would live on :data:`STAND_IN`."""

    def __init__(self) -> None:
        super().__init__()
        # Keyed by identity: tensors compare elementwise, so no WeakSet.
        self.resident: WeakTensorKeyDictionary = WeakTensorKeyDictionary()

    def _lands_on_device(self, func, args: tuple, kwargs: dict) -> bool:
        if func is torch.Tensor.cpu:
            return False
        device = kwargs.get("device")
        if device is None and func is torch.Tensor.to:
            for a in args[1:]:
                if isinstance(a, torch.Tensor):  # x.to(other): other's device
                    return a in self.resident
                if isinstance(a, (torch.device, str)):
                    device = a
                    break
        if device is not None:
            return torch.device(device) == STAND_IN
        return any(t in self.resident for t in _tensors(args)) or any(
            t in self.resident for t in _tensors(kwargs.values())
        )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if _is_data_setter(func):  # module.to(device) swaps each parameter's data
            if args[1] in self.resident:
                self.resident[args[0]] = True
            else:
                self.resident.pop(args[0], None)
            return out
        lands = self._lands_on_device(func, args, kwargs)
        if func in _MOVES and out is args[0] and (args[0] in self.resident) != lands:
            # A move between the CPU and its stand-in returns the tensor itself. On
            # a real device it is a new tensor: an alias keeps the two apart.
            out = out.view_as(out)
        if lands:
            for t in _tensors(out if isinstance(out, (list, tuple)) else [out]):
                if t.dtype in _NO_FLOAT64:
                    raise TypeError(MESSAGE)
                self.resident[t] = True
        return out


def install() -> NoFloat64Mode:
    """Enter the mode for the rest of this process (once); return it."""
    global _mode
    if _mode is None:
        _mode = NoFloat64Mode()
        _mode.__enter__()
    return _mode


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return _mode is not None
