"""The line format of ``telemetry.jsonl``: every line type and its encoding, reading whole
lines from a byte offset, and the locked append that lets several processes write one
file. Above the schema, below everything else."""
