// spanline dashboard: folds telemetry.jsonl lines into lanes, cards and panels.
// Data is only ever inserted as text (textContent / d3 .text()), never as HTML.
(function () {
  "use strict";

  var DEFAULT_AGENT_KINDS = ["agent", "library-analysis", "application-analysis",
    "external-service", "architecture-documenter", "synthesis"];
  var ROW = 20, LABEL_W = 170, AXIS_H = 22, GROUP_H = 18, MAX_CARDS = 300, MAX_TICKS = 2000;
  var BURN_WINDOW_S = 30, REPLAY_LIMIT = 16 * 1024 * 1024;
  var STATUS_ORDER = { error: 0, abandoned: 1, stalled: 2, running: 3, queued: 4, done: 5 };

  var S = null;            // the current run's state (see reset)
  var source = null;       // the EventSource while streaming
  var zoom = null, zoomT = d3.zoomIdentity;
  var dirty = false;

  function reset(runId) {
    S = {
      runId: runId, runStart: null, agentKinds: new Set(DEFAULT_AGENT_KINDS),
      spans: new Map(),    // open (and agent/phase) spans: id -> {parent, lane, phase, name, kind}
      lanes: new Map(),    // lane id -> lane
      plans: new Map(),    // plan_id -> lane (queued until fulfilled)
      phases: new Map(),   // phase name -> {start, end}
      phaseOrder: [], lastMilestone: null,
      errors: new Map(),   // span_id -> {span_id, name, kind, type, message}
      burn: new Map(),     // whole second -> tokens ended in agent subtrees
      plan: { planned: 0, started: 0, done: 0 },
      t0: null, tLast: null, finished: false, dead: false, summary: null, stallS: 60,
      selected: null, totalTokens: 0
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
      error: null, attributes: {}, ticks: [], lastActivity: null, planId: null };
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

  function apply(ev) {
    if (!ev || typeof ev !== "object") return;
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
    S.spans.set(ev.span_id, { parent: ev.parent || null, lane: laneId, phase: phase,
      name: ev.name, kind: ev.kind, ts: ev.ts, keep: laneId === ev.span_id || ev.kind === "phase" });
    dirty = true;
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
    if (ev.status === "error") {
      var err = ev.error || {};
      S.errors.set(ev.span_id, { span_id: ev.span_id, name: s ? s.name : ev.span_id,
        kind: s ? s.kind : "", type: err.type || "", message: err.message || "" });
    }
    if (s && s.kind === "phase" && S.phases.has(s.name)) S.phases.get(s.name).end = ev.ts;
    var lane = s && s.lane ? S.lanes.get(s.lane) : null;
    if (lane) {
      lane.tokens += tokens; lane.tool_uses += tools; lane.cost_usd += cost;
      if (typeof ev.ts === "number") laneActivity(lane, ev.ts);
      if (tokens && typeof ev.ts === "number") {
        var sec = Math.floor(ev.ts);
        S.burn.set(sec, (S.burn.get(sec) || 0) + tokens);
      }
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
    if (s && !s.keep) S.spans.delete(ev.span_id); // bounded memory: only open spans are kept
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
    S.plans.set(ev.plan_id, lane);
    S.lanes.set(lane.id, lane);
    S.plan.planned += 1;
    dirty = true;
  }

  // A snapshot: the folds up to `offset`, from the server (or embedded).
  function loadSnapshot(snap) {
    var summary = snap.summary || {};
    S.summary = summary;
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
    (summary.errors || []).forEach(function (e) { S.errors.set(e.span_id, e); });
    if (summary.plan) S.plan = { planned: summary.plan.planned || 0, started: summary.plan.started || 0, done: summary.plan.done || 0 };
    if (summary.totals) S.totalTokens = +summary.totals.total_tokens || 0;
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

  function sortedLanes() {
    var order = new Map();
    S.phaseOrder.forEach(function (p, i) { order.set(p, i); });
    return Array.from(S.lanes.values()).sort(function (a, b) {
      var pa = order.has(a.phase) ? order.get(a.phase) : 1e9, pb = order.has(b.phase) ? order.get(b.phase) : 1e9;
      if (pa !== pb) return pa - pb;
      var sa = a.start_ts === null ? Infinity : a.start_ts, sb = b.start_ts === null ? Infinity : b.start_ts;
      return sa - sb || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
  }

  function burnRate(now) {
    var total = 0;
    S.burn.forEach(function (tokens, sec) { if (sec > now - BURN_WINDOW_S && sec <= now) total += tokens; });
    return total * 60 / BURN_WINDOW_S;
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
    renderGantt(lanes, now);
    renderCards(lanes, now);
    renderErrors();
    renderBurn(now);
    if (S.selected) renderDetail(S.lanes.get(S.selected), now);
  }

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function renderSummary(lanes, now) {
    var summary = S.summary || {};
    var elapsed = S.finished && summary.total_wall_ms ? summary.total_wall_ms
      : S.t0 === null ? NaN : (now - S.t0) * 1000;
    setText("elapsed", fmtMs(elapsed));
    var current = "-";
    S.phases.forEach(function (p, name) { if (p.end === null) current = name; });
    if (current === "-" && S.lastMilestone) current = S.lastMilestone;
    setText("current-phase", S.finished ? "finished" : current);
    var pct, label;
    if (S.plan.planned > 0) {
      pct = S.plan.done / S.plan.planned; label = "complete (planned agents done " + S.plan.done + "/" + S.plan.planned + ")";
    } else {
      var done = 0;
      S.phases.forEach(function (p) { if (p.end !== null) done += 1; });
      pct = S.phases.size ? done / S.phases.size : (S.finished ? 1 : 0);
      label = "complete (phases done/known " + done + "/" + S.phases.size + ")";
    }
    if (S.finished) pct = Math.max(pct, S.plan.planned > 0 ? pct : 1);
    setText("complete", Math.round(pct * 100) + "%");
    setText("complete-label", label);
    d3.select("#complete-bar").style("width", Math.round(pct * 100) + "%");
    var active = lanes.filter(function (l) { var st = laneStatus(l, now); return st === "running" || st === "stalled"; }).length;
    setText("active", String(active));
    setText("tokens-total", fmtInt(S.totalTokens));
    setText("run-status", S.finished ? (summary.status || "done") : "running");
    var mode = document.getElementById("mode");
    mode.textContent = S.dead ? "ended (processes gone)" : S.finished ? "report" : "live";
    mode.className = "mode" + (S.finished ? "" : " live");
    setText("run-id", S.runId || "");
    setText("query", (S.runStart && S.runStart.query) || "");
  }

  function phaseColor(phase) {
    var i = S.phaseOrder.indexOf(phase);
    return d3.schemeTableau10[(i < 0 ? 9 : i) % 10];
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
    svg.selectAll("clipPath").data([0]).join("clipPath").attr("id", "bars-clip")
      .selectAll("rect").data([0]).join("rect").attr("x", LABEL_W).attr("y", 0).attr("width", clipW).attr("height", layout.height);

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
        return g;
      })
      .attr("data-span-id", function (r) { return r.lane.span_id; })
      .attr("data-phase", function (r) { return r.lane.phase; })
      .attr("data-status", function (r) { return laneStatus(r.lane, now); })
      .attr("transform", function (r) { return "translate(0," + r.y + ")"; });
    row.select("text.lane-label").text(function (r) { return r.lane.name; });
    row.select("rect.bar")
      .attr("class", function (r) {
        var st = laneStatus(r.lane, now);
        return "bar " + st + (S.selected === r.lane.id ? " selected" : "");
      })
      .attr("fill", function (r) { return r.lane.status === "queued" ? "none" : phaseColor(r.lane.phase); })
      .attr("x", function (r) { return r.lane.start_ts === null ? x((now - t0) * 1000) : x((r.lane.start_ts - t0) * 1000); })
      .attr("width", function (r) {
        var l = r.lane;
        if (l.start_ts === null) return 24;
        var end = l.end_ts === null || l.end_ts === undefined ? now : l.end_ts;
        return Math.max(2, x((end - t0) * 1000) - x((l.start_ts - t0) * 1000));
      });
    row.selectAll("title").data(function (r) { return [r]; }).join("title")
      .text(function (r) { return r.lane.name + " (" + laneStatus(r.lane, now) + ")"; });

    if (!zoom) {
      zoom = d3.zoom().scaleExtent([1, 5000])
        .filter(function (event) { return event.type === "wheel" ? (event.ctrlKey || event.shiftKey) : !event.button; })
        .on("zoom", function (event) { zoomT = event.transform; dirty = true; });
      svg.call(zoom).on("dblclick.zoom", null);
    }
    zoom.extent([[LABEL_W, 0], [width - 10, layout.height]]).translateExtent([[LABEL_W, 0], [width - 10, layout.height]]);
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
      return st + el + (l.cost_usd ? ", $" + l.cost_usd.toFixed(4) : "");
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
        return li;
      })
      .attr("class", function (e) { return e ? "error" : "none"; })
      .attr("data-span-id", function (e) { return e ? e.span_id : null; });
    items.select(".name").text(function (e) { return e ? e.name + (e.kind ? " (" + e.kind + ")" : "") : "No errors."; });
    items.select(".msg").text(function (e) { return e ? (e.type ? e.type + ": " : "") + (e.message || "") : ""; });
  }

  function renderBurn(now) {
    setText("burn-rate", fmtInt(Math.round(burnRate(now))));
    var svg = d3.select("#burn-chart"), w = +svg.attr("width"), h = +svg.attr("height");
    if (S.t0 === null) return;
    var start = Math.floor(S.t0), end = Math.floor(now), step = Math.max(1, Math.ceil((end - start) / 150));
    var pts = [];
    for (var t = start; t <= end; t += step) pts.push([t, burnRate(t)]);
    if (pts.length < 2) pts = [[start, 0], [start + 1, burnRate(now)]];
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

  var refetchTimer = null;
  function refetchSoon() {
    // A process ended: the run may be finished. The server's summary then is the
    // authority (subtree sums, errors, stalls); once finished, stop streaming.
    if (refetchTimer) return;
    var runId = S.runId;
    refetchTimer = setTimeout(function () {
      refetchTimer = null;
      getJSON("/api/runs/" + encodeURIComponent(runId) + "/snapshot").then(function (snap) {
        if (!S || S.runId !== runId || !snap.summary) return;
        if (snap.summary.status && snap.summary.status !== "incomplete") {
          reconcile(snap.summary);
          stopStream();
          dirty = true;
        }
      }).catch(function () {});
    }, 300);
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
        if (S.runStart && ev.pid === S.runStart.pid) { S.finished = true; stopStream(); dirty = true; }
        refetchSoon();
      }
    };
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
      window.history.replaceState(null, "", url.toString());
    }
    getJSON("/api/runs/" + encodeURIComponent(runId) + "/snapshot").then(function (snap) {
      if (!S || S.runId !== runId) return;
      var offset = snap.offset || 0;
      var done = snap.summary && snap.summary.status && snap.summary.status !== "incomplete";
      if (done && offset <= REPLAY_LIMIT) {
        // A finished run of modest size is replayed as a report: its lines give the
        // child calls (ticks) and the burn history that the snapshot folds away.
        loadSnapshot({ summary: snap.summary, lanes: [] });
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
    picker.on("change", function () { openRun(this.value); });
    getJSON("/api/runs").then(function (runs) {
      var wanted = new URL(window.location.href).searchParams.get("run");
      picker.selectAll("option").data(runs, function (r) { return r.run_id; }).join("option")
        .attr("value", function (r) { return r.run_id; })
        .text(function (r) {
          return r.run_id + " - " + (r.status || "") + (r.query ? " - " + String(r.query).slice(0, 60) : "");
        });
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
