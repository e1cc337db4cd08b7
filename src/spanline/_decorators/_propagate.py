"""Context that follows the work: executors, and W3C ``traceparent`` carriers.

Contextvars do not cross into pool threads or other processes by themselves.
When the session turns propagation on, ``ThreadPoolExecutor.submit`` (which
``loop.run_in_executor`` uses) and ``ProcessPoolExecutor.submit`` carry the
current span and the context attributes (agent id, ...) along with each task,
as Logfire does for OpenTelemetry's context. For everything else (queues,
HTTP, subprocesses) :func:`inject` and :func:`extract` carry a ``traceparent``.

Only spanline's own two context variables travel to pool threads: the host's
other context variables keep the pool's ordinary behaviour.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import Token

# Imported here, not in the import hook: the hook runs under the interpreter's import
# lock, and importing from it could wait on a thread that waits for that lock.
from importlib.machinery import PathFinder
from typing import TYPE_CHECKING, Any, TypeVar

from spanline._hotpath._noop import NoOpSpan
from spanline._hotpath._runtime import (
    CURRENT_SPAN,
    RUNTIME,
    SUPPRESSED,
    context_attributes,
    live_pipeline,
    set_context_attributes,
)
from spanline.schema import traceparent_ids

if TYPE_CHECKING:
    import concurrent.futures

__all__ = [
    "RemoteParent",
    "executors_patched",
    "extract",
    "inject",
    "patch_executors",
    "unpatch_executors",
]

T = TypeVar("T")

#: ThreadPoolExecutor subclasses running tasks in other interpreters (Python 3.14+),
#: known once the thread pool is.
_OTHER_INTERPRETERS: tuple[type, ...] = ()
#: Values that survive pickling to a worker process unchanged.
_PLAIN = (str, int, float, bool, type(None))

#: The pools' own methods (typed loosely: they are compared, wrapped and put back),
#: each known once its module is loaded. Loading ``concurrent.futures.process`` (and
#: multiprocessing with it) only to patch it cost about 24 ms of every configure, and
#: the thread pool (with ``logging`` and ``queue``) about 4 ms, in programs that may
#: never start a pool. See :class:`_PatchOnImport`.
_thread_submit: Any = None
_process_submit: Any = None
_THREAD_MODULE = "concurrent.futures.thread"
_PROCESS_MODULE = "concurrent.futures.process"


class RemoteParent(NoOpSpan):
    """A span opened elsewhere (another thread, process or service), used as a parent.

    Spans opened while it is current (``with spanline.extract(carrier): ...``) or
    given it as ``parent=`` become its children. It records nothing itself.
    """

    __slots__ = ("_id", "_token", "trace_id")

    def __init__(self, span_id: int, trace_id: str | None = None) -> None:
        self._id = span_id
        self.trace_id = trace_id
        self._token: Token[Any] | None = None

    @property
    def span_id(self) -> str:  # type: ignore[override]
        """The remote span's id as 16 hex characters ("" when there is none)."""
        return f"{self._id:016x}" if self._id else ""

    def __enter__(self) -> RemoteParent:
        if self._id:
            self._token = CURRENT_SPAN.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                CURRENT_SPAN.reset(token)
            except (ValueError, RuntimeError):  # left in another context: nothing to undo
                pass

    async def __aenter__(self) -> RemoteParent:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def __bool__(self) -> bool:
        return bool(self._id)

    def __repr__(self) -> str:
        return f"<RemoteParent {self.span_id or '-'}>"


def _run_trace_id() -> str | None:
    pipeline = live_pipeline()
    trace_id = getattr(pipeline, "trace_id", None) if pipeline is not None else None
    return trace_id if isinstance(trace_id, str) else None


