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
    "run_check",
    "snapshot",
    "integrity",
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

#: Driver name -> (function, what the candidate must be: "callable", "class" or "any";
#: a driver that takes "any" checks its candidate itself).
DRIVERS: dict[str, tuple[Callable[..., Any], str]] = {}


def driver(name: str, *, expects: str = "callable") -> Callable:
    """Register a driver under ``name`` (``expects``: ``"callable"``, ``"class"`` or ``"any"``)."""

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
    """PyTorch's global state at its defaults while a case runs; what the notebook set, after.

    Grad mode on, inference mode off, float32 as the default dtype, the CPU as the
    default device, deterministic algorithms off, one thread: other cells of the
    notebook (``torch.set_grad_enabled(False)``, ``torch.set_default_dtype(...)``)
    must not change what a check sees.
    """

    def __enter__(self) -> None:
        self.grad = torch.is_grad_enabled()
        self.dtype = torch.get_default_dtype()
        self.threads = torch.get_num_threads()
        self.deterministic = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        )
        self.device = torch.get_default_device() if hasattr(torch, "get_default_device") else None
        self.inference = torch.inference_mode(False)
        self.inference.__enter__()
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
        torch.use_deterministic_algorithms(False)
        if self.device is not None and self.device.type != "cpu":
            torch.set_default_device("cpu")
        if self.threads != 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        self.inference.__exit__(None, None, None)
        torch.set_grad_enabled(self.grad)
        torch.set_default_dtype(self.dtype)
        torch.use_deterministic_algorithms(self.deterministic[0], warn_only=self.deterministic[1])
        if self.device is not None and self.device.type != "cpu":
            torch.set_default_device(self.device)
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)


def _validate(candidate: Any, expects: str) -> str | None:
    if candidate is None:
        what = "your class" if expects == "class" else "your function"
        return (
            f"expected {what}, got None. Did you run the exercise cell above, and does "
            "your code `return` its result?"
        )
    if expects == "class":
        if not callable(candidate) and type(candidate).__module__ == "builtins":
            return (
                f"expected your class (something callable), got a {type(candidate).__name__}. "
                "Pass the class itself: check(MyClass)."
            )
        if not isinstance(candidate, type):
            return (
                f"expected your class, got an instance of {type(candidate).__name__}: "
                "pass the class itself: check(MyClass), not check(MyClass(...))."
            )
        return None
    if expects == "any":
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
        row = {"case": name, "status": "ok", "value": encoded}
        odd = _tensor_subclasses(value)
        if odd:
            row["subclass"] = odd
        out.append(row)
    return {"cases": out}


def _tensor_subclasses(value: Any, _depth: int = 0) -> list[str]:
    """Names of tensor subclasses in ``value`` that bring their own ``__torch_function__``."""
    if _depth > MAX_DEPTH:
        return []
    if isinstance(value, torch.Tensor):
        kind = type(value)
        own = getattr(kind, "__torch_function__", None)
        plain = (torch.Tensor.__torch_function__, torch.nn.Parameter.__torch_function__)
        if kind not in (torch.Tensor, torch.nn.Parameter) and getattr(own, "__func__", own) not in [
            getattr(f, "__func__", f) for f in plain
        ]:
            return [kind.__name__]
        return []
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _tensor_subclasses(v, _depth + 1)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _tensor_subclasses(v, _depth + 1)]
    return []


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


# --- the grader's side of the kernel: no answer here either ------------------------------

#: What :func:`snapshot` saw before the reader's cells ran (name -> object).
_BASELINE: dict[str, Any] = {}

#: Library functions a check's comparison could be fooled through if they were replaced in
#: the kernel (the verdict is made elsewhere; replacing them is reported, not obeyed).
_WATCHED = (
    "torch.isclose torch.allclose torch.equal torch.eq torch.all torch.any torch.abs "
    "torch.max torch.sum torch.tensor torch.as_tensor torch.is_tensor torch.testing.assert_close "
    "torch.autograd.gradcheck torch.autograd.gradgradcheck torch.autograd.grad "
    "torch.Tensor.all torch.Tensor.any torch.Tensor.__eq__ torch.Tensor.__ne__ torch.Tensor.eq "
    "torch.Tensor.equal torch.Tensor.allclose torch.Tensor.isclose torch.Tensor.item "
    "torch.Tensor.tolist torch.Tensor.__bool__ torch.Tensor.detach torch.Tensor.clone "
    "torch.Tensor.numpy torch.Tensor.backward torch.Tensor.__torch_function__ "
    "numpy.allclose numpy.isclose numpy.array_equal numpy.testing.assert_allclose "
    "math.isclose json.dumps json.dump json.loads json.load base64.b64encode"
).split()
_MODULES = ("torch", "numpy", "json", "base64", "math", "builtins", "dlbook", "dlbook.probe")


