"""Run a reader's exercise code on given inputs and report what it returned, as plain data.

This is the half of an exercise check that runs *where the reader's code runs*: in
the chapter's own kernel (instant feedback) or in a grading kernel. It holds no
answer: it never sees a reference solution and decides nothing. It takes the
inputs a check chose (:func:`encode`-d cases), calls the reader's function or class
through a *driver*, and returns one plain record per case. The verdict is made by
:mod:`dlbook.checks` from those records, in the grader's own process when grading.

The wire format is JSON that :func:`decode` rebuilds without running any code:

- ``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``, ``list``;
- ``{"$tuple": [...]}``, ``{"$dict": [[key, value], ...]}`` (keys are str or int);
- ``{"$tensor": {"dtype": "float32", "shape": [2, 3], "data": "<base64 bytes>"}}``
  and ``{"$ndarray": {...}}`` (same fields), little-endian, C order;
- ``{"$object": "<type name>"}`` for anything else (a module, a generator, …),
  which no check accepts as a result.

A driver is a function ``driver(candidate, *args, **kwargs) -> result`` registered
in :data:`DRIVERS`; the probe validates the candidate, clones the inputs, restores
PyTorch's global state (grad mode, default dtype) before each case, and turns an
exception into a record instead of a traceback.
"""

from __future__ import annotations

import base64
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = [
    "encode",
    "decode",
    "dumps",
    "loads",
    "DRIVERS",
    "driver",
    "collect",
    "run_file",
]

#: dtypes the wire format carries (name -> torch dtype).
_DTYPES: dict[str, torch.dtype] = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int32,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.bool,
        torch.complex64,
        torch.complex128,
    )
}
_NP_DTYPES = {
    "float64",
    "float32",
    "float16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
}
#: Largest tensor the wire format accepts (elements), so a record cannot exhaust memory.
MAX_ELEMENTS = 50_000_000
#: Deepest nesting of lists, tuples and dicts.
MAX_DEPTH = 20


# --- the wire format --------------------------------------------------------------------


def _plain_tensor(t: torch.Tensor) -> torch.Tensor:
    """The tensor's own data as a plain CPU tensor, bypassing any ``__torch_function__``."""
    with torch._C.DisableTorchFunctionSubclass():
        plain = torch.Tensor.detach(t)
        if plain.is_conj():
            plain = plain.resolve_conj()
        return torch.Tensor.contiguous(torch.Tensor.cpu(plain)).as_subclass(torch.Tensor)


def encode(value: Any, _depth: int = 0) -> Any:
    """``value`` as JSON-ready plain data (see the module docstring for the format)."""
    if _depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, torch.Tensor):
        t = _plain_tensor(value)
        name = str(t.dtype).removeprefix("torch.")
        if name not in _DTYPES:
            return {"$object": f"tensor of dtype {name}"}
        if name == "bfloat16":  # numpy has no bfloat16: carry its bits
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        return {
            "$tensor": {
                "dtype": name,
                "shape": list(t.shape),
                "data": base64.b64encode(raw).decode("ascii"),
            }
        }
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        if a.dtype.name not in _NP_DTYPES:
            return {"$object": f"ndarray of dtype {a.dtype}"}
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        return {
            "$ndarray": {
                "dtype": a.dtype.name,
                "shape": list(a.shape),
                "data": base64.b64encode(raw).decode("ascii"),
            }
        }
    if isinstance(value, np.generic):  # NumPy scalars: as Python numbers
        return encode(value.item(), _depth)
    if isinstance(value, bool):  # a bool subclass: keep the truth value only
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if type(k) not in (str, int):
                return {"$object": "dict with keys that are not str or int"}
            items.append([k, encode(v, _depth + 1)])
        return {"$dict": items}
    return {"$object": type(value).__name__}


def _array(spec: Any, kind: str) -> Any:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise ValueError(f"malformed {kind}")
    dtype, shape, data = spec["dtype"], spec["shape"], spec["data"]
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"malformed {kind} shape")
    count = 1
    for n in shape:
        count *= n
    if count > MAX_ELEMENTS:
        raise ValueError(f"{kind} too large")
    if not isinstance(data, str):
        raise ValueError(f"malformed {kind} data")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    if kind == "tensor":
        if dtype not in _DTYPES:
            raise ValueError(f"unknown tensor dtype {dtype!r}")
        if dtype == "bfloat16":
            arr = np.frombuffer(raw, dtype="<i2")
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        if arr.size != count:
            raise ValueError("tensor data does not match its shape")
        arr = arr.astype(arr.dtype.newbyteorder("="), copy=True).reshape(shape)
        t = torch.from_numpy(arr)
        return t.view(torch.bfloat16) if dtype == "bfloat16" else t
    if dtype not in _NP_DTYPES:
        raise ValueError(f"unknown array dtype {dtype!r}")
    arr = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
    if arr.size != count:
        raise ValueError("array data does not match its shape")
    return arr.astype(arr.dtype.newbyteorder("="), copy=True).reshape(shape)


