// spanline dashboard: folds telemetry.jsonl lines into lanes, cards and panels.
// Data is only ever inserted as text (textContent / d3 .text()), never as HTML.
(function () {
  "use strict";

  var DEFAULT_AGENT_KINDS = ["agent", "library-analysis", "application-analysis",
    "external-service", "architecture-documenter", "synthesis"];
  var ROW = 20, LABEL_W = 170, AXIS_H = 22, GROUP_H = 18, MAX_CARDS = 300, MAX_TICKS = 2000;
  var REPLAY_LIMIT = 16 * 1024 * 1024;
  // Phase colours: Tableau 10 without its red and pink, so that only a failed agent is red.
  var PHASE_COLOURS = ["#4e79a7", "#f28e2b", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f", "#bab0ac"];
  var STATUS_ORDER = { error: 0, abandoned: 1, stalled: 2, running: 3, queued: 4, done: 5 };

  var S = null;            // the current run's state (see reset)
  var source = null;       // the EventSource while streaming
  var zoom = null, zoomT = d3.zoomIdentity;
  var dirty = false;
  var S_RUNS = null;       // the last /api/runs answer (the session view reads it)
  // Opened from the address a rotating program printed (`follow=1`): the page follows
  // the program into its next runs. Choosing a run (picker, session view) ends it.
  var followParam = new URL(window.location.href).searchParams.get("follow") === "1";

  function fmtInt(n) { return typeof n === "number" ? n.toLocaleString("en-US") : "-"; }
  function fmtCost(usd) { return typeof usd === "number" ? "$" + usd.toFixed(4) : "-"; }

  function reset(runId) {
    S = {
      runId: runId, runStart: null, agentKinds: new Set(DEFAULT_AGENT_KINDS),
      spans: new Map(),    // open (and agent/phase) spans: id -> {parent, lane, phase, name, kind}
      lanes: new Map(),    // lane id -> lane
      plans: new Map(),    // plan_id -> lane (queued until fulfilled)
      phases: new Map(),   // phase name -> {start, end}
      phaseOrder: [], lastMilestone: null,
      errors: new Map(),   // span_id -> {span_id, name, kind, type, message, lane}
      groupOrder: [],      // phase names in the order plans (then phase spans) named them
      seq: 0,              // lanes made so far: queued lanes keep their plan order
      burn: null,          // the server's burn rate (folds/lanes.py): {tokens_per_min, series}
      server: null,        // the snapshot's `server`: {stops_with_run, reopen, live_run}
      following: followParam, // move on to the server's live run when this one rotates
      serverStopped: false, // the run ended and its own server stopped with it
      plan: { planned: 0, started: 0, done: 0 },
      t0: null, tLast: null, finished: false, dead: false, summary: null, stallS: 60,
      selected: null, totalTokens: 0, budget: null, spentUsd: 0, spentTokens: 0
    };
    zoomT = d3.zoomIdentity;
  }

  // ---- folding events -------------------------------------------------

  function isAgent(ev) {
    var attrs = ev.attributes || {};
    return S.agentKinds.has(ev.kind) || attrs["gen_ai.operation.name"] === "invoke_agent";
  }

  function touch(ts) {
    if (typeof ts !== "number") return;
    if (S.t0 === null || ts < S.t0) S.t0 = ts;
    if (S.tLast === null || ts > S.tLast) S.tLast = ts;
  }

  function newLane(id, name, kind, phase) {
    return { id: id, span_id: id, name: name, kind: kind, agent_id: null, phase: phase || "",
      start_ts: null, end_ts: null, status: "queued", tokens: 0, tool_uses: 0, cost_usd: 0,
      error: null, attributes: {}, ticks: [], lastActivity: null, planId: null, seq: S.seq++ };
  }

  function noteGroup(phase) {
    if (phase && S.groupOrder.indexOf(phase) < 0) S.groupOrder.push(phase);
  }

  function activity(laneId, ts) {
    var lane = laneId && S.lanes.get(laneId);
    if (lane && typeof ts === "number") laneActivity(lane, ts);
  }

  // A line in a running agent's subtree after a silence past the threshold: the page
  // saw that stall live, so it keeps it as recovered (the summary may never reach a
  // page whose server ended with its run).
  function laneActivity(lane, ts) {
    var last = lane.lastActivity;
    if (lane.status === "running" && last !== null && ts - last > S.stallS) {
      lane.stall = { since_ts: last, stalled_ms: (ts - last) * 1000, recovered: true };
    }
    lane.lastActivity = ts;
  }

  function fulfil(ev, lane) {
    // A plan is fulfilled by its plan_id given explicitly, else by the first plan with this name
    // whose parent is an ancestor of the new span.
    var attrs = ev.attributes || {};
    var explicit = ev.plan_id || attrs.plan_id || attrs["spanline.plan_id"];
    var found = null;
    if (explicit && S.plans.has(explicit)) found = S.plans.get(explicit);
    if (!found) {
      S.plans.forEach(function (p) {
        if (found || p.name !== ev.name || p.status !== "queued") return;
        if (!p.planParent || ancestorOf(p.planParent, ev.parent)) found = p;
      });
    }
    if (!found) return;
    S.plans.delete(found.planId);
    S.lanes.delete(found.id);
    lane.planId = found.planId;
    if (!lane.phase) lane.phase = found.phase;
    S.plan.started += 1;
  }

  function ancestorOf(ancestor, id) {
    for (var i = 0; id && i < 1000; i++) {
      if (id === ancestor) return true;
      var s = S.spans.get(id);
      id = s ? s.parent : null;
    }
    return false;
  }

  // Names and strings drawn are cut to a display length first (as the server cuts
  // the snapshot): a line of the stream is verbatim and may hold megabytes.
  var DISPLAY_CHARS = 500, DISPLAY_ROOM = 40;
  function cut(value) {
    if (typeof value !== "string" || value.length <= DISPLAY_CHARS + DISPLAY_ROOM) return value;
    return value.slice(0, DISPLAY_CHARS) + "\u2026 [" + value.length.toLocaleString("en-US") + " characters]";
  }
  function bound(ev) {
    ["name", "kind", "component"].forEach(function (k) { ev[k] = cut(ev[k]); });
    if (ev.error && typeof ev.error === "object") {
      ev.error.type = cut(ev.error.type); ev.error.message = cut(ev.error.message);
    }
    var attrs = ev.attributes;
    if (attrs && typeof attrs === "object") Object.keys(attrs).forEach(function (k) { attrs[k] = cut(attrs[k]); });
    return ev;
  }

  function apply(ev) {
    if (!ev || typeof ev !== "object") return;
    bound(ev);
    touch(ev.ts);
    switch (ev.event) {
      case "run_start":
        S.runStart = ev;
        if (Array.isArray(ev.agent_kinds)) S.agentKinds = new Set(ev.agent_kinds);
        var stall = ev.stall_s !== undefined ? ev.stall_s : ev.stall_threshold_s;
        if (typeof stall === "number" && stall > 0) S.stallS = stall;
        return;
      case "span_start": return spanStart(ev);
      case "span_end": return spanEnd(ev);
      case "span_planned": return planned(ev);
      case "phase":
        S.lastMilestone = ev.name;
        return;
      case "event":
        var s = ev.span_id && S.spans.get(ev.span_id);
        if (s) activity(s.lane, ev.ts);
        return;
      default:
        return; // process_start, process_end and unknown types change no lane
    }
  }

  function spanStart(ev) {
    var parent = ev.parent ? S.spans.get(ev.parent) : null;
    var phase = parent ? parent.phase : ev.parent ? openPhase() : "";
    if (ev.kind === "phase") {
      phase = ev.name;
      noteGroup(ev.name);
      if (!S.phases.has(ev.name)) { S.phases.set(ev.name, { start: ev.ts, end: null }); S.phaseOrder.push(ev.name); }
    }
    var laneId = parent ? parent.lane : null;
    if (isAgent(ev)) {
      var lane = newLane(ev.span_id, ev.name, ev.kind, phase);
      lane.start_ts = ev.ts; lane.status = "running"; lane.lastActivity = ev.ts;
      lane.attributes = Object.assign({}, ev.attributes || {});
      lane.agent_id = lane.attributes["gen_ai.agent.id"] || null;
      fulfil(ev, lane);
      S.lanes.set(lane.id, lane);
      laneId = lane.id;
    } else {
      activity(laneId, ev.ts);
    }
    var span = { parent: ev.parent || null, lane: laneId, phase: phase,
      name: ev.name, kind: ev.kind, ts: ev.ts, keep: laneId === ev.span_id || ev.kind === "phase" };
    if (laneId !== ev.span_id && (ev.attributes || {})["otel.span_kind"] !== undefined) {
      // Read through the OpenTelemetry bridge: it may turn out an agent when it ends,
      // so what ends below it is summed here meanwhile (its lane's figures then).
      span.acc = { tokens: 0, tool_uses: 0, cost_usd: 0 };
      span.keep = true;
    }
    S.spans.set(ev.span_id, span);
    dirty = true;
  }

  // A span_end with the final kind and name of a span classified when it ended: the end
  // wins; a span that turned out an agent gets its lane now, with its subtree's figures.
  function lateClass(s, ev, attrs) {
    if (typeof ev.name === "string") s.name = ev.name;
    if (ev.kind !== undefined) s.kind = ev.kind;
    var lane = S.lanes.get(ev.span_id);
    if (lane) { lane.name = s.name; lane.kind = s.kind; return; }
    if (!s.acc || !isAgent({ kind: s.kind, attributes: attrs })) return;
    lane = newLane(ev.span_id, s.name, s.kind, s.phase);
    lane.start_ts = s.ts; lane.status = "running"; lane.lastActivity = s.ts;
    lane.attributes = Object.assign({}, attrs);
    lane.agent_id = attrs["gen_ai.agent.id"] || null;
    lane.tokens = s.acc.tokens; lane.tool_uses = s.acc.tool_uses; lane.cost_usd = s.acc.cost_usd;
    S.lanes.set(lane.id, lane);
    s.lane = lane.id;
  }

  // Figures of a span that ended, added to the open bridged spans above it up to its lane.
  function pending(s, tokens, tools, cost) {
    var id = s.parent;
    for (var i = 0; id && i < 1000; i++) {
      var a = S.spans.get(id);
      if (!a || a.lane === id) return;
      if (a.acc) { a.acc.tokens += tokens; a.acc.tool_uses += tools; a.acc.cost_usd += cost; }
      id = a.parent;
    }
  }

  // A parent started before the snapshot and unknown to it: the latest open phase.
  function openPhase() {
    var found = "";
    S.phases.forEach(function (p, name) { if (p.end === null) found = name; });
    return found;
  }

  function spanEnd(ev) {
    var s = S.spans.get(ev.span_id);
    var attrs = ev.attributes || {};
    var tokens = +ev.tokens || 0, tools = +ev.tool_uses || 0;
    var cost = +attrs["gen_ai.usage.cost_usd"] || 0;
    S.totalTokens += tokens;
    S.spentUsd += cost; S.spentTokens += tokens;
    if (s && (ev.kind !== undefined || ev.name !== undefined)) lateClass(s, ev, attrs);
    if (s && s.acc) {
      s.acc.tokens += tokens; s.acc.tool_uses += tools; s.acc.cost_usd += cost;
    }
    if (s && (tokens || tools || cost)) pending(s, tokens, tools, cost);
    if (ev.status === "error") {
      var err = ev.error || {};
      S.errors.set(ev.span_id, { span_id: ev.span_id, name: s ? s.name : ev.span_id,
        kind: s ? s.kind : "", type: err.type || "", message: err.message || "",
        lane: s ? s.lane : null });
    }
    if (s && s.kind === "phase" && S.phases.has(s.name)) S.phases.get(s.name).end = ev.ts;
    var lane = s && s.lane ? S.lanes.get(s.lane) : null;
    if (lane) {
      lane.tokens += tokens; lane.tool_uses += tools; lane.cost_usd += cost;
      if (typeof ev.ts === "number") laneActivity(lane, ev.ts);
      if (lane.id === ev.span_id) {
        lane.end_ts = ev.ts;
        lane.status = ev.status === "error" ? "error" : "done";
        lane.error = ev.error || null;
        Object.assign(lane.attributes, attrs);
        if (lane.planId) S.plan.done += 1;
      } else if (lane.ticks.length < MAX_TICKS) {
        var k = tickKind(s, attrs);
        var start = typeof s.ts === "number" ? s.ts : ev.ts - (+ev.duration_ms || 0) / 1000;
        lane.ticks.push({ name: s.name, kind: k, start: start, end: ev.ts, status: ev.status });
      }
    }
    if (s && (!s.keep || (s.acc && s.lane !== ev.span_id))) {
      S.spans.delete(ev.span_id); // bounded memory: only open spans are kept
    }
    dirty = true;
  }

  function tickKind(s, attrs) {
    if (s.kind === "llm" || attrs["gen_ai.request.model"] || attrs["gen_ai.usage.input_tokens"] !== undefined) return "llm";
    if (s.kind === "tool" || attrs["tool.name"]) return "tool";
    return "other";
  }

  function planned(ev) {
    var parent = ev.parent ? S.spans.get(ev.parent) : null;
    var attrs = ev.attributes || {};
    var phase = typeof attrs.phase === "string" ? attrs.phase : parent ? parent.phase : "";
    var lane = newLane("plan:" + ev.plan_id, ev.name, ev.kind, phase);
    lane.planId = ev.plan_id; lane.planParent = ev.parent || null;
    lane.attributes = Object.assign({}, ev.attributes || {});
    noteGroup(phase);
    S.plans.set(ev.plan_id, lane);
    S.lanes.set(lane.id, lane);
    S.plan.planned += 1;
    dirty = true;
  }

  // A snapshot: the folds up to `offset`, from the server (or embedded).
  function loadSnapshot(snap) {
    var summary = snap.summary || {};
    S.summary = summary;
    serverFigures(snap);
    if (snap.run_start) apply(snap.run_start); // agent kinds, stall threshold, query
    (snap.lanes || []).forEach(function (l) {
      var lane = newLane(l.span_id, l.name, l.kind, l.phase);
      if (l.start_ts === undefined) l.start_ts = null;
      lane.agent_id = l.agent_id || null;
      lane.start_ts = l.start_ts; lane.end_ts = l.end_ts;
      lane.status = l.status === "queued" ? "queued" : l.status === "error" ? "error"
        : l.end_ts === null || l.end_ts === undefined ? "running" : "done";
      lane.tokens = +l.tokens || 0; lane.tool_uses = +l.tool_uses || 0; lane.cost_usd = +l.cost_usd || 0;
      lane.error = l.error || null;
      lane.lastActivity = l.end_ts || l.start_ts;
      if (l.plan_id) lane.planId = l.plan_id;
      noteGroup(lane.phase);
      if (lane.status === "queued") {
        // A planned agent not started yet: a later span_start fulfils it.
        lane.planId = l.plan_id || l.span_id; lane.planParent = l.parent || null;
        S.plans.set(lane.planId, lane);
      }
      touch(l.start_ts); touch(l.end_ts);
      S.lanes.set(lane.id, lane);
      // Open agents stay in the span table so later child lines find them.
      S.spans.set(l.span_id, { parent: null, lane: lane.id, phase: lane.phase, name: l.name,
        kind: l.kind, ts: l.start_ts, keep: true });
    });
    // Spans open at `offset` (phases, the root, agents' open calls): later lines
    // name them as parents, so the page needs their links. Parents come first.
    (snap.open_spans || []).slice().sort(function (a, b) { return (a.start_ts || 0) - (b.start_ts || 0); })
      .forEach(function (o) {
        if (S.spans.has(o.span_id)) { S.spans.get(o.span_id).parent = o.parent || null; return; }
        var parent = o.parent ? S.spans.get(o.parent) : null;
        var phase = o.kind === "phase" ? o.name : parent ? parent.phase : "";
        S.spans.set(o.span_id, { parent: o.parent || null, lane: parent ? parent.lane : null, phase: phase,
          name: o.name, kind: o.kind, ts: o.start_ts, keep: o.kind === "phase" });
      });
    Object.keys(summary.phases || {}).forEach(function (name) {
      var p = summary.phases[name] || {};
      if (!S.phases.has(name)) { S.phases.set(name, { start: null, end: p.incomplete ? null : 0 }); S.phaseOrder.push(name); }
    });
    var errorLanes = snap.error_lanes || {};
    (summary.errors || []).forEach(function (e) {
      S.errors.set(e.span_id, Object.assign({ lane: errorLanes[e.span_id] || null }, e));
    });
    if (summary.plan) S.plan = { planned: summary.plan.planned || 0, started: summary.plan.started || 0, done: summary.plan.done || 0 };
    if (summary.totals) S.totalTokens = +summary.totals.total_tokens || 0;
    takeBudget(summary);
    var ms = summary.milestones || [];
    if (ms.length) S.lastMilestone = ms[ms.length - 1].name;
    if (summary.status && summary.status !== "incomplete") S.finished = true;
    dirty = true;
  }

  // A finished run's run_summary.json is the authority for the cards (subtree sums).
  function reconcile(summary) {
    S.summary = summary;
    (summary.agents || []).forEach(function (a) {
      var lane = S.lanes.get(a.span_id);
      if (!lane) {
        lane = newLane(a.span_id, a.name, a.kind, "");
        S.lanes.set(lane.id, lane);
      }
      lane.tokens = +a.tokens || 0; lane.tool_uses = +a.tool_uses || 0; lane.cost_usd = +a.cost_usd || 0;
      lane.agent_id = a.agent_id || lane.agent_id;
      if (a.status === "error") lane.status = "error";
      else if (a.status === "ok") lane.status = "done";
    });
    (summary.errors || []).forEach(function (e) { if (!S.errors.has(e.span_id)) S.errors.set(e.span_id, e); });
    (summary.stalls || []).forEach(function (st) {
      var lane = S.lanes.get(st.span_id);
      if (lane) lane.stall = st;
    });
    if (summary.totals) S.totalTokens = +summary.totals.total_tokens || S.totalTokens;
    takeBudget(summary);
    if (summary.plan) S.plan = { planned: summary.plan.planned || 0, started: summary.plan.started || 0, done: summary.plan.done || 0 };
    if (summary.status && summary.status !== "incomplete") S.finished = true;
    dirty = true;
  }

  // ---- derived figures ------------------------------------------------

  function nowTs() {
    if (S.finished || !source) return S.tLast || 0;
    return Math.max(Date.now() / 1000, S.tLast || 0);
  }

  function laneStatus(lane, now) {
    // Every process of the run is gone (killed): what never ended was abandoned.
    if (lane.status === "running" && S.dead) return "abandoned";
    if (lane.status === "running" && !S.finished && lane.lastActivity !== null
        && now - lane.lastActivity > S.stallS) return "stalled";
    return lane.status;
  }

  // Lanes in the order the run works through them: groups (phases) that started, by
  // their start; then groups not started yet, in the order the plan named them. In a
  // group, started lanes by start, then queued ones in plan order.
  function sortedLanes() {
    var started = new Map();
    S.phases.forEach(function (p, name) { if (typeof p.start === "number") started.set(name, p.start); });
    S.lanes.forEach(function (l) {
      if (typeof l.start_ts !== "number") return;
      var key = l.phase || "";
      if (!started.has(key) || l.start_ts < started.get(key)) started.set(key, l.start_ts);
    });
    function groupKey(phase) {
      var key = phase || "";
      if (started.has(key)) return [0, started.get(key)];
      var i = S.groupOrder.indexOf(key);
      return [1, i < 0 ? 1e9 : i];
    }
    return Array.from(S.lanes.values()).sort(function (a, b) {
      if ((a.phase || "") !== (b.phase || "")) {
        var ga = groupKey(a.phase), gb = groupKey(b.phase);
        return ga[0] - gb[0] || ga[1] - gb[1] || ((a.phase || "") < (b.phase || "") ? -1 : 1);
      }
      var sa = typeof a.start_ts === "number" ? a.start_ts : Infinity;
      var sb = typeof b.start_ts === "number" ? b.start_ts : Infinity;
      if (sa !== sb) return sa < sb ? -1 : 1;
      return a.seq - b.seq;
    });
  }

  // How long a queued lane is drawn (its estimated run): what the agents of its phase
  // took on average, else those of the whole run, else a tenth of the time so far.
  function queuedLength(lane, now) {
    var same = 0, sameN = 0, all = 0, allN = 0;
    S.lanes.forEach(function (l) {
      if (typeof l.start_ts !== "number" || typeof l.end_ts !== "number") return;
      var d = l.end_ts - l.start_ts;
      all += d; allN += 1;
      if (l.phase === lane.phase) { same += d; sameN += 1; }
    });
    if (sameN) return same / sameN;
    if (allN) return all / allN;
    return Math.max(1, S.t0 === null ? 1 : (now - S.t0) / 10);
  }

  // Agents that ended with an error: the final summary's count, else the lanes'.
  function failedAgents() {
    var summary = S.summary || {};
    if (S.finished && summary.status && summary.status !== "incomplete" && typeof summary.failed_agents === "number") {
      return summary.failed_agents;
    }
    var n = 0;
    S.lanes.forEach(function (l) { if (l.status === "error") n += 1; });
    return n;
  }

  function failedText(n) {
    return n ? n + " agent" + (n === 1 ? "" : "s") + " failed" : "";
  }

  // The run's status as the header and the run picker show it.
  function statusText() {
    var summary = S.summary || {};
    var st = !S.finished ? "running"
      : summary.status && summary.status !== "incomplete" ? summary.status
      : S.dead ? "incomplete" : "ended";
    var failed = failedText(failedAgents());
    return st + (failed ? ", " + failed : "");
  }

  function fmtMs(ms) {
    if (!isFinite(ms) || ms < 0) return "-";
    if (ms < 1000) return Math.round(ms) + " ms";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + " s";
    return Math.floor(s / 60) + "m " + Math.round(s % 60) + "s";
  }
  var fmtInt = d3.format(",d");

  // ---- rendering ------------------------------------------------------

  function render() {
    if (!S) return;
    var now = nowTs();
    var lanes = sortedLanes();
    renderSummary(lanes, now);
    renderBudget();
    renderGantt(lanes, now);
    renderCards(lanes, now);
    renderErrors();
    renderBurn();
    if (S.selected) renderDetail(S.lanes.get(S.selected), now);
  }

  function setText(id, text) { document.getElementById(id).textContent = text; }

  // The run's budget: its limits and what was spent from the summary, then every
  // span_end's cost and tokens as they stream in.
  function takeBudget(summary) {
    var b = summary.budget;
    S.budget = b && typeof b === "object" ? b : null;
    S.spentUsd = S.budget ? +S.budget.spent_usd || 0 : 0;
    S.spentTokens = S.budget ? +S.budget.spent_tokens || 0 : 0;
  }

  function renderBudget() {
    var b = S.budget, stat = document.getElementById("budget-stat");
    var usd = b && typeof b.max_usd === "number" ? b.max_usd : null;
    var tokens = b && typeof b.max_tokens === "number" ? b.max_tokens : null;
    if (usd === null && tokens === null) { stat.hidden = true; return; }
    stat.hidden = false;
    var used = [], spent = [], left = [];
    if (usd !== null) {
      used.push(usd > 0 ? S.spentUsd / usd : 1);
      spent.push("$" + S.spentUsd.toFixed(4) + " of $" + usd.toFixed(2));
      left.push("$" + Math.max(usd - S.spentUsd, 0).toFixed(4));
    }
    if (tokens !== null) {
      used.push(tokens > 0 ? S.spentTokens / tokens : 1);
      spent.push(fmtInt(S.spentTokens) + " of " + fmtInt(tokens) + " tokens");
      left.push(fmtInt(Math.max(tokens - S.spentTokens, 0)) + " tokens");
    }
    var most = Math.max.apply(null, used);
    var level = most >= 1 ? "red" : most >= 0.8 ? "amber" : "ok";
    setText("budget-text", spent.join(", "));
    setText("budget-label", "budget (remaining " + left.join(", ") + ")");
    d3.select("#budget-bar").style("width", Math.min(100, Math.round(most * 100)) + "%")
      .attr("data-level", level).classed("amber", level === "amber").classed("red", level === "red");
  }

  function renderSummary(lanes, now) {
    var summary = S.summary || {};
    var final = S.finished && summary.status && summary.status !== "incomplete";
    // A summary folded before the run ended is not its duration: the lines are.
    var elapsed = final && summary.total_wall_ms ? summary.total_wall_ms
      : S.t0 === null ? NaN : (now - S.t0) * 1000;
    setText("elapsed", fmtMs(elapsed));
    var current = "-";
    S.phases.forEach(function (p, name) { if (p.end === null) current = name; });
    if (current === "-" && S.lastMilestone) current = S.lastMilestone;
    setText("current-phase", S.finished ? "finished" : current);
    var failed = failedAgents();
    var pct = null, label;
    if (S.plan.planned > 0) {
      pct = S.plan.done / S.plan.planned;
      label = "complete (planned agents done " + S.plan.done + "/" + S.plan.planned
        + (failed ? ", " + failed + " failed" : "") + ")";
    } else if (S.phases.size) {
      var done = 0;
      S.phases.forEach(function (p) { if (p.end !== null) done += 1; });
      pct = done / S.phases.size;
      label = "complete (phases done/known " + done + "/" + S.phases.size + ")";
    } else {
      label = "complete (no plan or phases to measure)";
    }
    setText("complete", pct === null ? "-" : Math.round(pct * 100) + "%");
    setText("complete-label", label);
    d3.select("#complete-bar").style("width", Math.round((pct || 0) * 100) + "%")
      .classed("failed", failed > 0);
    var active = lanes.filter(function (l) { var st = laneStatus(l, now); return st === "running" || st === "stalled"; }).length;
    setText("active", String(active));
    setText("tokens-total", fmtInt(S.totalTokens));
    var status = statusText();
    setText("run-status", status);
    d3.select("#run-status").attr("data-failed", failed).classed("failed", failed > 0);
    var mode = document.getElementById("mode");
    mode.textContent = S.serverStopped ? "run ended, server stopped" : S.dead ? "ended (processes gone)"
      : S.finished ? "report" : "live";
    mode.className = "mode" + (S.finished ? "" : " live") + (S.serverStopped ? " stopped" : "");
    var banner = document.getElementById("ended-banner");
    if (S.serverStopped) {
      banner.hidden = false;
      setText("ended-reopen", (S.server && S.server.reopen) || "spanline serve <run directory>");
    } else {
      banner.hidden = true;
    }
    setText("run-id", S.runId || "");
    setText("query", (S.runStart && S.runStart.query) || "");
    pickerStatus(S.runId, status);
    reportLink(S.runId);
  }

  // The link to the run's ANALYSIS_REPORT.md (`spanline analyze`), when the run list says
  // it has one; a static report has no server to serve it.
  function reportLink(runId) {
    var link = document.getElementById("report-link");
    var row = null;
    d3.select("#run-picker").selectAll("option").each(function (r) {
      if (r && r.run_id === runId) row = r;
    });
    if (row && row.analyzed) {
      link.href = "/api/runs/" + encodeURIComponent(runId) + "/report";
      link.hidden = false;
    } else {
      link.hidden = true;
      link.removeAttribute("href");
    }
  }

  // The run picker's line for a run: id, status, question.
  function pickerText(runId, status, query) {
    return runId + " - " + (status || "") + (query ? " - " + String(query).slice(0, 60) : "");
  }

  // Keep the picker's line for the open run as current as the header.
  function pickerStatus(runId, status) {
    d3.select("#run-picker").selectAll("option").filter(function (r) { return r && r.run_id === runId; })
      .each(function (r) {
        if (r.status === status) return;
        r.status = status;
        this.textContent = pickerText(r.run_id, status, r.query);
      });
  }

  function phaseColor(phase) {
    var i = S.phaseOrder.indexOf(phase);
    if (i < 0) i = S.phaseOrder.length + S.groupOrder.indexOf(phase);
    return PHASE_COLOURS[(i < 0 ? PHASE_COLOURS.length - 1 : i) % PHASE_COLOURS.length];
  }

  // Rows: lanes interleaved with one header row per phase group.
  function ganttRows(lanes) {
    var rows = [], last = null, y = AXIS_H;
    lanes.forEach(function (lane) {
      if (lane.phase !== last) {
        last = lane.phase;
        rows.push({ group: lane.phase || "(no phase)", y: y }); y += GROUP_H;
      }
      rows.push({ lane: lane, y: y }); y += ROW;
    });
    return { rows: rows, height: y + 4 };
  }

  function renderGantt(lanes, now) {
    var scroll = document.getElementById("gantt-scroll");
    var width = Math.max(400, scroll.clientWidth - 4);
    var layout = ganttRows(lanes);
    var svg = d3.select("#gantt").attr("width", width).attr("height", layout.height);
    var t0 = S.t0 === null ? now : S.t0, t1 = Math.max(now, t0 + 0.001);
    // Queued lanes are drawn from now on, as long as they are expected to take: the
    // axis reaches past now to show them.
    var queuedEnd = new Map();
    lanes.forEach(function (l) {
      if (l.status === "queued") queuedEnd.set(l.id, now + queuedLength(l, now));
    });
    queuedEnd.forEach(function (end) { t1 = Math.max(t1, end); });
    var x0 = d3.scaleLinear().domain([0, (t1 - t0) * 1000]).range([LABEL_W, width - 10]);
    var x = zoomT.rescaleX(x0);
    setText("lane-count", lanes.filter(function (l) { return l.status !== "queued"; }).length + " agent lanes, "
      + lanes.filter(function (l) { return l.status === "queued"; }).length + " queued");

    // Only rows inside the scrolled viewport are drawn: thousands of lanes stay cheap.
    var top = scroll.scrollTop - ROW * 5, bottom = scroll.scrollTop + scroll.clientHeight + ROW * 5;
    var visible = layout.rows.filter(function (r) { return r.y + ROW >= top && r.y <= bottom; });

    var axis = svg.selectAll("g.axis").data([0]).join("g").attr("class", "axis")
      .attr("transform", "translate(0," + (AXIS_H - 4 + Math.max(0, scroll.scrollTop)) + ")");
    axis.call(d3.axisTop(x).ticks(Math.max(2, Math.floor(width / 110))).tickFormat(function (ms) { return fmtMs(ms); }));

    var clipW = width - 10 - LABEL_W;
    var defs = svg.selectAll("defs").data([0]).join("defs");
    defs.selectAll("clipPath").data([0]).join("clipPath").attr("id", "bars-clip")
      .selectAll("rect").data([0]).join("rect").attr("x", LABEL_W).attr("y", 0).attr("width", clipW).attr("height", layout.height);
    var hatch = defs.selectAll("pattern").data([0]).join(function (enter) {
      var p = enter.append("pattern").attr("id", "queued-hatch").attr("patternUnits", "userSpaceOnUse")
        .attr("width", 6).attr("height", 6).attr("patternTransform", "rotate(45)");
      p.append("rect").attr("width", 6).attr("height", 6).attr("fill", "#ececf1");
      p.append("line").attr("x1", 0).attr("y1", 0).attr("x2", 0).attr("y2", 6)
        .attr("stroke", "#8a8a96").attr("stroke-width", 3);
      return p;
    });
    hatch.raise();
    var nowX = x((now - t0) * 1000);
    svg.selectAll("line.now").data(queuedEnd.size ? [0] : []).join("line").attr("class", "now")
      .attr("x1", nowX).attr("x2", nowX).attr("y1", AXIS_H).attr("y2", layout.height)
      .attr("clip-path", "url(#bars-clip)");

    var groups = svg.selectAll("text.group-label").data(visible.filter(function (r) { return r.group !== undefined; }), function (r) { return r.group; })
      .join("text").attr("class", "group-label").attr("x", 4).attr("y", function (r) { return r.y + 13; })
      .text(function (r) { return r.group; });
    groups.raise();

    var laneRows = visible.filter(function (r) { return r.lane; });
    var row = svg.selectAll("g.lane").data(laneRows, function (r) { return r.lane.id; })
      .join(function (enter) {
        var g = enter.append("g").attr("class", "lane");
        g.append("text").attr("class", "lane-label").attr("x", 12).attr("y", 14);
        g.append("rect").attr("class", "bar").attr("clip-path", "url(#bars-clip)").attr("rx", 2)
          .attr("y", 3).attr("height", ROW - 6)
          .on("click", function (event, r) { select(r.lane.id); });
        // After the bar, so it is drawn on it.
        g.append("text").attr("class", "bar-label").attr("y", 14).attr("clip-path", "url(#bars-clip)");
        return g;
      })
      .attr("data-span-id", function (r) { return r.lane.span_id; })
      .attr("data-phase", function (r) { return r.lane.phase; })
      .attr("data-status", function (r) { return laneStatus(r.lane, now); })
      .attr("transform", function (r) { return "translate(0," + r.y + ")"; });
    row.select("text.lane-label")
      .attr("class", function (r) { return "lane-label " + laneStatus(r.lane, now); })
      .text(function (r) { return r.lane.name; });
    function barX(l) {
      return typeof l.start_ts === "number" ? x((l.start_ts - t0) * 1000) : x((now - t0) * 1000);
    }
    function barW(l) {
      if (typeof l.start_ts !== "number") {
        var until = queuedEnd.get(l.id);  // none: an agent known only from a summary
        return until === undefined ? 24 : Math.max(24, x((until - t0) * 1000) - x((now - t0) * 1000));
      }
      var end = l.end_ts === null || l.end_ts === undefined ? now : l.end_ts;
      return Math.max(2, x((end - t0) * 1000) - x((l.start_ts - t0) * 1000));
    }
    row.select("rect.bar")
      .attr("class", function (r) {
        var st = laneStatus(r.lane, now);
        return "bar " + st + (S.selected === r.lane.id ? " selected" : "");
      })
      .attr("fill", function (r) {
        var st = r.lane.status;
        return st === "queued" ? "url(#queued-hatch)" : st === "error" ? "#d62728" : phaseColor(r.lane.phase);
      })
      .attr("x", function (r) { return barX(r.lane); })
      .attr("width", function (r) { return barW(r.lane); });
    // A failed agent says so on its bar; a queued one too (its bar is an estimate).
    row.select("text.bar-label")
      .attr("class", function (r) { return "bar-label " + r.lane.status; })
      .attr("x", function (r) {
        // Beside a failed bar (it may be a sliver), inside a queued one.
        var l = r.lane;
        return l.status === "error" ? Math.max(LABEL_W, barX(l) + barW(l)) + 4 : Math.max(LABEL_W, barX(l)) + 4;
      })
      .text(function (r) { return r.lane.status === "error" ? "\u2716 failed" : r.lane.status === "queued" ? "queued" : ""; });
    row.selectAll("title").data(function (r) { return [r]; }).join("title")
      .text(function (r) { return r.lane.name + " (" + laneStatus(r.lane, now) + ")"; });

    if (!zoom) {
      zoom = d3.zoom().scaleExtent([1, 5000])
        .filter(function (event) { return event.type === "wheel" ? (event.ctrlKey || event.shiftKey) : !event.button; })
        .on("zoom", function (event) { zoomT = event.transform; dirty = true; });
      svg.call(zoom).on("dblclick.zoom", null);
    }
    zoom.extent([[LABEL_W, 0], [width - 10, layout.height]]).translateExtent([[LABEL_W, 0], [width - 10, layout.height]]);

    // Lanes below the box's edge: say how many, so none is hidden without a cue.
    var below = layout.rows.filter(function (r) { return r.lane && r.y + ROW > scroll.scrollTop + scroll.clientHeight + 1; }).length;
    var more = document.getElementById("gantt-more");
    more.hidden = below === 0;
    more.textContent = below ? "\u25BC " + below + " more lane" + (below === 1 ? "" : "s") + " below: scroll the timeline" : "";
  }

  function renderCards(lanes, now) {
    var ordered = lanes.slice().sort(function (a, b) {
      return (STATUS_ORDER[laneStatus(a, now)] - STATUS_ORDER[laneStatus(b, now)]) || 0;
    });
    var shown = ordered.length > MAX_CARDS ? ordered.slice(0, MAX_CARDS) : lanes;
    setText("card-count", "(" + lanes.length + ")");
    var cards = d3.select("#cards").selectAll("div.card").data(shown, function (l) { return l.id; })
      .join(function (enter) {
        var c = enter.append("div").on("click", function (event, l) { select(l.id); });
        c.append("div").attr("class", "name");
        c.append("div").attr("class", "kind");
        c.append("div").attr("class", "meta status-line");
        var f = c.append("div").attr("class", "figures");
        f.append("span").attr("class", "tokens");
        f.append("span").text(" tokens, ");
        f.append("span").attr("class", "tools");
        f.append("span").text(" tool calls");
        return c;
      })
      .attr("class", function (l) { return "card " + laneStatus(l, now); })
      .attr("data-span-id", function (l) { return l.span_id; })
      .attr("data-status", function (l) { return laneStatus(l, now); })
      .attr("data-tokens", function (l) { return l.tokens; })
      .attr("data-tool-uses", function (l) { return l.tool_uses; });
    cards.order();
    cards.select(".name").text(function (l) { return l.name; }).attr("title", function (l) { return l.name; });
    cards.select(".kind").text(function (l) { return l.kind + (l.agent_id ? " - " + l.agent_id : "") + (l.phase ? " - " + l.phase : ""); });
    cards.select(".status-line").text(function (l) {
      var st = laneStatus(l, now);
      var end = l.end_ts === null || l.end_ts === undefined ? now : l.end_ts;
      var el = l.start_ts === null ? "" : ", " + fmtMs((end - l.start_ts) * 1000);
      return (st === "error" ? "\u2716 failed" : st) + el + (l.cost_usd ? ", $" + l.cost_usd.toFixed(4) : "");
    });
    cards.select(".tokens").text(function (l) { return fmtInt(l.tokens); });
    cards.select(".tools").text(function (l) { return fmtInt(l.tool_uses); });
    d3.select("#cards-section").selectAll("div.more").data(ordered.length > MAX_CARDS ? [ordered.length - MAX_CARDS] : [])
      .join("div").attr("class", "more").text(function (n) { return "and " + fmtInt(n) + " more (done first hidden)"; });
  }

  function renderErrors() {
    var errors = Array.from(S.errors.values());
    setText("error-count", errors.length ? "(" + errors.length + ")" : "");
    var items = d3.select("#errors ul").selectAll("li").data(errors.length ? errors : [null], function (e) { return e ? e.span_id : "none"; })
      .join(function (enter) {
        var li = enter.append("li");
        li.append("div").attr("class", "name");
        li.append("div").attr("class", "msg");
        li.on("click", function (event, e) { if (e) selectErrorSpan(e); })
          .on("keydown", function (event, e) { if (e && (event.key === "Enter" || event.key === " ")) selectErrorSpan(e); });
        return li;
      })
      .attr("class", function (e) { return e ? "error" : "none"; })
      .attr("tabindex", function (e) { return e ? 0 : null; })
      .attr("role", function (e) { return e ? "button" : null; })
      .attr("title", function (e) { return e ? "show this span's agent in the timeline" : null; })
      .attr("data-span-id", function (e) { return e ? e.span_id : null; });
    items.select(".name").text(function (e) { return e ? e.name + (e.kind ? " (" + e.kind + ")" : "") : "No errors."; });
    items.select(".msg").text(function (e) { return e ? (e.type ? e.type + ": " : "") + (e.message || "") : ""; });
  }

  // The agent lane that holds an error's span (the span itself when it is an agent).
  function errorLane(e) {
    if (e.lane && S.lanes.has(e.lane)) return e.lane;
    if (S.lanes.has(e.span_id)) return e.span_id;
    var s = S.spans.get(e.span_id);
    return s && s.lane && S.lanes.has(s.lane) ? s.lane : null;
  }

  // An error card clicked: select its agent and bring its lane into view.
  function selectErrorSpan(e) {
    var laneId = errorLane(e);
    if (!laneId) return;
    select(laneId);
    render();
    var layout = ganttRows(sortedLanes());
    var row = layout.rows.filter(function (r) { return r.lane && r.lane.id === laneId; })[0];
    var scroll = document.getElementById("gantt-scroll");
    if (row && (row.y < scroll.scrollTop || row.y + ROW > scroll.scrollTop + scroll.clientHeight)) {
      scroll.scrollTop = Math.max(0, row.y - scroll.clientHeight / 2);
    }
    document.getElementById("gantt-section").scrollIntoView({ block: "nearest" });
    dirty = true;
  }

  // The burn rate is the server's (folds/lanes.py): the page never computes it.
  function renderBurn() {
    var burn = S.burn || { tokens_per_min: 0, series: [] };
    setText("burn-rate", fmtInt(burn.tokens_per_min || 0));
    var svg = d3.select("#burn-chart"), w = +svg.attr("width"), h = +svg.attr("height");
    var pts = (burn.series || []).slice();
    if (!pts.length) { svg.selectAll("path").remove(); return; }
    if (pts.length < 2) pts = [[pts[0][0] - 1, 0], pts[0]];
    var x = d3.scaleLinear().domain([pts[0][0], pts[pts.length - 1][0]]).range([2, w - 2]);
    var y = d3.scaleLinear().domain([0, d3.max(pts, function (p) { return p[1]; }) || 1]).range([h - 2, 4]);
    svg.selectAll("path").data([pts]).join("path").attr("fill", "#1f77b433").attr("stroke", "#1f77b4")
      .attr("d", d3.area().x(function (p) { return x(p[0]); }).y0(h - 2).y1(function (p) { return y(p[1]); }));
  }

  function select(id) {
    S.selected = id;
    dirty = true;
  }

  function renderDetail(lane, now) {
    var body = document.getElementById("detail-body");
    body.replaceChildren();
    body.className = "";
    var ticksSvg = d3.select("#ticks");
    if (!lane) { body.className = "empty"; body.textContent = "Click a bar or a card."; ticksSvg.selectAll("*").remove(); return; }
    var dl = document.createElement("dl");
    function row(k, v) {
      var dt = document.createElement("dt"); dt.textContent = k;
      var dd = document.createElement("dd"); dd.textContent = v === null || v === undefined ? "-" : String(v);
      dl.append(dt, dd);
    }
    var end = lane.end_ts === null || lane.end_ts === undefined ? now : lane.end_ts;
    row("name", lane.name); row("kind", lane.kind); row("status", laneStatus(lane, now));
    row("span_id", lane.span_id); row("phase", lane.phase);
    row("elapsed", lane.start_ts === null ? "-" : fmtMs((end - lane.start_ts) * 1000));
    row("tokens", fmtInt(lane.tokens)); row("tool calls", fmtInt(lane.tool_uses));
    if (lane.cost_usd) row("cost", "$" + lane.cost_usd.toFixed(6));
    if (lane.error) row("error", (lane.error.type || "") + ": " + (lane.error.message || ""));
    if (lane.stall) row("stalled", fmtMs(lane.stall.stalled_ms) + (lane.stall.recovered ? " (recovered)" : ""));
    Object.keys(lane.attributes).sort().forEach(function (k) {
      var v = lane.attributes[k];
      var ref = blobRef(v);
      if (ref) { blobRow(dl, k, ref); return; }
      row(k, typeof v === "object" ? JSON.stringify(v) : v);
    });
    row("child calls", lane.ticks.length + (lane.ticks.length >= MAX_TICKS ? "+" : "") + " (ticks below: LLM purple, tool orange)");
    body.append(dl);
    var w = +ticksSvg.attr("width");
    var t0 = lane.start_ts === null ? now : lane.start_ts;
    var x = d3.scaleLinear().domain([t0, Math.max(end, t0 + 0.001)]).range([4, w - 4]);
    ticksSvg.selectAll("rect.track").data([0]).join("rect").attr("class", "track")
      .attr("x", 4).attr("y", 10).attr("width", w - 8).attr("height", 24).attr("fill", "#f0f0f3");
    ticksSvg.selectAll("line.tick").data(lane.ticks).join("line")
      .attr("class", function (t) { return "tick " + t.kind; })
      .attr("x1", function (t) { return x(t.start); }).attr("x2", function (t) { return x(t.start); })
      .attr("y1", function (t) { return t.kind === "llm" ? 10 : 22; }).attr("y2", function (t) { return t.kind === "llm" ? 22 : 34; })
      .attr("stroke-width", 2)
      .selectAll("title").data(function (t) { return [t]; }).join("title")
      .text(function (t) { return t.name + " " + fmtMs((t.end - t.start) * 1000); });
  }

  // A value stored out of line: {"spanline.blob": {sha256, size, media_type}}.
  function blobRef(v) {
    if (!v || typeof v !== "object" || Object.keys(v).length !== 1) return null;
    var ref = v["spanline.blob"];
    if (!ref || typeof ref.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(ref.sha256)) return null;
    return ref;
  }

  // The first bytes of each blob shown (a 50 MB value is downloaded, never drawn).
  var blobHeads = {};
  var BLOB_HEAD = 2048;

  function blobRow(dl, k, ref) {
    var dt = document.createElement("dt"); dt.textContent = k;
    var dd = document.createElement("dd");
    var url = "/api/runs/" + encodeURIComponent(S.runId) + "/blobs/" + ref.sha256;
    var head = document.createElement("pre");
    head.className = "blob-head";
    var known = blobHeads[ref.sha256];
    head.textContent = known === undefined ? "loading..." : known;
    if (known === undefined) {
      if (Object.keys(blobHeads).length > 100) blobHeads = {};
      blobHeads[ref.sha256] = "loading...";
      fetch(url + "?head=" + BLOB_HEAD).then(function (r) {
        return r.ok ? r.text() : r.json().then(function (e) { return "(" + e.error + ")"; });
      }).then(function (text) {
        blobHeads[ref.sha256] = text + (ref.size > BLOB_HEAD ? "\u2026" : "");
        dirty = true;
      }).catch(function () { delete blobHeads[ref.sha256]; });
    }
    var a = document.createElement("a");
    a.className = "blob-link";
    a.href = url;
    a.setAttribute("download", ref.sha256 + (ref.media_type === "application/json" ? ".json" : ".txt"));
    a.textContent = "full value (" + fmtInt(ref.size) + " bytes, " + String(ref.media_type) + ")";
    dd.append(head, a);
    dl.append(dt, dd);
  }

  // ---- data sources ---------------------------------------------------

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  function stopStream() {
    if (source) { source.close(); source = null; }
  }

  function snapshotUrl(runId) {
    return "/api/runs/" + encodeURIComponent(runId) + "/snapshot";
  }

  function isFinal(summary) {
    return !!(summary && summary.status && summary.status !== "incomplete");
  }

  // What only the server computes: the burn rate (folds/lanes.py), and whether the
  // server is the run's own (it stops when the run ends).
  function serverFigures(snap) {
    if (snap.burn) S.burn = snap.burn;
    if (snap.server) S.server = snap.server;
  }

  // The run is over: its final summary (a snapshot folded through its last line) is
  // the authority for the cards, errors, stalls, status and burn rate.
  function finish(snap) {
    serverFigures(snap);
    reconcile(snap.summary);
    stopStream();
    S.finished = true;
    if (S.server && S.server.stops_with_run) S.serverStopped = true;
    dirty = true;
  }

  var refetchTimer = null;
  function refetchSoon() {
    // A process ended: the run may be finished. The server's summary then is the
    // authority (subtree sums, errors, stalls); once finished, stop streaming.
    if (refetchTimer) return;
    var runId = S.runId;
    refetchTimer = setTimeout(function () {
      refetchTimer = null;
      getJSON(snapshotUrl(runId)).then(function (snap) {
        if (!S || S.runId !== runId || !snap.summary) return;
        serverFigures(snap);
        if (isFinal(snap.summary)) finish(snap);
        dirty = true;
      }).catch(function () {});
    }, 300);
  }

  // The program serving the page went on in its next run (a rotation) while the page
  // followed it: open that run. True if it did.
  function followRotation(runId, snap) {
    var live = snap && snap.server && snap.server.live_run;
    if (!live || live === runId || !S || S.runId !== runId || !S.following) return false;
    stopStream();
    var open = function () {
      if (!S || S.runId !== runId) return; // the user chose another run meanwhile
      d3.select("#run-picker").property("value", live);
      openRun(live);
    };
    refreshPicker().then(open, open);
    return true;
  }

  // The process that created the run ended: ask for the final state at once (a
  // program's own server stops right after), and say so if it is already gone.
  function fetchFinal(runId) {
    getJSON(snapshotUrl(runId)).then(function (snap) {
      if (!S || S.runId !== runId) return;
      if (followRotation(runId, snap)) return;
      if (isFinal(snap.summary)) finish(snap);
      else { serverFigures(snap); refetchSoon(); }
      dirty = true;
    }).catch(function () {
      if (!S || S.runId !== runId) return;
      if (S.server && S.server.stops_with_run) S.serverStopped = true;
      dirty = true;
    });
  }

  // While a run is live: the server's burn rate and the run picker's statuses, every
  // 2 s, or ten times as long as the server took to answer (a big run's fold is work).
  var pollTimer = null;
  function pollLive(runId, delay) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(function () {
      if (!S || S.runId !== runId || !source) return;
      var asked = Date.now();
      getJSON(snapshotUrl(runId)).then(function (snap) {
        if (!S || S.runId !== runId || !source) return;
        serverFigures(snap);
        dirty = true;
        refreshPicker();
        pollLive(runId, Math.max(2000, 10 * (Date.now() - asked)));
      }).catch(function () { if (source) pollLive(runId, 5000); });
    }, delay);
  }

  // The picker's line for a run of a session: its turn and attempt first.
  function runLine(r) {
    var failed = typeof r.failed_agents === "number" ? failedText(r.failed_agents) : "";
    var text = pickerText(r.run_id, (r.status || "") + (failed ? ", " + failed : ""), r.query);
    return r.session_id && r.turn ? "turn " + r.turn + "." + (r.attempt || 1) + " - " + text : text;
  }

  // Runs grouped by session (an optgroup each, most recent first); runs outside a
  // session stay plain options, newest first.
  function refreshPicker() {
    return getJSON("/api/runs").then(function (runs) {
      S_RUNS = runs;
      var picker = d3.select("#run-picker");
      var groups = [], byName = {};
      runs.forEach(function (r) {
        var key = r.session_id || "";
        if (!(key in byName)) { byName[key] = { session: key, runs: [] }; groups.push(byName[key]); }
        byName[key].runs.push(r);
      });
      var loose = byName[""] ? byName[""].runs : [];
      picker.selectAll("option.loose").data(loose, function (r) { return r.run_id; }).join("option")
        .attr("class", "loose").attr("value", function (r) { return r.run_id; }).text(runLine);
      var sessions = groups.filter(function (g) { return g.session; });
      var optgroups = picker.selectAll("optgroup").data(sessions, function (g) { return g.session; })
        .join("optgroup").attr("label", function (g) { return "session " + String(g.session).slice(0, 60); });
      optgroups.selectAll("option").data(function (g) { return g.runs; }, function (r) { return r.run_id; })
        .join("option").attr("value", function (r) { return r.run_id; }).text(runLine);
      if (S) picker.property("value", S.runId);
      dirty = true;
      return runs;
    });
  }

  // The session view: the open run's session, turns as rows and attempts side by side,
  // each opening its run. Hidden for a run outside a session.
  function showSession(runId) {
    var section = d3.select("#session-view");
    var row = (S_RUNS || []).filter(function (r) { return r.run_id === runId; })[0];
    if (!row || !row.session_id) { section.attr("hidden", true); return; }
    getJSON("/api/sessions/" + encodeURIComponent(row.session_id)).then(function (view) {
      if (!S || S.runId !== runId) return;
      section.attr("hidden", null);
      var t = view.totals;
      d3.select("#session-name").text(String(view.session_id).slice(0, 60));
      d3.select("#session-totals").text(view.turns + " turns, " + view.attempts + " attempts, " +
        fmtInt(t.tokens) + " tokens, " + fmtCost(t.cost_usd) + " (waste " + fmtCost(t.waste_usd) + ")");
      var turns = [], byTurn = {};
      view.attempt_list.forEach(function (a) {
        var key = a.turn === null ? "-" + a.run_id : String(a.turn);
        if (!(key in byTurn)) { byTurn[key] = { turn: a.turn, attempts: [] }; turns.push(byTurn[key]); }
        byTurn[key].attempts.push(a);
      });
      var rows = d3.select("#session-turns").selectAll("tr").data(turns).join("tr").attr("class", "turn");
      rows.selectAll("th").data(function (d) { return [d]; }).join("th")
        .text(function (d) { return d.turn === null ? "turn -" : "turn " + d.turn; });
      rows.selectAll("td").data(function (d) { return d.attempts; }).join("td").each(function (a) {
        var cell = d3.select(this);
        cell.selectAll("button").data([a]).join("button").attr("type", "button")
          .attr("class", function (x) {
            return "attempt" + (x.accepted ? " accepted" : "") + (x.wasted ? " waste" : "") +
              (x.run_id === runId ? " open" : "");
          })
          .attr("data-run", function (x) { return x.run_id; })
          .text(function (x) {
            var mark = x.accepted ? " accepted" : (x.wasted ? " waste" : "");
            return "attempt " + (x.attempt === null ? "-" : x.attempt) + " - " + x.status + " - " +
              fmtCost(x.cost_usd) + mark;
          })
          .on("click", function (event, x) {
            d3.select("#run-picker").property("value", x.run_id);
            followParam = false;
            openRun(x.run_id);
          });
      });
    }).catch(function () { section.attr("hidden", true); });
  }

  function stream(runId, offset) {
    stopStream();
    source = new EventSource("/events?run=" + encodeURIComponent(runId) + "&from=" + encodeURIComponent(offset));
    source.onmessage = function (msg) {
      if (!S || S.runId !== runId) return;
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      apply(ev);
      if (ev && ev.event === "process_end") {
        // The process that created the run ended: the run is over. Its server may stop
        // right after, so stop streaming now (no reconnect loop) and show the report.
        if (S.runStart && ev.pid === S.runStart.pid) {
          S.finished = true; stopStream(); dirty = true;
          fetchFinal(runId);
        } else {
          refetchSoon();
        }
      }
    };
    // The server found this page behind the run (its buffer was full): the state is
    // replaced by the fresh snapshot, and the stream goes on from the snapshot's offset.
    source.addEventListener("resync", function (msg) {
      if (!S || S.runId !== runId) return;
      var data;
      try { data = JSON.parse(msg.data); } catch (e) { return; }
      var keep = { finished: S.finished };
      reset(runId);
      loadSnapshot(data.snapshot || {});
      S.resyncs = (S.resyncs || 0) + 1;
      S.offset = data.offset;
      if (keep.finished) S.finished = true;
      dirty = true;
    });
    pollLive(runId, 2000);
    source.onerror = function () {
      // EventSource reconnects by itself, sending Last-Event-ID; nothing to do.
    };
  }

  function replay(runId, until, summary) {
    stopStream();
    if (until === 0) { reconcile(summary); return; }
    source = new EventSource("/events?run=" + encodeURIComponent(runId) + "&from=0");
    source.onmessage = function (msg) {
      if (!S || S.runId !== runId) return;
      try { apply(JSON.parse(msg.data)); } catch (e) { /* a malformed line: skipped */ }
      if (+msg.lastEventId >= until) { stopStream(); reconcile(summary); }
    };
  }

  function openRun(runId) {
    stopStream();
    reset(runId);
    if (window.history && window.history.replaceState) {
      var url = new URL(window.location.href);
      url.searchParams.set("run", runId);
      if (!followParam) url.searchParams.delete("follow");
      window.history.replaceState(null, "", url.toString());
    }
    showSession(runId);
    getJSON("/api/runs/" + encodeURIComponent(runId) + "/snapshot").then(function (snap) {
      if (!S || S.runId !== runId) return;
      if (snap.server && snap.server.live_run === runId) S.following = true;
      if (followRotation(runId, snap)) return; // opened late: the program is further on
      var offset = snap.offset || 0;
      var done = snap.summary && snap.summary.status && snap.summary.status !== "incomplete";
      if (done && offset <= REPLAY_LIMIT) {
        // A finished run of modest size is replayed as a report: its lines give the
        // child calls (ticks) and the burn history that the snapshot folds away.
        loadSnapshot({ summary: snap.summary, lanes: [], burn: snap.burn, server: snap.server });
        S.finished = false;
        replay(runId, offset, snap.summary);
        return;
      }
      loadSnapshot(snap); // with the run's run_start line: no second stream for it
      if (snap.live === false && !done) {
        // No process of the run is left to write: nothing more will come.
        S.dead = true; S.finished = true; dirty = true;
        return;
      }
      if (S.finished && S.summary) reconcile(S.summary);
      else stream(runId, offset);
    }).catch(showError);
  }

  function showError(err) {
    var mode = document.getElementById("mode");
    mode.textContent = "error";
    setText("query", String(err && err.message ? err.message : err));
  }

  function startLive() {
    var picker = d3.select("#run-picker");
    picker.on("change", function () { followParam = false; openRun(this.value); });
    refreshPicker().then(function (runs) {
      var wanted = new URL(window.location.href).searchParams.get("run");
      if (!runs.length) { showError("no runs yet"); return; }
      var ids = runs.map(function (r) { return r.run_id; });
      var runId = wanted && ids.indexOf(wanted) >= 0 ? wanted : ids[0];
      picker.property("value", runId);
      openRun(runId);
    }).catch(showError);
  }

  function startReport(data) {
    var snap = data.snapshot || {};
    reset(snap.run_id || "");
    d3.select("#run-picker").selectAll("option").data([S.runId]).join("option")
      .attr("value", function (id) { return id; }).text(function (id) { return id + " (report)"; });
    loadSnapshot(snap);
    (data.events || []).forEach(apply);
    if (snap.summary) reconcile(snap.summary);
    if (snap.live === false && snap.summary && snap.summary.status === "incomplete") S.dead = true;
    S.finished = true;
  }

  function boot() {
    var el = document.getElementById("spanline-data");
    var text = el ? el.textContent.trim() : "";
    if (text) startReport(JSON.parse(text));
    else startLive();
    d3.select("#zoom-in").on("click", function () { if (!zoom) return; d3.select("#gantt").call(zoom.scaleBy, 2); });
    d3.select("#zoom-out").on("click", function () { if (!zoom) return; d3.select("#gantt").call(zoom.scaleBy, 0.5); });
    d3.select("#zoom-reset").on("click", function () { if (!zoom) return; d3.select("#gantt").call(zoom.transform, d3.zoomIdentity); });
    d3.select("#gantt-scroll").on("scroll", function () { dirty = true; });
    window.addEventListener("resize", function () { dirty = true; });
    window.addEventListener("beforeunload", stopStream);
    // Draw at most ~4 times a second; running bars keep growing while live.
    var last = 0;
    (function frame(t) {
      if (S && (dirty ? t - last > 100 : !S.finished && t - last > 250)) {
        dirty = false; render(); last = t;
      }
      window.requestAnimationFrame(frame);
    })(0);
    render();
  }

  window.spanlineDashboard = {
    state: function () { return S; },
    idle: function () { return !dirty; }
  };
  boot();
})();