def _lookup(path: str) -> Any:
    head, *rest = path.split(".")
    obj: Any = sys.modules.get(head)
    for part in rest:
        obj = (
            inspect.getattr_static(obj, part, None)
            if isinstance(obj, type)
            else getattr(obj, part, None)
        )
    return obj


def snapshot() -> None:
    """Remember the watched library functions, builtins and modules (grader's first cell)."""
    import builtins
    import math  # noqa: F401  (watched)

    _BASELINE.clear()
    _BASELINE.update({p: _lookup(p) for p in _WATCHED})
    _BASELINE.update({f"builtins.{k}": v for k, v in vars(builtins).items()})
    _BASELINE.update({f"sys.modules[{m!r}]": sys.modules.get(m) for m in _MODULES})
    _BASELINE.update({f"dlbook.probe.{k}": v for k, v in globals().items() if callable(v)})


def integrity() -> list[str]:
    """What differs from :func:`snapshot`: replaced functions, builtins or modules."""
    import builtins

    if not _BASELINE:
        return ["the grader's snapshot is gone"]
    changed = []
    now_builtins = vars(builtins)
    for key, before in _BASELINE.items():
        if key.startswith("builtins."):
            name = key.removeprefix("builtins.")
            if name.startswith("_") or name in ("input", "raw_input", "display", "get_ipython"):
                continue
            now = now_builtins.get(name, _MISSING)
        elif key.startswith("sys.modules["):
            now = sys.modules.get(key[len("sys.modules['") : -2])
        elif key.startswith("dlbook.probe."):
            now = globals().get(key.removeprefix("dlbook.probe."), _MISSING)
        else:
            now = _lookup(key)
        if now is not before:
            changed.append(f"{key} replaced" if now is not _MISSING else f"{key} deleted")
    return changed


_MISSING = object()


def run_check(
    driver_name: str,
    expression: str,
    prefix: str,
    names: list[str],
    inputs: str,
    output: str,
    namespace: dict,
) -> None:
    """Grading entry point: find the candidate in the notebook's namespace, probe it.

    The grader's one cell per check calls this with the check cell's candidate
    expression (e.g. ``"huber_grad"``) and its set-up statements ``prefix``;
    both are evaluated in a copy of the notebook's ``namespace``. A name that is not
    there (a deleted exercise cell, ``%reset``) gives ``{"missing": [...]}``.
    The record written to ``output`` also says what :func:`integrity` found.
    """
    import builtins

    def write(record: dict) -> None:
        record["integrity"] = integrity()
        record["probe"] = __file__
        with open(output, "w", encoding="utf-8") as f:
            f.write(json.dumps(record, separators=(",", ":")))

    missing = [n for n in names if n not in namespace and not hasattr(builtins, n)]
    if missing:
        write({"missing": missing})
        return
    ns = dict(namespace)
    try:
        if prefix.strip():
            exec(compile(prefix, "<check cell>", "exec"), ns)
        candidate = eval(compile(expression, "<check cell>", "eval"), ns)
    except NameError as exc:
        write({"missing": [getattr(exc, "name", None) or str(exc)]})
        return
    except Exception as exc:
        write({"fatal": f"the check cell's own code raised {_message(exc)}"})
        return
    with open(inputs, encoding="utf-8") as f:
        cases = decode(json.load(f))
    write(collect(driver_name, candidate, cases))


# --- drivers of chapters 1-10 ---------------------------------------------------------------

#: Scalar test functions a check can name (chapter 2's numerical gradient): name -> builder
#: taking the case's parameter tensor (or None) and returning ``f(x) -> 0-d tensor``.
FORMULAS: dict[str, Callable[[Any], Callable[[torch.Tensor], torch.Tensor]]] = {
    "sum(x**3)": lambda p: lambda x: (x**3).sum(),
    "sum(x * (x @ B))": lambda B: lambda x: (x * (x @ B)).sum(),
    "sum(sin(x)) + mean(exp(x))": lambda p: lambda x: torch.sin(x).sum() + x.exp().mean(),
    "logsumexp(x)": lambda p: lambda x: torch.logsumexp(x.reshape(-1), 0),
    "sum(tanh(x)**2)": lambda p: lambda x: (torch.tanh(x) ** 2).sum(),
}


