"""The writer: the queue, the writer thread that appends to ``telemetry.jsonl`` and
hands batches to the exporter workers, converting queued records into events with
user code guarded, and fork handling in one place (one re-init hook per object).

Loaded by the first ``configure_observability()``, never by ``import spanline``."""
