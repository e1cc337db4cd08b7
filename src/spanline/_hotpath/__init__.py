"""The hot path: ``Tracer``, ``Span``, the no-op span and the current span (contextvars).

Loaded by ``import spanline``. It imports only the schema: never the session, the
writer or the exporters."""