def formula(name: str, params: Any = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The scalar function ``name`` of :data:`FORMULAS` (``params``: e.g. its matrix B)."""
    return FORMULAS[name](params)


@driver("scalar_function")
def _scalar_function(candidate: Callable, name: str, params: Any, *args: Any) -> Any:
    """``candidate(f, *args)`` where ``f`` is the named scalar function of :data:`FORMULAS`."""
    return candidate(formula(name, params), *args)


@driver("autograd_function", expects="any")
def _autograd_function(
    candidate: type, mode: str, x: torch.Tensor, *args: Any, grad_output: Any = None
) -> Any:
    """A ``torch.autograd.Function`` subclass ``candidate``, applied as ``candidate.apply(x, *args)``.

    ``mode="run"``: forward, then backward with ``grad_output``; returns ``(y, x.grad)``.
    ``mode="gradcheck"``: returns ``torch.autograd.gradcheck``'s verdict (a bool) on ``x``.
    """
    if not (isinstance(candidate, type) and issubclass(candidate, torch.autograd.Function)):
        raise TypeError(
            f"expected a subclass of torch.autograd.Function, got {type(candidate).__name__}. "
            "Pass the class itself: check(MyFunction), not an instance and not "
            "MyFunction.apply(...)."
        )
    xin = x.detach().clone().requires_grad_(True)
    if mode == "gradcheck":
        return bool(
            torch.autograd.gradcheck(
                lambda t: candidate.apply(t, *args), (xin,), raise_exception=False
            )
        )
    y = candidate.apply(xin, *args)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"forward returned a {type(y).__name__}, expected a tensor")
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(
            f"forward output has shape {tuple(y.shape)}, expected {tuple(x.shape)} (the shape of x)"
        )
    if not torch.equal(xin.detach(), x):
        raise ValueError(
            "your Function changed its input x in place; build a new tensor in forward "
            "instead of writing into x"
        )
    y.backward(grad_output)
    return y.detach(), xin.grad


#: Transforms a dataset check can name: name -> builder taking the spec's numbers.
TRANSFORMS: dict[str, Callable[..., Callable[[torch.Tensor], torch.Tensor]]] = {
    "affine": lambda scale, shift: lambda x: scale * x + shift,
}


@driver("dataset", expects="class")
def _dataset(
    candidate: type,
    *init: Any,
    transform: tuple | None = None,
    past_end: tuple = (),
    batch_size: int = 0,
) -> dict:
    """A map-style Dataset class: ``ds = candidate(*init[, transform])``, then every item.

    Returns ``{"len", "items", "past_end", "changed", "batch"}``: ``len(ds)``, ``ds[i]`` for
    every i, what ``ds[j]`` did for each j of ``past_end`` (``"IndexError"``, ``"returned"``
    or the exception's type name), whether the tensors given to it were changed, and the
    shapes of the first ``DataLoader(ds, batch_size)`` batch (when there is one).
    """
    from torch.utils.data import DataLoader

    given = [_clone(a) for a in init]
    args = list(given)
    if transform is not None:
        args.append(TRANSFORMS[transform[0]](*transform[1:]))
    ds = candidate(*args)
    n = len(ds)
    items: list = []
    for i in range(n):
        try:
            items.append(ds[i])
        except NotImplementedError:
            raise
        except Exception as exc:  # reported as the item's outcome, after len is judged
            items.append(f"ds[{i}] raised {_message(exc)}")
            break
    outcomes = {}
    for j in past_end:
        try:
            ds[j]
        except IndexError:
            outcomes[j] = "IndexError"
        except NotImplementedError:
            raise
        except Exception as exc:
            outcomes[j] = type(exc).__name__
        else:
            outcomes[j] = "returned"
    changed = not _same(given, list(init))
    batch = None
    if batch_size and n >= batch_size and len(items) == n and not isinstance(items[-1], str):
        xb, yb = next(iter(DataLoader(ds, batch_size=batch_size)))
        batch = (tuple(xb.shape), tuple(yb.shape))
    return {"len": n, "items": items, "past_end": outcomes, "changed": changed, "batch": batch}


@driver("steps")
def _steps(candidate: Callable, total: int, *args: Any) -> list:
    """A schedule: ``[candidate(step, total, *args) for step in 0 .. total]``."""
    return [candidate(step, total, *args) for step in range(total + 1)]


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


# --- chapter 17: a gradient written by hand ---------------------------------------------


@driver("call_without_autograd")
def _call_without_autograd(candidate: Callable, *args: Any, **kwargs: Any) -> Any:
    """``candidate(*args, **kwargs)`` with grad mode off (``torch.no_grad``).

    For an exercise that asks for a gradient derived by hand: autograd, hooks and
    ``requires_grad_`` cannot build a graph here, so only a formula passes.
    """
    with torch.no_grad():
        return candidate(*args, **kwargs)