class Opaque(str):
    """A result the wire format does not carry (its type name); no check accepts it."""

    def __repr__(self) -> str:
        return f"<{str(self)}>"


def decode(data: Any, _depth: int = 0) -> Any:
    """Rebuild a value from :func:`encode`'s plain data, running no code of the sender's."""
    if _depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v, _depth + 1) for v in data]
    if type(data) is dict and len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "$tensor":
            return _array(body, "tensor")
        if tag == "$ndarray":
            return _array(body, "array")
        if tag == "$tuple" and type(body) is list:
            return tuple(decode(v, _depth + 1) for v in body)
        if tag == "$dict" and type(body) is list:
            out = {}
            for item in body:
                if type(item) is not list or len(item) != 2 or type(item[0]) not in (str, int):
                    raise ValueError("malformed dict item")
                out[item[0]] = decode(item[1], _depth + 1)
            return out
        if tag == "$object" and type(body) is str:
            return Opaque(body[:200])
    raise ValueError("not in the wire format")


def dumps(value: Any) -> str:
    """``value`` encoded as one line of JSON."""
    return json.dumps(encode(value), separators=(",", ":"))


def loads(text: str) -> Any:
    """Decode a line written by :func:`dumps`."""
    return decode(json.loads(text))


# --- drivers: how a check calls the reader's code -----------------------------------------

#: Driver name -> (function, what the candidate must be: "callable" or "class").
DRIVERS: dict[str, tuple[Callable[..., Any], str]] = {}