def inject(carrier: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Write the current span into ``carrier`` as a W3C ``traceparent``.

    Use it for anything spanline does not follow by itself: a message put on a
    queue, HTTP headers, a subprocess's environment (``child_env()`` does the
    latter with ``TRACEPARENT``). Nothing is written while tracing is off or no
    span is open.

    Args:
        carrier: the mapping to write into (default: a new dict).

    Returns:
        The carrier.

    Raises:
        TypeError: ``carrier`` is not a mutable mapping.
    """
    if carrier is None:
        carrier = {}
    elif not isinstance(carrier, MutableMapping):
        raise TypeError(f"carrier must be a mutable mapping, not {type(carrier).__name__}")
    span = CURRENT_SPAN.get()
    if span is None or span is SUPPRESSED or not span._id:
        return carrier
    trace_id = span.trace_id if isinstance(span, RemoteParent) else None
    trace_id = trace_id or _run_trace_id()
    if trace_id is not None:
        carrier["traceparent"] = f"00-{trace_id}-{span._id:016x}-01"
    return carrier


def extract(carrier: Mapping[str, Any] | None) -> RemoteParent:
    """The span a ``traceparent`` in ``carrier`` names, to open spans under.

    Either make it current, ``with spanline.extract(message.headers): ...``, or
    pass it as ``parent=`` to ``span()``. A carrier without a valid
    ``traceparent`` (header names are matched case-insensitively) gives an empty
    parent: spans opened under it keep their ordinary parent. A bad value from a
    queue or a request never raises.

    Args:
        carrier: headers, a message's metadata, an environment...; None is empty.

    Returns:
        The remote parent (false when the carrier named none).

    Raises:
        TypeError: ``carrier`` is not a mapping.
    """
    if carrier is None:
        return RemoteParent(0)
    if not isinstance(carrier, Mapping):
        raise TypeError(f"carrier must be a mapping, not {type(carrier).__name__}")
    raw = carrier.get("traceparent")
    if raw is None:
        raw = next((v for k, v in carrier.items() if str(k).lower() == "traceparent"), None)
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    parsed = traceparent_ids(raw)
    if parsed is None or set(parsed[0]) == {"0"}:
        return RemoteParent(0)
    return RemoteParent(int(parsed[1], 16), parsed[0])


# -- executors ---------------------------------------------------------------------------
def _run_in_thread(span: Any, attributes: Any, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
    """Runs on the pool thread: the submitter's span and attributes are current here."""
    span_token = CURRENT_SPAN.set(span)
    attributes_token = set_context_attributes(attributes)
    try:
        return fn(*args, **kwargs)
    finally:
        context_attributes.reset(attributes_token)
        CURRENT_SPAN.reset(span_token)


