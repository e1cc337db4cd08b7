"""What keeps an LLM span open after its function returned: streams, helpers, raw answers.

A call that returns a stream (an iterator), an SDK ``.stream(...)`` helper, a
``with_raw_response`` answer still to be parsed, or a coroutine is not complete
yet. :func:`wrap_deferred` hands back a proxy that forwards everything to the
object and ends the span when the stream is exhausted or closed, the helper's
``with`` block exits, the raw answer is parsed, or the coroutine is awaited.
Proxies report the wrapped object's ``__class__``, so ``isinstance`` checks in
the caller's code behave the same with tracing on.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Protocol

from spanline._capture._report import report
from spanline._hotpath._abandon import NOT_EXHAUSTED, hold_open

__all__ = [
    "Call",
    "helper_snapshot",
    "parsed_raw_response",
    "raw_response_is_deferred",
    "wrap_deferred",
]


class Call(Protocol):
    """The traced invocation a proxy ends (``spanline._decorators._wrapping._Call``)."""

    recipe: Any
    span: Any

    def elapsed_ms(self) -> float: ...
    def activate(self) -> tuple[Any, Any]: ...
    def deactivate(self, tokens: tuple[Any, Any]) -> None: ...
    def success(self, result: Any) -> Any: ...
    def failure(self, exc: BaseException) -> None: ...
    def stream_done(self, state: Any, closed_early: bool = False) -> None: ...


def _is_stream(value: Any) -> bool:
    if isinstance(value, (str, bytes, bytearray, dict, list, tuple)):
        return False
    return hasattr(value, "__next__") or hasattr(value, "__anext__")


def _is_stream_manager(value: Any) -> bool:
    """A provider's ``.stream(...)`` helper: the request starts only when it is entered.

    Recognised by shape and name (``MessageStreamManager``,
    ``ChatCompletionStreamManager``, ...), so no provider SDK is imported.
    """
    kind = type(value)
    entered = hasattr(kind, "__enter__") or hasattr(kind, "__aenter__")
    return entered and kind.__name__.endswith("StreamManager")


def _raw_state(value: Any) -> dict[str, Any] | None:
    """The instance dict of a ``with_raw_response`` answer (``parse()`` and ``http_response``)."""
    # Read from the instance dict: a hostile __getattr__ is never called.
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict) and "http_response" in state and hasattr(type(value), "parse"):
        return state
    return None


def _read_body(http_response: Any) -> bytes | None:
    """The HTTP body if it has been read already; never reads it."""
    try:
        body = http_response.content  # httpx raises ResponseNotRead until it is read
    except Exception:
        return None
    return body if isinstance(body, bytes) else None


def raw_response_is_deferred(value: Any) -> bool:
    """A raw answer whose parsed body is not at hand yet.

    A stream, an async ``parse()``, or a body still unread (``with_streaming_response``:
    reading it here would take the streaming away from the caller).
    """
    state = _raw_state(value)
    if state is None:
        return False
    streamed = state.get("_stream") is True or state.get("_is_sse_stream") is True
    unread = _read_body(state["http_response"]) is None
    return streamed or unread or inspect.iscoroutinefunction(type(value).parse)


def parsed_raw_response(value: Any) -> Any:
    """The parsed body of a complete, synchronous raw answer; else ``value`` itself.

    The SDKs cache ``parse()``, so the caller's own ``parse()`` gets the same object.
    """
    if _raw_state(value) is None or raw_response_is_deferred(value):
        return value
    try:
        return value.parse()
    except Exception:  # an unparseable body is the caller's to discover, not ours
        return value


async def _complete_when_awaited(pending: Any, call: Call) -> Any:
    tokens = call.activate()
    try:
        result = await pending
    except BaseException as exc:
        call.failure(exc)
        raise
    finally:
        call.deactivate(tokens)
    return call.success(result)


def wrap_deferred(result: Any, call: Call) -> Any:
    """A proxy that ends the span later, or None when the call is complete now."""
    if inspect.iscoroutine(result):
        # A plain function that returns a coroutine (the async SDK methods are
        # wrapped that way): the call ends when it is awaited.
        return _complete_when_awaited(result, call)
    if _is_stream(result):
        return _wrap_stream(result, call)
    if _is_stream_manager(result):
        return _StreamManagerProxy(result, call)
    if raw_response_is_deferred(result):
        return _RawResponseProxy(result, call)
    return None


class _Proxy:
    """Stands in for the object in ``_wrapped``: it reports that object's class (so
    ``isinstance`` checks hold) and hands over every attribute it does not define."""

    _wrapped: Any  # set first in __init__: __getattr__ reads it

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._wrapped)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


class _StreamProxy(_Proxy):
    """A returned stream (iterator): the span ends when it is exhausted or closed.

    Attribute access goes to the wrapped stream, and ``isinstance(result,
    openai.Stream)`` still holds (``__class__`` is the stream's), so code that
    checks the type behaves the same with tracing on.
    """

    def __init__(self, stream: Any, call: Call) -> None:
        self._wrapped = stream
        self._call = call
        hold_open(call.span, NOT_EXHAUSTED)
        self._state = call.recipe.new_stream()
        self._done = False

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._wrapped, name)
        if name == "text_stream" and not self._done:
            # The SDK helpers' text-only view still feeds the first-chunk time and
            # ends the span when it is exhausted.
            return self._texts(value)
        return value

    def _texts(self, texts: Any) -> Any:
        if hasattr(texts, "__anext__"):
            return self._atexts(texts)
        return self._sync_texts(texts)

    def _sync_texts(self, texts: Any) -> Any:
        for text in texts:
            yield self._item(text)
        self._finish()

    async def _atexts(self, texts: Any) -> Any:
        async for text in texts:
            yield self._item(text)
        self._finish()

    def _item(self, item: Any) -> Any:
        if not self._done:  # iterating past the end or after close() records nothing
            try:
                call = self._call
                call.recipe.chunk(call.span, self._state, item, call.elapsed_ms())
            except Exception as exc:  # tracing must not break the consumer
                report("recording a stream chunk failed", exc=exc)
        return item

    def _finish(self, exc: BaseException | None = None, closed_early: bool = False) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._call.recipe.stream_source(self._state, self._wrapped)
        except Exception as error:  # tracing must not break the consumer
            report("reading a stream's final state failed", exc=error)
        if exc is not None:
            self._call.failure(exc)
        else:
            self._call.stream_done(self._state, closed_early=closed_early)

    def __iter__(self) -> _StreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._wrapped)
        except StopIteration:
            self._finish()
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        return self._item(item)

    def close(self) -> None:
        """Close the underlying stream; the span ends (closed early if not exhausted)."""
        closer = getattr(self._wrapped, "close", None)
        try:
            if closer is not None:
                closer()
        finally:
            self._finish(closed_early=True)

    def __enter__(self) -> _StreamProxy:
        enter = getattr(self._wrapped, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        exit_ = getattr(self._wrapped, "__exit__", None)
        try:
            # Its answer matters: a stream that suppresses an exception still does.
            return exit_(*exc_info) if exit_ is not None else None
        finally:
            self._finish(closed_early=True)

    def __del__(self) -> None:
        if not self._done:
            self._finish(closed_early=True)


class _AsyncStreamProxy(_StreamProxy):
    """The async flavour: ``async for`` over a returned async stream."""

    def __aiter__(self) -> _AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._wrapped.__anext__()
        except StopAsyncIteration:
            self._finish()
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        return self._item(item)

    async def aclose(self) -> None:
        """Close the underlying stream; the span ends."""
        closer = getattr(self._wrapped, "aclose", None) or getattr(self._wrapped, "close", None)
        try:
            if closer is not None:
                result = closer()
                if inspect.isawaitable(result):
                    await result
        finally:
            self._finish(closed_early=True)

    async def __aenter__(self) -> _AsyncStreamProxy:
        enter = getattr(self._wrapped, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        exit_ = getattr(self._wrapped, "__aexit__", None)
        try:
            return await exit_(*exc_info) if exit_ is not None else None
        finally:
            self._finish(closed_early=True)


def _wrap_stream(stream: Any, call: Call) -> _StreamProxy:
    if hasattr(stream, "__anext__"):
        return _AsyncStreamProxy(stream, call)
    return _StreamProxy(stream, call)


class _StreamManagerProxy(_Proxy):
    """A returned ``.stream(...)`` helper: the request is sent when it is entered.

    The span covers the request and the stream: it ends when the stream entered
    from the helper is exhausted or the ``with`` block exits. While the helper is
    entered the call's span is current, so an instrumented SDK call inside it
    nests under the span (and counts its usage there, once).
    """

    def __init__(self, manager: Any, call: Call) -> None:
        self._wrapped = manager
        self._call = call
        self._stream: _StreamProxy | None = None
        self._done = False

    def _entered(self, stream: Any) -> Any:
        self._stream = _wrap_stream(stream, self._call)
        return self._stream

    def _end(self, exc: BaseException | None = None) -> None:
        if self._done:
            return
        self._done = True
        if self._stream is not None:
            # Read to the end through until_done() or get_final_*() is not early.
            early = not _helper_finished(self._stream._wrapped)
            self._stream._finish(exc, closed_early=early)
        elif exc is not None:
            self._call.failure(exc)
        else:  # never entered: no request was sent
            self._call.stream_done(self._call.recipe.new_stream(), closed_early=True)

    def __enter__(self) -> Any:
        tokens = self._call.activate()
        try:
            stream = self._wrapped.__enter__()
        except BaseException as exc:
            self._end(exc)
            raise
        finally:
            self._call.deactivate(tokens)
        return self._entered(stream)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._wrapped.__exit__(*exc_info)
        finally:
            self._end()

    async def __aenter__(self) -> Any:
        tokens = self._call.activate()
        try:
            stream = await self._wrapped.__aenter__()
        except BaseException as exc:
            self._end(exc)
            raise
        finally:
            self._call.deactivate(tokens)
        return self._entered(stream)

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._wrapped.__aexit__(*exc_info)
        finally:
            self._end()

    def __del__(self) -> None:
        if not self._done and self._stream is None:
            self._end()


#: Final-state properties of the SDK stream helpers (Anthropic, OpenAI chat).
_SNAPSHOTS = ("current_message_snapshot", "current_completion_snapshot")


def helper_snapshot(stream: Any) -> Any:
    """The message a stream helper has accumulated so far, or None (not a helper, no event)."""
    if stream is None:
        return None
    for name in _SNAPSHOTS:
        try:
            snapshot = getattr(stream, name, None)
        except Exception:  # no snapshot yet: the helpers raise until an event arrived
            continue
        if snapshot is not None:
            return snapshot
    return None


def _helper_finished(stream: Any) -> bool:
    """Whether a stream helper's snapshot says the model finished its answer."""
    snapshot = helper_snapshot(stream)
    if snapshot is None:
        return False
    if getattr(snapshot, "stop_reason", None) is not None:  # Anthropic
        return True
    choices = getattr(snapshot, "choices", None) or ()
    return bool(choices) and all(getattr(c, "finish_reason", None) for c in choices)


class _RawResponseProxy(_Proxy):
    """A raw answer still to be read: a stream, an async parse, or an unread body.

    ``parse()`` gives the stream wrapped like a returned one, or the parsed body,
    whose usage is recorded. Closed (or dropped) without ``parse()``, the span
    reads the usage from the body if the caller read it whole (``read()``,
    ``json()``), and otherwise ends without usage.
    """

    def __init__(self, raw: Any, call: Call) -> None:
        self._wrapped = raw
        self._call = call
        self._parsed: Any = None
        self._done = False

    def _take(self, parsed: Any) -> Any:
        if self._done:
            return parsed
        self._done = True
        if _is_stream(parsed):
            self._parsed = _wrap_stream(parsed, self._call)
            return self._parsed
        self._parsed = parsed
        self._call.success(parsed)
        return parsed

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        """The SDK's ``parse()``; the span follows what it returns."""
        if self._done:
            return self._parsed if not args and not kwargs else self._wrapped.parse(*args, **kwargs)
        result = self._wrapped.parse(*args, **kwargs)
        if inspect.isawaitable(result):
            return self._aparse(result)
        return self._take(result)

    async def _aparse(self, pending: Any) -> Any:
        return self._take(await pending)

    def close(self) -> Any:
        """The SDK's ``close()`` (a coroutine for async clients); then the span ends."""
        result = self._wrapped.close()
        if inspect.isawaitable(result):
            return self._closing(result)
        self._settle()
        return result

    async def _closing(self, pending: Any) -> Any:
        try:
            return await pending
        finally:
            self._settle()

    def _settle(self) -> None:
        """End the span without ``parse()``: usage from a body read whole, if any."""
        if self._done:
            return
        self._done = True
        answer = None
        body = _read_body(getattr(self._wrapped, "http_response", None))
        if body:
            try:
                answer = json.loads(body)
            except ValueError:  # an SSE stream or plain text: no single answer to read
                answer = None
        if isinstance(answer, dict):
            self._call.success(answer)
        else:
            self._call.stream_done(self._call.recipe.new_stream(), closed_early=True)

    def __del__(self) -> None:
        self._settle()
