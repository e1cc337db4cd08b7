"""The line format of ``telemetry.jsonl``: how a line is encoded, and the locked append
that lets several processes write one file. Above the schema, below everything else."""
