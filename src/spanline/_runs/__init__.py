"""The run store: create a run, validate run ids, resolve and list runs, read their
header and stored summary, and tell whether a run's processes may still be writing.

The session, the CLI and the dashboard find runs only through it."""