def driver(name: str, *, expects: str = "callable") -> Callable:
    """Register a driver under ``name`` (``expects``: ``"callable"`` or ``"class"``)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        DRIVERS[name] = (fn, expects)
        return fn

    return register


@driver("call")
def _call(candidate: Callable, *args: Any, **kwargs: Any) -> Any:
    """The plain case: ``candidate(*args, **kwargs)``."""
    return candidate(*args, **kwargs)


@driver("construct_then_call", expects="class")
def _construct_then_call(
    candidate: type, init: tuple = (), inputs: tuple = (), state: dict | None = None
) -> Any:
    """``candidate(*init)``, optionally ``load_state_dict(state)``, then call it on ``inputs``.

    For an ``nn.Module`` exercise the result is the forward output.
    """
    obj = candidate(*init)
    if state is not None:
        obj.load_state_dict(state)
    return obj(*inputs)


# --- running the cases ----------------------------------------------------------------


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.equal(a.detach(), b.detach()))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return True


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:
        text = "(its message could not be printed)"
    return f"{type(exc).__name__}: {text}"[:1000]


class _CleanTorchState:
    """Grad mode on and float32 as the default dtype while a case runs; restored after."""

    def __enter__(self) -> None:
        self.grad = torch.is_grad_enabled()
        self.dtype = torch.get_default_dtype()
        self.inference = torch.is_inference_mode_enabled()
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)

    def __exit__(self, *exc: object) -> None:
        torch.set_grad_enabled(self.grad)
        torch.set_default_dtype(self.dtype)


def _validate(candidate: Any, expects: str) -> str | None:
    if candidate is None:
        what = "your class" if expects == "class" else "your function"
        return (
            f"expected {what}, got None. Did you run the exercise cell above, and does "
            "your code `return` its result?"
        )
    if expects == "class":
        if not isinstance(candidate, type):
            return (
                f"expected your class itself, got an object of type {type(candidate).__name__}. "
                "Pass the class: check(MyClass), not check(MyClass(...))."
            )
        return None
    if not callable(candidate):
        return (
            f"expected your function (something callable), got a {type(candidate).__name__}. "
            "Pass the function itself, without calling it: check(my_fn), not check(my_fn(x))."
        )
    if inspect.isgenerator(candidate):
        return "expected a function, got a generator."
    return None


def collect(driver_name: str, candidate: Any, cases: list) -> dict:
    """Run ``candidate`` on every case through the driver; return the plain record.

    ``cases`` is a list of ``[name, args, kwargs]`` (already decoded). The record is
    ``{"fatal": message}`` when the candidate cannot be used at all, else
    ``{"cases": [...]}`` with, per case, ``{"status": "ok", "value": <encoded>}`` or
    ``{"status": "raised" | "not implemented" | "mutated" | "unencodable", "error": text}``.
    """
    fn, expects = DRIVERS[driver_name]
    problem = _validate(candidate, expects)
    if problem:
        return {"fatal": problem}
    out = []
    for name, args, kwargs in cases:
        args, kwargs = list(_clone(args)), dict(_clone(kwargs))
        before = (_clone(args), _clone(kwargs))
        try:
            with _CleanTorchState():
                value = fn(candidate, *args, **kwargs)
        except NotImplementedError as exc:
            out.append({"case": name, "status": "not implemented", "error": _message(exc)})
            continue
        except Exception as exc:
            out.append({"case": name, "status": "raised", "error": _message(exc)})
            continue
        except KeyboardInterrupt as exc:  # raised by the reader's code, or a time limit
            out.append({"case": name, "status": "interrupted", "error": _message(exc)})
            break
        if not (_same(before[0], args) and _same(before[1], kwargs)):
            out.append({"case": name, "status": "mutated", "error": ""})
            continue
        try:
            encoded = encode(value)
        except Exception as exc:
            out.append({"case": name, "status": "unencodable", "error": _message(exc)})
            continue
        out.append({"case": name, "status": "ok", "value": encoded})
    return {"cases": out}


def run_file(driver_name: str, candidate: Any, inputs: str, output: str) -> None:
    """Grading entry point: read encoded cases from ``inputs``, write the record to ``output``.

    Called in the grading kernel as ``dlbook.probe.run_file(driver, candidate, in, out)``.
    """
    with open(inputs, encoding="utf-8") as f:
        cases = decode(json.load(f))
    record = collect(driver_name, candidate, cases)
    text = json.dumps(record, separators=(",", ":"))
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.flush()


# --- chapter 25: a critic given by its weights ----------------------------------------


def critic_from_weights(weights: tuple | list) -> tuple[Callable[[torch.Tensor], Any], list]:
    """A small critic network built from plain weights, and its parameters.

    ``weights`` is ``(W1, b1, W2, b2, ..., WL, bL)`` in ``nn.Linear``'s layout
    (``W`` of shape ``(out, in)``); the last layer has one output. The critic maps
    ``x`` of shape ``(N, d)`` to scores of shape ``(N, 1)``, with ``tanh`` between
    the layers, like ``nn.Sequential(nn.Linear, nn.Tanh, ..., nn.Linear)``. The
    parameters are fresh leaf tensors that require gradients.
    """
    params = [torch.Tensor.detach(w).clone().requires_grad_(True) for w in weights]
    if len(params) < 2 or len(params) % 2:
        raise ValueError("weights must be (W1, b1, ..., WL, bL)")

    def critic(x: torch.Tensor) -> torch.Tensor:
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i].T + params[i + 1]
            if i + 2 < len(params):
                h = torch.tanh(h)
        return h

    return critic, params


@driver("critic_then_call")
def _critic_then_call(candidate: Callable, weights: tuple, *args: Any, **kwargs: Any) -> Any:
    """Build the critic from ``weights``, call ``candidate(critic, *args, **kwargs)``.

    The candidate returns a scalar loss tensor. The result is ``(loss, grads)``: the
    loss's value and its gradient with respect to each of the critic's weights
    (zeros for a weight the loss does not depend on), which is what training the
    critic would use.
    """
    critic, params = critic_from_weights(weights)
    loss = candidate(critic, *args, **kwargs)
    if not isinstance(loss, torch.Tensor):
        raise TypeError(
            f"the loss must be a tensor computed from the critic's output, got {type(loss).__name__}"
        )
    if loss.numel() != 1:
        raise ValueError(f"the loss must be one number, got a tensor of shape {tuple(loss.shape)}")
    if loss.requires_grad:
        grads = torch.autograd.grad(loss.sum(), params, allow_unused=True)
    else:
        grads = (None,) * len(params)
    grads = tuple(
        torch.zeros_like(p) if g is None else g.detach() for g, p in zip(grads, params, strict=True)
    )
    return loss.detach().reshape(()), grads
