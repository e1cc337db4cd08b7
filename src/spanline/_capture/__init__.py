"""Capture: previews of values, secret redaction (text rules and the walk over events),
token usage, prices and cost, the redacted report of spanline's own problems and the
install command a missing extra names.

Pure functions of values; nothing here imports the hot path or anything above it."""
