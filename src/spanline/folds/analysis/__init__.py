"""The analysis of a run: why it was slow, where the money went, what went wrong.

:func:`analyze` folds a run's events once and answers in sections, each finding
with its numbers and the span ids behind them, so a reader can check it:

* ``critical_path``: the chain of spans that decided the wall time, two levels
  deep, each step's share of the root span's wall time;
* ``parallelism``: per phase, agents at once against agents planned before the
  phase began (``tracer.plan``), and the time lost to sequential stretches;
* ``waits``: stalls (the run summary's), the longest gaps between a parent's
  children, the time planned agents were queued, plans never started;
* ``tools``: slowest by p95, outlying calls, repeated calls with the same
  arguments, failure rates with their messages grouped;
* ``llm``: tokens and cost by agent and model, cache hit rate, calls without
  usage, time to first chunk, output-token outliers;
* ``errors``: grouped by type and message, first occurrence, agents affected;
  abandoned spans and why; spans still open;
* ``waste``: tokens and cost in failed agents, failed calls and retried calls;
* ``baseline`` (with a baseline): what got slower, costlier or newly failing;
* ``suggestions``: plain rules with their evidence.

Pure: no files are written and nothing is rendered (the CLI renders Markdown).
:func:`against_baseline` is the baseline rule on its own, for two run profiles
(:class:`~spanline.folds.compare.RunProfile`).
Text quoted from the log (messages, argument previews) is redacted and bounded.
"""

from __future__ import annotations

from spanline.folds.analysis._advice import against_baseline
from spanline.folds.analysis._index import AnalysisFold
from spanline.folds.analysis._run import SECTIONS, Analysis, analyze, analyze_fold

__all__ = ["SECTIONS", "Analysis", "AnalysisFold", "against_baseline", "analyze", "analyze_fold"]
