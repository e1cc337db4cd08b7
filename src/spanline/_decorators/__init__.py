"""Decorators and propagation: ``@traced_agent``, ``@traced_tool`` and ``@traced_llm`` over
the hot path and capture, LLM spans kept open over returned streams, ``spanline.assess``,
and the current span carried into threads, executors and ``traceparent`` carriers.

Loaded by ``import spanline``, with the hot path."""
