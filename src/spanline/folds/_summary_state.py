"""The summary fold's state: every attribute its parts share, set up once."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spanline._capture._prices import PriceTable
from spanline.folds._plans import PlanMatcher
from spanline.folds._summary_base import (
    DEFAULT_STALL_S,
    Node,
)
from spanline.folds.events import LineProblem
from spanline.schema import AGENT_KINDS


class _FoldState:
    """The attributes of :class:`~spanline.folds.summary.SummaryFold`, set by :meth:`_start`."""

    def _start(
        self,
        *,
        agent_kinds: Iterable[str] | None = None,
        prices: PriceTable | None = None,
        run_id: str | None = None,
        stall_s: float | None = None,
    ) -> None:
        """Set every attribute of an empty fold (arguments: see ``SummaryFold``)."""
        self._explicit_kinds = agent_kinds is not None
        kinds = AGENT_KINDS if agent_kinds is None else agent_kinds
        self._kinds: frozenset[Any] = frozenset(k for k in kinds if isinstance(k, str))
        self._prices = prices
        self._run_id = run_id
        self._log_offset = 0  # bytes of the log folded, as the reader says (see cover())
        self._explicit_stall = stall_s is not None
        self._stall_s = float(stall_s) if stall_s is not None else DEFAULT_STALL_S
        if not self._stall_s > 0:
            raise ValueError(f"stall_s must be greater than 0, not {stall_s!r}")
        # Stalls an agent recovered from: [span_id, name, agent_id, since, gap (s)].
        self._stalls: list[list[Any]] = []
        self._agent_at: dict[int, list[Any]] = {}  # context index -> its agent's record
        self._lock = threading.Lock()
        self._run_start: Mapping[str, Any] | None = None
        self._start_spans()
        self._start_totals()
        self._start_watch()

    def _start_spans(self) -> None:
        """The span tree, the open spans and the scalars the hot loop keeps in locals."""
        # Scalars the hot loop keeps in locals.
        self._first_ts = math.inf
        self._last_ts = -math.inf
        self._tokens: Any = 0
        self._tool_uses: Any = 0
        self._tokens_seen = False
        self._tool_uses_seen = False
        self._counters: dict[str, Any] = {}
        # Per span: (parent id, context index); open spans: the start's fields. Every child
        # of a span that is not itself an agent has the same pair, so siblings share one
        # tuple, found in ``_kin`` (kept for spans with children): a tuple per span would
        # be a third of the fold's memory, and on a million-line file growing memory costs
        # more time than the work per line.
        self._nodes: dict[str, Node] = {}
        self._kin: dict[str, Node] = {}
        self._open: dict[str, tuple[Any, ...]] = {}
        self._roots: dict[str, tuple[Any, Any] | None] = {}
        self._ctx: list[list[Any]] = []
        self._agents: list[list[Any]] = []
        self._phase_spans: dict[str, list[Any]] = {}
        # Spans referred to (as a parent, or by their end) before their start line.
        self._waiting: dict[str, int] = {}
        self._orphans: dict[str, list[str]] = {}
        self._early_ends: dict[str, tuple[Any, Any]] = {}

    def _start_totals(self) -> None:
        """Errors, tools, usage and cost, processes, exporters, plans and skipped lines."""
        self._errors: list[list[Any]] = []
        self._tools: dict[str, list[Any]] = {}
        self._token_types: list[int | float] = [0, 0, 0, 0, 0]
        self._llm_without_usage = 0
        self._cost = 0.0
        self._unpriced: set[str] = set()
        self._phase_events: list[dict[str, Any]] = []
        self._started_pids: set[Any] = set()
        self._ended_pids: set[Any] = set()
        self._dropped = 0
        self._suppressed = 0
        self._exporters: dict[str, list[int]] = {}
        self._plan_matcher = PlanMatcher()
        self._plan_spans: dict[str, str] = {}
        self._planned = 0
        self._plans_started = 0
        self._plans_done = 0
        self._problems: list[dict[str, Any]] = []
        self._problem_count = 0
        # Lines the fold itself skipped (the reader's are handed to note_problems).
        self._skipped: list[LineProblem] = []
        self._fed = 0  # events fed so far: where a line of events handed over is
        self._where: tuple[str | None, Sequence[int] | None, int] = (None, None, 0)

    def _start_watch(self) -> None:
        """The activity watch of running agents (for stalls)."""
        # Activity watch: each agent's record keeps the last line at the agent itself;
        # its subtree's last line is the latest over the open agents below it, found
        # through these links only when a silence is long enough to matter.
        self._kids: dict[int, set[int]] = {}
        self._holder: dict[int, int] = {}
        self._ended: set[int] = set()
        self._past: dict[int, int] = {}  # ended context -> the nearest above not ended
