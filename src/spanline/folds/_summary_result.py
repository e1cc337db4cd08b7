"""Result assembly: the summary built from the fold's state (tools with their
percentiles, phases, milestones, agent cards, open spans, stalls)."""

from __future__ import annotations

import heapq
import math
from typing import Any

from spanline.folds._summary_base import (
    MAX_OPEN_LISTED,
    NAME,
    TS,
    add_phase,
    fit_json,
    is_number,
    phase_from_event,
    sort_ts,
    text_or_none,
)
from spanline.folds._summary_lines import _Lines
from spanline.folds._summary_model import (
    AgentSummary,
    ExporterStats,
    PhaseSummary,
    PlanProgress,
    RunSummary,
    SpanError,
    TokensByType,
    ToolStats,
    Totals,
    budget_summary,
    round_ms,
)


class _Result(_Lines):
    """Part of :class:`~spanline.folds.summary.SummaryFold` (see its module)."""

    def result(self) -> RunSummary:
        """The summary of everything folded so far (the fold itself is not changed).

        Returns:
            A new :class:`RunSummary`.
        """
        with self._lock:
            return self._result()

    def _result(self) -> RunSummary:
        run_start = self._run_start or {}
        counters = dict(self._counters)
        if self._tokens_seen:
            counters["tokens"] = self._tokens
        if self._tool_uses_seen:
            counters["tool_uses"] = self._tool_uses
        counters = {key: fit_json(counters[key]) for key in sorted(counters)}
        agents = self._agent_cards()
        return RunSummary(
            run_id=text_or_none(run_start.get("run_id")) or self._run_id,
            status=self._status(),
            source_repo=text_or_none(run_start.get("source_repo")),
            source_commit=text_or_none(run_start.get("source_commit")),
            total_wall_ms=self._total_wall_ms(),
            phases=self._phases(),
            totals=Totals(
                agents_spawned=len(self._agents),
                total_tokens=counters.get("tokens", 0),
                total_tool_uses=counters.get("tool_uses", 0),
                analyses_written=counters.get("analyses_written", 0),
                cost_usd=round(fit_json(self._cost), 8),
                tokens_by_type=TokensByType(*map(fit_json, self._token_types)),
                llm_calls_without_usage=self._llm_without_usage,
                suppressed_spans=fit_json(self._suppressed),
                counters=counters,
            ),
            errors=[SpanError(*error) for error in self._errors],
            dropped_events=fit_json(self._dropped),
            span_count=len(self._nodes) + len(self._early_ends),
            open_spans=len(self._open),
            processes=len(self._started_pids),
            milestones=self._milestones(),
            unpriced_models=sorted(self._unpriced),
            agents=agents,
            skipped_lines=sorted(
                (dict(problem) for problem in self._problems),
                key=lambda problem: (str(problem["file"]), problem["line"]),
            ),
            skipped_line_count=self._problem_count,
            tools=self._tool_stats(),
            exporters={
                name: ExporterStats(*map(fit_json, self._exporters[name]))
                for name in sorted(self._exporters)
            },
            open_span_list=self._open_span_list(),
            stalls=self._stall_list(),
            plan=PlanProgress(self._planned, self._plans_started, self._plans_done),
            failed_agents=sum(agent.status == "error" for agent in agents),
            log_offset=self._log_offset,
            budget=budget_summary(
                run_start.get("budget"), fit_json(self._cost), counters.get("tokens", 0)
            ),
        )

    def cover(self, offset: int) -> None:
        """Record how many bytes of telemetry.jsonl were folded (the summary's ``log_offset``).

        Args:
            offset: the byte offset just past the last line folded.
        """
        with self._lock:
            self._log_offset = offset

    def _status(self) -> str:
        if any(error[0] in self._roots for error in self._errors):
            return "error"
        if self._started_pids - self._ended_pids:
            return "incomplete"
        return "ok"

    def _since_start_ms(self, ts: Any) -> float:
        """Time from ``ts`` to the last line read: the wall time of a span still open."""
        if is_number(ts) and self._last_ts > -math.inf:
            return round_ms(max(0.0, (self._last_ts - ts) * 1000.0))
        return 0.0

    def _total_wall_ms(self) -> float:
        if len(self._roots) == 1:
            ended = next(iter(self._roots.values()))
            if ended is not None:
                duration, ts = ended
                return float(duration) if is_number(duration) else self._since_start_ms(ts)
        if self._last_ts == -math.inf:
            return 0.0
        return round_ms((self._last_ts - self._first_ts) * 1000.0)

    def _nearest_phase(self, span_id: str, memo: dict[str, str | None]) -> str | None:
        """The span id of the closest ancestor of kind ``phase``. ``memo`` keeps the
        answer for every span passed on the way, so nested agents cost linear time."""
        nodes, phases = self._nodes, self._phase_spans
        path: list[str] = []
        on_path: set[str] = {span_id}
        node = nodes.get(span_id)
        parent = node[0] if node is not None else None
        found: str | None = None
        while parent is not None and parent not in on_path:  # a cycle: no phase
            if parent in phases:
                found = parent
                break
            if parent in memo:
                found = memo[parent]
                break
            path.append(parent)
            on_path.add(parent)
            node = nodes.get(parent)
            parent = node[0] if node is not None else None
        for passed in path:
            memo[passed] = found
        return found

    def _milestones(self) -> list[dict[str, Any]]:
        """Phase lines in time order; ``wall_ms`` recomputed across the whole run.

        A line's own ``wall_ms`` is what its process measured since its previous
        phase line (kept as ``process_wall_ms``); here it is the time since the
        previous phase line of *any* process, or since the run started.
        """
        run_start = self._run_start or {}
        started = run_start.get("ts")
        previous = started if is_number(started) else self._first_ts
        ordered = sorted(
            enumerate(self._phase_events), key=lambda item: (sort_ts(item[1].get("ts")), item[0])
        )
        milestones = []
        for _, event in ordered:
            milestone = dict(event)
            ts = event.get("ts")
            if is_number(ts) and math.isfinite(previous):
                milestone["process_wall_ms"] = event.get("wall_ms")
                milestone["wall_ms"] = round_ms(max(0.0, (ts - previous) * 1000.0))
                previous = ts
            milestones.append(milestone)
        return milestones

    def _phases(self) -> dict[str, PhaseSummary]:
        phases: dict[str, PhaseSummary] = {}
        if not self._phase_spans:
            for event in self._phase_events:
                add_phase(phases, str(event.get("name")), phase_from_event(event))
            return phases
        counts: dict[str, int] = {}
        memo: dict[str, str | None] = {}
        for agent in self._agents:
            phase_id = self._nearest_phase(agent[0], memo)
            if phase_id is not None:
                counts[phase_id] = counts.get(phase_id, 0) + 1
        ordered = sorted(self._phase_spans.items(), key=lambda item: sort_ts(item[1][1]))
        for span_id, (name, ts, ended, duration) in ordered:
            if ended and is_number(duration):
                wall, incomplete = float(duration), None
            else:
                wall, incomplete = self._since_start_ms(ts), True
            summary = PhaseSummary(wall, counts.get(span_id) or None, incomplete)
            add_phase(phases, str(name), summary)
        return phases

    def _agent_cards(self) -> list[AgentSummary]:
        """Agents with subtree sums, in start order."""
        cards = []
        sums = self._subtree_sums()
        for span_id, name, kind, agent_id, status, duration, _ts, ctx in sorted(
            self._agents, key=lambda agent: sort_ts(agent[6])
        ):
            tokens, uses, cost = sums[ctx]
            cost = round(fit_json(cost), 8)
            cards.append(
                AgentSummary(
                    span_id,
                    name,
                    kind,
                    agent_id,
                    status,
                    duration,
                    fit_json(tokens),
                    fit_json(uses),
                    cost,
                )
            )
        return cards

    def _tool_stats(self) -> dict[str, ToolStats]:
        stats = {}
        for name in sorted(self._tools):
            record = self._tools[name]
            calls, total, failures, durations, rank = record
            timed = len(durations)
            # Durations are C doubles (array), not float objects: less memory. The
            # percentile visits only the calls that came since it was last taken.
            p95 = rank.update(durations) if timed else 0.0
            stats[name] = ToolStats(
                calls=calls,
                total_ms=round_ms(total),
                avg_ms=round_ms(total / timed) if timed else 0.0,
                p95_ms=round_ms(p95),
                failures=failures,
            )
        return stats

    def _open_span_list(self) -> list[dict[str, Any]]:
        oldest = heapq.nsmallest(
            MAX_OPEN_LISTED, self._open.items(), key=lambda item: sort_ts(item[1][TS])
        )
        return [
            {"span_id": span_id, "name": record[NAME], "start_ts": record[TS]}
            for span_id, record in oldest
        ]