def _submit_thread(
    self: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> Any:  # the pool's Future
    span = CURRENT_SPAN.get()
    attributes = context_attributes.get()
    if (span is None and attributes is None) or isinstance(self, _OTHER_INTERPRETERS):
        # Nothing to carry (the pool's own behaviour), or a pool of subinterpreters,
        # which must pickle the task: spans are not shared across interpreters.
        return _thread_submit(self, fn, *args, **kwargs)
    return _thread_submit(self, _run_in_thread, span, attributes, fn, args, kwargs)


def _patch_thread_pool(module: Any) -> None:
    """Patch the thread pool of a loaded ``concurrent.futures.thread`` (idempotent)."""
    global _thread_submit, _OTHER_INTERPRETERS
    pool = module.ThreadPoolExecutor
    if _thread_submit is None:
        _thread_submit = pool.submit
        # What the pool's own method says about itself (help(), signatures).
        functools.update_wrapper(_submit_thread, _thread_submit)
        pools = sys.modules["concurrent.futures"]
        other = getattr(pools, "InterpreterPoolExecutor", None)
        _OTHER_INTERPRETERS = (other,) if other is not None else ()
    if pool.submit is _thread_submit:
        setattr(pool, "submit", _submit_thread)  # noqa: B010


def _run_in_process(
    state: tuple[int, str | None, dict[str, Any] | None],
    fn: Callable[..., T],
    args: Any,
    kwargs: Any,
) -> T:
    """Runs in the worker process: the submitter's span is the parent of its spans.

    The task's lines are flushed when it returns: a worker process may be
    terminated, or outlive the run, before it would write them itself.
    """
    parent_id, trace_id, attributes = state
    span_token = CURRENT_SPAN.set(RemoteParent(parent_id, trace_id))
    attributes_token = set_context_attributes(attributes)
    try:
        return fn(*args, **kwargs)
    finally:
        context_attributes.reset(attributes_token)
        CURRENT_SPAN.reset(span_token)
        pipeline = RUNTIME.pipeline
        if pipeline is not None:
            pipeline.flush(timeout=5.0)


def _submit_process(
    self: concurrent.futures.ProcessPoolExecutor, fn: Callable[..., T], /, *args: Any, **kwargs: Any
) -> Any:  # the pool's Future
    span = CURRENT_SPAN.get()
    if span is None or span is SUPPRESSED or not span._id:
        return _process_submit(self, fn, *args, **kwargs)
    trace_id = span.trace_id if isinstance(span, RemoteParent) else _run_trace_id()
    attributes = context_attributes.get()
    # Only plain values are sent: the task must never fail to pickle because of us.
    plain = {k: v for k, v in attributes.items() if isinstance(v, _PLAIN)} if attributes else None
    state = (span._id, trace_id, plain or None)
    return _process_submit(self, _run_in_process, state, fn, args, kwargs)


def _patch_process_pool(module: Any) -> None:
    """Patch the process pool of a loaded ``concurrent.futures.process`` (idempotent)."""
    global _process_submit
    pool = module.ProcessPoolExecutor
    if _process_submit is None:
        _process_submit = pool.submit
        # What the pool's own method says about itself (help(), signatures).
        functools.update_wrapper(_submit_process, _process_submit)
    if pool.submit is _process_submit:
        setattr(pool, "submit", _submit_process)  # noqa: B010


class _PatchingLoader:
    """A pool module's own loader, patching the pool once the module has run."""

    def __init__(self, loader: Any, patch: Callable[[Any], None]) -> None:
        self._loader = loader
        self._patch = patch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        # The module keeps its real loader (tracebacks read its source through it).
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        if module.__name__ in _PATCH_ON_IMPORT.waiting:  # not unpatched meanwhile
            self._patch(module)
            _PATCH_ON_IMPORT.done(module.__name__)


class _PatchOnImport:
    """An import hook: patches ``ThreadPoolExecutor`` and ``ProcessPoolExecutor`` when
    their modules are first imported, however the program reaches them
    (``concurrent.futures.ThreadPoolExecutor``, a ``from`` import,
    ``loop.run_in_executor``); it leaves the import path once both are patched."""

    def __init__(self) -> None:
        self.waiting: dict[str, Callable[[Any], None]] = {}

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        patch = self.waiting.get(name)
        if patch is None:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            loader: Any = _PatchingLoader(spec.loader, patch)  # a loader by its methods
            spec.loader = loader
        return spec

    def done(self, name: str) -> None:
        self.waiting.pop(name, None)
        if not self.waiting and self in sys.meta_path:
            sys.meta_path.remove(self)


_PATCH_ON_IMPORT = _PatchOnImport()


def patch_executors() -> None:
    """Make both executor classes carry the current span with each task (idempotent).

    Each pool is patched now when its module is loaded, else as it loads.
    """
    for name, patch in (
        (_THREAD_MODULE, _patch_thread_pool),
        (_PROCESS_MODULE, _patch_process_pool),
    ):
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
        else:
            _PATCH_ON_IMPORT.waiting[name] = patch
    if _PATCH_ON_IMPORT.waiting and _PATCH_ON_IMPORT not in sys.meta_path:
        sys.meta_path.insert(0, _PATCH_ON_IMPORT)


def unpatch_executors() -> None:
    """Give both executor classes their own ``submit`` back (ours only: never a third party's)."""
    _PATCH_ON_IMPORT.waiting.clear()
    if _PATCH_ON_IMPORT in sys.meta_path:
        sys.meta_path.remove(_PATCH_ON_IMPORT)
    threads = sys.modules.get(_THREAD_MODULE)
    if threads is not None and threads.ThreadPoolExecutor.submit is _submit_thread:
        setattr(threads.ThreadPoolExecutor, "submit", _thread_submit)  # noqa: B010
    module = sys.modules.get(_PROCESS_MODULE)
    if module is not None and module.ProcessPoolExecutor.submit is _submit_process:
        setattr(module.ProcessPoolExecutor, "submit", _process_submit)  # noqa: B010


def executors_patched() -> bool:
    """True while the executors carry the current span (or will, as their modules load)."""
    threads = sys.modules.get(_THREAD_MODULE)
    if threads is None:
        return _THREAD_MODULE in _PATCH_ON_IMPORT.waiting and _PATCH_ON_IMPORT in sys.meta_path
    return bool(threads.ThreadPoolExecutor.submit is _submit_thread)
