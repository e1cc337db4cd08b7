"""One wrapper for four call shapes, used by the decorators in ``_traced``.

A *recipe* says what a kind of call records (name, attributes at start, what
to do with the result); :func:`decorate` wraps sync functions, coroutines,
generators and async generators alike. While tracing is off a wrapped call
costs one check and calls straight through. Whether tracing is on is decided at
call time, so functions decorated at import are traced once tracing starts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from spanline._decorators._forward import forwarding
from spanline._hotpath._abandon import NOT_EXHAUSTED, hold_open
from spanline._hotpath._errors import is_clean_exit
from spanline._hotpath._runtime import (
    CURRENT_SPAN,
    RUNTIME,
    call_pipeline,
    context_attributes,
    set_context_attributes,
)
from spanline._hotpath._tracer import _CURRENT, Span, monotonic

if TYPE_CHECKING:
    from spanline._hotpath._runtime import Pipeline

# Loaded with the first traced call, not at import: previews, redaction and the stream
# proxies cost a program's start several milliseconds whether it traces or not.


def parsed_raw_response(value: Any) -> Any:
    """The parsed body of a ``with_raw_response`` result (see ``_streams``), else ``value``."""
    from spanline._decorators._streams import parsed_raw_response as parse

    return parse(value)


__all__ = ["Recipe", "captured", "decorate", "parsed_raw_response"]

F = TypeVar("F", bound=Callable[..., Any])


class Recipe:
    """How one decorated function becomes spans. Subclasses fill in the hooks."""

    kind = "span"
    #: A returned iterator is a stream: keep the span open until it is consumed.
    wraps_streams = False

    def __init__(self, func: Callable[..., Any], span_name: str, kind: str | None) -> None:
        self.func = func
        self.span_name = span_name
        self.kind = kind or self.kind
        import inspect  # loaded by the first decorated function (with ast, dis, tokenize)

        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):  # some builtins have none
            self.signature = None

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by name (without ``self``/``cls``), best effort."""
        if RUNTIME.capture != "off":  # what is captured never holds half of a secret
            from spanline._capture._split import hide_split_secrets  # loaded on first use

            args, kwargs = hide_split_secrets(args, kwargs)
        if self.signature is None:
            return {"args": list(args), **kwargs}
        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError:
            return {"args": list(args), **kwargs}
        bound.apply_defaults()  # an agent_id=... default names the agent too
        named = dict(bound.arguments)
        for first in ("self", "cls"):
            named.pop(first, None)
        return named

    def start_attributes(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Fill ``span.attributes`` before the span starts."""

    def context(self, span: Span) -> dict[str, Any] | None:
        """Attributes every span opened inside this call should carry."""
        return None

    def finish(self, span: Span, result: Any, elapsed_ms: float) -> None:
        """The call returned ``result``."""

    def fail(self, span: Span, exc: BaseException, elapsed_ms: float) -> None:
        """The call raised ``exc`` (recorded on the span by the caller)."""

    def new_stream(self) -> Any:
        """Per-call state for a generator or returned stream."""
        return None

    def chunk(self, span: Span, state: Any, item: Any, elapsed_ms: float) -> None:
        """A generator or stream produced ``item``."""

    def stream_source(self, state: Any, stream: Any) -> None:
        """The returned stream is ending: ``stream`` is the object the call returned."""

    def finish_stream(self, span: Span, state: Any, elapsed_ms: float) -> None:
        """The generator or stream is exhausted (or was closed early)."""


def captured(key: str, value: Any, *, key_full: str | None = None) -> dict[str, Any]:
    """The capture attributes of ``value`` for the current capture mode.

    ``preview`` gives ``{preview key: short redacted text}``; ``full`` gives the
    preview too (queries rely on it in every mode) plus ``{key_full: the whole
    redacted value}``; ``off`` gives ``{}``.

    Args:
        key: the attribute name; ``.value`` in it becomes ``.preview`` for the preview.
        value: what to capture.
        key_full: the attribute for the full value (default: ``key``).
    """
    mode = RUNTIME.capture
    if mode == "off":
        return {}
    from spanline._capture._previews import capture_value

    limit = RUNTIME.preview_chars
    attributes = {key.replace(".value", ".preview"): capture_value(value, "preview", limit)}
    if mode == "full":
        attributes[key_full or key] = capture_value(value, mode, limit)
    return attributes


class _Call:
    """One traced invocation: its span, the context its body sees, and its clock."""

    __slots__ = ("inside", "recipe", "span", "t0")

    def __init__(
        self, pipeline: Pipeline, recipe: Recipe, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.recipe = recipe
        self.span = Span(pipeline, recipe.span_name, recipe.kind, None, _CURRENT, {})
        recipe.start_attributes(self.span, args, kwargs)
        self.span._start()
        extra = recipe.context(self.span)
        outer = context_attributes.get()
        #: What the body sees as current span and context attributes. For a
        #: generator it is saved at each yield and restored at the next step, so
        #: a span the body opened before a yield is still the parent after it.
        self.inside: tuple[Any, Any] = (self.span, {**(outer or {}), **extra} if extra else outer)
        self.t0 = monotonic()

    def elapsed_ms(self) -> float:
        return (monotonic() - self.t0) * 1000.0

    def activate(self) -> tuple[Any, Any]:
        """Enter the body's context: its current span and context attributes."""
        span, attributes = self.inside
        return CURRENT_SPAN.set(span), set_context_attributes(attributes)

    def deactivate(self, tokens: tuple[Any, Any]) -> None:
        """Leave it, remembering where the body left it."""
        self.inside = (CURRENT_SPAN.get(), context_attributes.get())
        span_token, context_token = tokens
        try:
            CURRENT_SPAN.reset(span_token)
            context_attributes.reset(context_token)
        except (ValueError, RuntimeError):  # reset from another context: nothing to undo
            pass

    def success(self, result: Any) -> Any:
        recipe = self.recipe
        if recipe.wraps_streams:
            from spanline._decorators._streams import wrap_deferred

            wrapped = wrap_deferred(result, self)
            if wrapped is not None:
                return wrapped
        try:
            recipe.finish(self.span, result, self.elapsed_ms())
        finally:
            self.span.end()
        return result

    def failure(self, exc: BaseException) -> None:
        try:
            if not is_clean_exit(exc):  # sys.exit(0) inside a tool is no failure of it
                self.recipe.fail(self.span, exc, self.elapsed_ms())
        finally:
            self.span._fail(exc)
            self.span.end()

    def stream_done(self, state: Any, closed_early: bool = False) -> None:
        if closed_early:
            self.span.set_attribute("spanline.closed_early", True)
        try:
            self.recipe.finish_stream(self.span, state, self.elapsed_ms())
        finally:
            self.span.end()


def decorate(func: F, recipe: Recipe) -> F:
    """Pick the wrapper for the function's shape."""
    import inspect

    if inspect.isasyncgenfunction(func):
        wrapper = _async_gen_wrapper(func, recipe)
    elif inspect.isgeneratorfunction(func):
        wrapper = _gen_wrapper(func, recipe)
    elif inspect.iscoroutinefunction(func):
        traced = _async_wrapper(func, recipe)
        wrapper = forwarding(func, traced, RUNTIME, is_async=True) or traced
    else:
        traced = _sync_wrapper(func, recipe)
        wrapper = forwarding(func, traced, RUNTIME, is_async=False) or traced
    wrapper.__spanline_recipe__ = recipe  # type: ignore[attr-defined]
    return functools.wraps(func)(wrapper)  # type: ignore[return-value]


def _sync_wrapper(func: Callable[..., Any], recipe: Recipe) -> Callable[..., Any]:
    runtime = RUNTIME  # a closure variable: cheaper to read than a global

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if runtime.off:  # the one check a call pays while tracing is off
            return func(*args, **kwargs)
        pipeline = call_pipeline()
        if pipeline is None:
            return func(*args, **kwargs)
        call = _Call(pipeline, recipe, args, kwargs)
        tokens = call.activate()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            call.failure(exc)
            raise
        finally:
            call.deactivate(tokens)
        return call.success(result)

    return wrapper


def _async_wrapper(func: Callable[..., Any], recipe: Recipe) -> Callable[..., Any]:
    runtime = RUNTIME

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if runtime.off:  # the one check a call pays while tracing is off
            return await func(*args, **kwargs)
        pipeline = call_pipeline()
        if pipeline is None:
            return await func(*args, **kwargs)
        call = _Call(pipeline, recipe, args, kwargs)
        tokens = call.activate()
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            call.failure(exc)
            raise
        finally:
            call.deactivate(tokens)
        return call.success(result)

    return wrapper


def _gen_wrapper(func: Callable[..., Any], recipe: Recipe) -> Callable[..., Any]:
    runtime = RUNTIME

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if runtime.off:  # the one check a call pays while tracing is off
            return (yield from func(*args, **kwargs))
        pipeline = call_pipeline()
        if pipeline is None:
            return (yield from func(*args, **kwargs))
        call = _Call(pipeline, recipe, args, kwargs)
        hold_open(call.span, NOT_EXHAUSTED)
        state = recipe.new_stream()
        tokens = call.activate()
        try:
            inner = func(*args, **kwargs)
        finally:
            call.deactivate(tokens)
        step, value = inner.send, None
        while True:
            # The span is current while the generator's body runs, not while
            # the consumer handles an item.
            tokens = call.activate()
            try:
                item = step(value)
            except StopIteration as stop:
                call.stream_done(state)
                return stop.value
            except BaseException as exc:
                call.failure(exc)
                raise
            finally:
                call.deactivate(tokens)
            recipe.chunk(call.span, state, item, call.elapsed_ms())
            try:
                value = yield item
                step = inner.send
            except GeneratorExit:
                try:
                    inner.close()
                except BaseException as exc:  # its cleanup raised: the span failed
                    call.failure(exc)
                    raise
                call.stream_done(state, closed_early=True)
                raise
            except BaseException as exc:
                step, value = inner.throw, exc

    return wrapper


def _async_gen_wrapper(func: Callable[..., Any], recipe: Recipe) -> Callable[..., Any]:
    # One loop for both cases: with tracing off it still forwards asend/athrow
    # exactly, so the wrapped generator behaves the same on and off.
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        pipeline = call_pipeline()
        call = None if pipeline is None else _Call(pipeline, recipe, args, kwargs)
        if call is not None:
            hold_open(call.span, NOT_EXHAUSTED)
        state = recipe.new_stream() if call is not None else None
        tokens = call.activate() if call is not None else None
        try:
            inner = func(*args, **kwargs)
        finally:
            if call is not None and tokens is not None:  # both set or neither
                call.deactivate(tokens)
        step, value = inner.asend, None
        while True:
            tokens = call.activate() if call is not None else None
            try:
                item = await step(value)
            except StopAsyncIteration:
                if call is not None:
                    call.stream_done(state)
                return
            except BaseException as exc:
                if call is not None:
                    call.failure(exc)
                raise
            finally:
                if call is not None and tokens is not None:  # both set or neither
                    call.deactivate(tokens)
            if call is not None:
                recipe.chunk(call.span, state, item, call.elapsed_ms())
            try:
                value = yield item
                step = inner.asend
            except GeneratorExit:
                try:
                    await inner.aclose()
                except BaseException as exc:
                    if call is not None:
                        call.failure(exc)
                    raise
                if call is not None:
                    call.stream_done(state, closed_early=True)
                raise
            except BaseException as exc:
                step, value = inner.athrow, exc

    return wrapper
