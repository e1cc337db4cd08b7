"""A decorated function's cheap outer layer: its own parameters, one flag, one call.

A wrapper taking ``*args, **kwargs`` packs every call's arguments into a tuple and
a dict, and unpacks them again for the wrapped function: about three bare calls'
worth of work even while tracing is off. The outer layer built here has the
function's exact parameters, so while tracing is off a call costs one more frame
than a bare call. While tracing is on it hands the arguments to the tracing
wrapper (:mod:`spanline._decorators._wrapping`).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

__all__ = ["forwarding"]

_VARARGS = 0x04  # inspect.CO_VARARGS, without importing inspect for it
_VARKEYWORDS = 0x08  # inspect.CO_VARKEYWORDS
_PREFIX = "_spanline_"


def forwarding(
    func: Callable[..., Any], traced: Callable[..., Any], runtime: Any, *, is_async: bool
) -> Callable[..., Any] | None:
    """The outer layer of ``func``: calls ``func`` while ``runtime.off``, else ``traced``.

    Args:
        func: the decorated function.
        traced: the tracing wrapper, called with the same arguments.
        runtime: the object whose ``off`` flag says tracing is off for good.
        is_async: ``func`` is a coroutine function (the layer awaits).

    Returns:
        The layer, or None for anything but a plain Python function (a builtin, a
        callable object): those keep the tracing wrapper alone.
    """
    if type(func) is not types.FunctionType:
        return None
    params, call, namespace = _parameters(func)
    if params is None:
        return None
    namespace.update({f"{_PREFIX}func": func, f"{_PREFIX}traced": traced, f"{_PREFIX}rt": runtime})
    head, wait = ("async def", "await ") if is_async else ("def", "")
    source = (
        f"{head} wrapper({', '.join(params)}):\n"
        f"    if {_PREFIX}rt.off:\n"
        f"        return {wait}{_PREFIX}func({', '.join(call)})\n"
        f"    return {wait}{_PREFIX}traced({', '.join(call)})\n"
    )
    exec(compile(source, f"<spanline wrapper of {func.__qualname__}>", "exec"), namespace)
    wrapper: Callable[..., Any] = namespace["wrapper"]
    return wrapper


def _parameters(func: types.FunctionType) -> tuple[list[str] | None, list[str], dict[str, Any]]:
    """The parameter list of ``func`` as source, the matching call, and the defaults."""
    code = func.__code__
    names = code.co_varnames
    count, positional_only, keyword_only = (
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
    )
    index = count + keyword_only
    star = names[index] if code.co_flags & _VARARGS else None
    starstar = names[index + (star is not None)] if code.co_flags & _VARKEYWORDS else None
    every = [*names[:index], *(name for name in (star, starstar) if name is not None)]
    if any(name.startswith(_PREFIX) or not name.isidentifier() for name in every):
        return None, [], {}
    defaults = func.__defaults__ or ()
    keyword_defaults = func.__kwdefaults__ or {}
    namespace: dict[str, Any] = {}
    params: list[str] = []
    call: list[str] = []
    first_default = count - len(defaults)
    for position, name in enumerate(names[:count]):
        if position >= first_default:
            namespace[f"{_PREFIX}d{position}"] = defaults[position - first_default]
            params.append(f"{name}={_PREFIX}d{position}")
        else:
            params.append(name)
        if position == positional_only - 1:
            params.append("/")
        call.append(name)
    if star is not None:
        params.append(f"*{star}")
        call.append(f"*{star}")
    elif keyword_only:
        params.append("*")
    for name in names[count:index]:
        if name in keyword_defaults:
            namespace[f"{_PREFIX}k_{name}"] = keyword_defaults[name]
            params.append(f"{name}={_PREFIX}k_{name}")
        else:
            params.append(name)
        call.append(f"{name}={name}")
    if starstar is not None:
        params.append(f"**{starstar}")
        call.append(f"**{starstar}")
    return params, call, namespace
