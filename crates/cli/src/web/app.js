// Lookout's page: views over the daemon's JSON API, routed by the URL's hash
// (#/traces/ID is a link a person can paste), lists refreshed every few seconds.

const REFRESH_MS = 5000;
const main = document.getElementById("main");
const statusLine = document.getElementById("status");
let refreshTimer = null;
let renderToken = 0;

// ---- Building blocks ------------------------------------------------------------

/** An element: `h("a", {href: "#/"}, "text", child)`; text is never parsed as HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** An SVG element. */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  el.append(...children);
  return el;
}

/** GET a path of the API as JSON; the token (when the daemon asks for one) sent along. */
async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem("lookout-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers });
  if (response.status === 401) throw new NeedsToken();
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = body && body.error;
    throw new Error(error ? `${error.code}: ${error.message}` : `HTTP ${response.status}`);
  }
  return body;
}

class NeedsToken extends Error {}

/** Milliseconds since the epoch of an RFC 3339 time, to the microsecond. */
function millis(text) {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(text || "");
  if (!m) return Date.parse(text);
  return Date.parse(m[1] + m[3]) + (m[2] ? parseFloat(m[2]) * 1000 : 0);
}

function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms * 1000)} µs`;
}

function when(text) {
  return text ? text.replace("T", " ").replace(/\.\d+/, "").replace("Z", "") : "";
}

function number(n, digits = 0) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en", {
    maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function percent(share) {
  return share === null || share === undefined ? "–" : `${(share * 100).toFixed(1)}%`;
}

function statusCell(status) {
  return h("span", { class: `status-${status || "unknown"}` }, status || "");
}

function table(headers, rows) {
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, headers.map((head) =>
      h("th", { class: head.num ? "num" : null, scope: "col" }, head.name ?? head)))),
    h("tbody", {}, rows)));
}

function td(content, num = false) {
  return h("td", { class: num ? "num" : null }, content);
}

function card(label, value) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

function traceLink(id, text) {
  return h("a", { href: `#/traces/${encodeURIComponent(id)}`, class: "mono" }, text ?? id.slice(0, 16));
}

/** The hash's route: its path parts and its query parameters. */
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

/** Points the hash at `path` with the non-empty `params`, without a new history entry. */
function replaceParams(path, params) {
  const kept = new URLSearchParams();
  for (const [key, value] of params) if (value) kept.set(key, value);
  const query = kept.toString();
  history.replaceState(null, "", `#/${path}${query ? `?${query}` : ""}`);
}

/** A filter form: its fields' values kept in the URL; `apply` runs on each change. */
function filters(fields, params, apply) {
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); apply(); } });
  for (const field of fields) {
    const value = params.get(field.name) || "";
    const input = field.options
      ? h("select", { name: field.name }, h("option", { value: "" }, "any"),
        field.options.map((o) => h("option", { value: o, selected: o === value }, o)))
      : h("input", { name: field.name, value, placeholder: field.placeholder || "", size: field.size || 14 });
    input.addEventListener("change", apply);
    form.append(h("label", {}, field.label, input));
  }
  form.append(h("button", { type: "submit" }, "Apply"));
  return form;
}

function formParams(form) {
  return new URLSearchParams([...new FormData(form)].filter(([, v]) => v !== ""));
}

// ---- Views ----------------------------------------------------------------------

const views = {
  async overview() {
    const o = await api("/api/v1/overview?since=24h");
    const runs = Object.values(o.runs).reduce((a, b) => a + b, 0);
    const body = h("div", {},
      h("h1", {}, "Last 24 hours"),
      h("div", { class: "cards" },
        card("Runs", number(runs)),
        card("Run success rate", percent(o.run_success_rate)),
        card("Active agents", number(o.agents.length)),
        card("Span error rate", percent(o.error_rate)),
        card("Tokens", number(o.input_tokens + o.output_tokens)),
        card("Cost (USD)", o.cost ? `$${o.cost.toFixed(4)}` : "$0")),
      o.agents.length ? h("p", { class: "muted" }, `Agents: ${o.agents.join(", ")}`) : null,
      h("div", { class: "grid2" },
        h("section", {}, h("h2", {}, "Slowest tools"), o.slowest_tools.length
          ? table(["tool", { name: "calls", num: true }, { name: "failures", num: true },
            { name: "mean", num: true }, { name: "max", num: true }],
          o.slowest_tools.map((t) => h("tr", {}, td(t.tool), td(number(t.calls), true),
            td(number(t.failures), true), td(duration(t.avg_duration_ms), true), td(duration(t.max_duration_ms), true))))
          : h("p", { class: "muted" }, "No tool calls.")),
        h("section", {}, h("h2", {}, "Runs by status"), table(["status", { name: "runs", num: true }],
          Object.entries(o.runs).map(([status, n]) => h("tr", {}, td(statusCell(status)), td(number(n), true)))))),
      h("div", { class: "grid2" },
        h("section", {}, h("h2", {}, h("a", { href: "#/traces" }, "Recent traces")), traceTable(o.recent_traces)),
        h("section", {}, h("h2", {}, h("a", { href: "#/runs" }, "Recent runs")), runTable(o.recent_runs))));
    return { body, live: true };
  },

  async runs(parts, params) {
    if (parts.length) return runView(parts[0]);
    const [agents, jobs] = await Promise.all([
      api("/api/v1/metadata/agent_name").catch(() => []),
      api("/api/v1/metadata/job_type").catch(() => []),
    ]);
    const list = h("div", { id: "runs-list" });
    const form = filters([
      { name: "agent_name", label: "agent", options: values(agents) },
      { name: "job_type", label: "job", options: values(jobs) },
      { name: "status", label: "status", options: ["running", "success", "failed", "partial", "cancelled", "abandoned"] },
      { name: "since", label: "since (RFC 3339)", placeholder: "2026-01-31T00:00:00Z", size: 22 },
    ], params, () => { replaceParams("runs", formParams(form)); load(); });
    async function load() {
      const query = formParams(form);
      query.set("limit", "200");
      list.replaceChildren(runTable((await api(`/api/v1/runs?${query}`)).runs));
    }
    await load();
    return { body: h("div", {}, h("h1", {}, "Runs"), form, list), live: load };
  },

  async traces(parts, params) {
    if (parts.length) return traceView(parts[0]);
    const list = h("div", { id: "traces-list" });
    const form = filters([
      { name: "name", label: "root name contains" },
      { name: "status", label: "status", options: ["ok", "error"] },
      { name: "since", label: "since (RFC 3339)", placeholder: "2026-01-31T00:00:00Z", size: 22 },
    ], params, () => { replaceParams("traces", formParams(form)); load(); });
    async function load() {
      const query = formParams(form);
      query.set("limit", "200");
      list.replaceChildren(traceTable(await api(`/api/v1/traces?${query}`)));
    }
    await load();
    return { body: h("div", {}, h("h1", {}, "Traces"), form, list), live: load };
  },

  async sessions(parts) {
    if (parts.length) return sessionView(parts[0]);
    const list = h("div", { id: "sessions-list" });
    async function load() {
      const sessions = await api("/api/v1/sessions?limit=200");
      list.replaceChildren(sessions.length ? table(["session", "skill", "started", "state",
        { name: "events", num: true }, { name: "tool calls", num: true }],
      sessions.map((x) => h("tr", {},
        td(h("a", { href: `#/sessions/${encodeURIComponent(x.session_id)}`, class: "mono" }, x.session_id)),
        td(x.skill_name || ""), td(when(x.start_time)),
        td(x.open ? statusCell("running") : statusCell(x.success ? "success" : "failed")),
        td(number(x.events), true), td(number(x.tool_calls), true))))
        : h("p", { class: "muted" }, "No sessions yet."));
    }
    await load();
    return { body: h("div", {}, h("h1", {}, "Sessions"), list), live: load };
  },

  async skills() {
    const list = h("div", { id: "skills" });
    async function load() {
      const { entries, analysis } = await api("/api/v1/skills?limit=200");
      const m = analysis.metrics;
      list.replaceChildren(
        h("div", { class: "cards" },
          card("Executions", number(analysis.sessions_analyzed)),
          card("Success rate", `${m.success_rate.toFixed(1)}%`),
          card("Mean duration", duration(m.avg_duration_ms)),
          card("Tool calls", number(m.total_tool_calls))),
        h("h2", {}, "Per skill"),
        table(["skill", { name: "invocations", num: true }, { name: "success rate", num: true },
          { name: "mean duration", num: true }, { name: "tool calls", num: true }],
        Object.entries(analysis.per_skill).map(([skill, f]) => h("tr", {}, td(skill || "(no skill)"),
          td(number(f.invocations), true), td(`${f.success_rate.toFixed(1)}%`, true),
          td(duration(f.avg_duration_ms), true), td(number(f.total_tool_calls), true)))),
        h("h2", {}, "Entries"),
        entries.length ? table(["time", "skill", "status", { name: "duration", num: true }, "agent"],
          entries.map((e) => h("tr", {}, td(when(e.timestamp)), td(e.skill || ""), td(statusCell(e.status)),
            td(duration(e.duration_ms), true), td(e.agent || ""))))
          : h("p", { class: "muted" }, "No skill entries yet."));
    }
    await load();
    return { body: h("div", {}, h("h1", {}, "Skills"), list), live: load };
  },

  async metrics(parts, params) {
    const families = await api("/api/v1/families");
    const chart = h("div", { id: "chart" });
    // A histogram is offered once, by its family name, answered as percentiles.
    const names = [];
    const byName = new Map();
    for (const f of families) {
      if (f.name.endsWith("_bucket") && f.labels.le) {
        const base = f.name.slice(0, -"_bucket".length);
        byName.set(base, { ...f, name: base, histogram: true });
        names.push(base);
      } else if (!(/_(sum|count)$/.test(f.name) && byName.has(f.name.replace(/_(sum|count)$/, "")))) {
        byName.set(f.name, f);
        names.push(f.name);
      }
    }
    const form = h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); apply(); } });
    const metric = h("select", { name: "metric", onchange: () => { labels(); apply(); } },
      names.map((n) => h("option", { value: n, selected: n === params.get("metric") }, n)));
    const agg = h("select", { name: "agg", onchange: () => apply() },
      ["avg", "sum", "min", "max", "count"].map((a) => h("option", { value: a, selected: a === params.get("agg") }, a)));
    const since = h("select", { name: "since", onchange: () => apply() },
      ["1h", "6h", "24h", "7d"].map((a) => h("option", { value: a, selected: a === (params.get("since") || "1h") }, a)));
    const labelBox = h("span", { class: "label-filters" });
    form.append(h("label", {}, "metric", metric), h("label", {}, "aggregation", agg),
      h("label", {}, "range", since), labelBox);
    function labels() {
      const family = byName.get(metric.value);
      agg.disabled = Boolean(family && family.histogram);
      labelBox.replaceChildren(...Object.entries(family ? family.labels : {}).filter(([k]) => k !== "le")
        .map(([key, options]) => h("label", {}, key, h("select", { name: `label.${key}`, onchange: () => apply() },
          h("option", { value: "" }, "any"),
          options.map((o) => h("option", { value: o, selected: o === params.get(`label.${key}`) }, o))))));
    }
    async function apply() {
      const query = formParams(form);
      replaceParams("metrics", query);
      const family = byName.get(metric.value);
      if (!family) { chart.replaceChildren(h("p", { class: "muted" }, "No metrics stored yet.")); return; }
      const range = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 }[since.value];
      query.set("interval", `${Math.max(60, Math.round(range / 120))}s`);
      const aggs = family.histogram ? ["p50", "p95", "p99"] : [agg.value];
      const answers = await Promise.all(aggs.map((a) => {
        query.set("agg", a);
        return api(`/api/v1/query?${query}`);
      }));
      // A series is named by the labels that tell it from the others (all of them when
      // it is alone).
      const all = answers.flat();
      const keys = [...new Set(all.flatMap((one) => Object.keys(one.labels)))];
      const telling = all.length > 1 ? keys.filter((k) => new Set(all.map((one) => one.labels[k])).size > 1) : keys;
      const lines = answers.flatMap((series, i) => series.map((one) => ({
        label: [aggs[i], ...telling.filter((k) => Object.hasOwn(one.labels, k)).map((k) => `${k}=${one.labels[k]}`)].join(" "),
        points: one.points.map((p) => [millis(p.time), p.value]),
      })));
      chart.replaceChildren(lineChart(lines), legendOf(lines));
    }
    labels();
    await apply();
    return { body: h("div", {}, h("h1", {}, "Metrics"), form, chart), live: apply };
  },
};

function values(list) {
  return (Array.isArray(list) ? list : list.values || []).map(String);
}

function traceTable(traces) {
  if (!traces.length) return h("p", { class: "muted" }, "No traces yet.");
  return table(["trace", "root", "service", "start", { name: "duration", num: true },
    { name: "spans", num: true }, { name: "errors", num: true }],
  traces.map((t) => h("tr", {}, td(traceLink(t.trace_id)), td(t.root_name), td(t.service_name || ""),
    td(when(t.start)), td(duration(t.duration_ms), true), td(number(t.spans), true),
    td(t.errors ? h("span", { class: "status-error" }, number(t.errors)) : "0", true))));
}

function runTable(runs) {
  if (!runs.length) return h("p", { class: "muted" }, "No runs match.");
  return table(["run", "agent", "job", "status", "start", { name: "duration", num: true }, "commit"],
    runs.map((r) => h("tr", { class: "run" }, td(h("a", { href: `#/runs/${encodeURIComponent(r.run_id)}`, class: "mono" }, r.run_id.slice(0, 12))),
      td(r.agent_name || ""), td(r.job_type || ""), td(statusCell(r.status)), td(when(r.start_time)),
      td(duration(r.duration_ms), true), td(h("span", { class: "mono" }, (r.git_commit_hash || "").slice(0, 10))))));
}

async function runView(id) {
  const run = await api(`/api/v1/runs/${encodeURIComponent(id)}`);
  const commit = run.git_commit_hash
    ? await api(`/api/v1/runs/${encodeURIComponent(id)}/commit-url`).catch(() => null) : null;
  const events = run.events || [];
  const fields = Object.entries(run).filter(([key]) => key !== "events");
  const body = h("div", {},
    h("h1", {}, `Run ${run.run_id}`),
    h("p", {}, statusCell(run.status), " ", run.agent_name || "", " · ", run.job_type || "",
      run.trace_id ? [" · ", traceLink(run.trace_id, "its trace")] : null,
      commit && commit.commit_url ? [" · ", h("a", { href: commit.commit_url, rel: "noopener" }, "its commit")] : null),
    h("dl", { class: "fields" }, fields.map(([key, value]) => [h("dt", {}, key),
      h("dd", { class: typeof value === "string" && /^[0-9a-f]{16,}$/.test(value) ? "mono" : null },
        typeof value === "object" && value !== null ? JSON.stringify(value) : String(value))])),
    h("h2", {}, "Events"),
    events.length ? table(["time", "name", "payload"], events.map((e) => h("tr", {}, td(when(e.time)), td(e.name),
      td(h("code", {}, JSON.stringify(e.payload)))))) : h("p", { class: "muted" }, "No events."));
  return { body, live: false };
}

// ---- The waterfall ------------------------------------------------------------------

/** The spans of a trace as a tree in display order, each with its depth, and the
 *  critical path: from the root that ends last, the child that ends last, then the one
 *  that ends before that one starts, and so on down (what set the trace's duration). */
export function layout(spans) {
  const byId = new Map(spans.map((x) => [x.span_id, { ...x, startMs: millis(x.start), children: [] }]));
  const roots = [];
  for (const span of byId.values()) {
    span.endMs = span.startMs + span.duration_ms;
    const parent = span.parent_span_id && byId.get(span.parent_span_id);
    (parent ? parent.children : roots).push(span);
  }
  const order = [];
  const visit = (span, depth) => {
    span.depth = depth;
    order.push(span);
    span.children.sort((a, b) => a.startMs - b.startMs);
    for (const child of span.children) visit(child, depth + 1);
  };
  roots.sort((a, b) => a.startMs - b.startMs);
  for (const root of roots) visit(root, 0);
  const critical = new Set();
  const walk = (span) => {
    critical.add(span.span_id);
    let cursor = span.endMs;
    for (const child of [...span.children].sort((a, b) => b.endMs - a.endMs)) {
      if (child.endMs <= cursor + 1e-6) {
        walk(child);
        cursor = child.startMs;
      }
    }
  };
  if (roots.length) walk(roots.reduce((a, b) => (b.endMs > a.endMs ? b : a)));
  const start = Math.min(...order.map((x) => x.startMs));
  const end = Math.max(...order.map((x) => x.endMs));
  return { order, critical, start, total: Math.max(end - start, 1e-3) };
}

async function traceView(id) {
  const trace = await api(`/api/v1/traces/${encodeURIComponent(id)}`);
  const { order, critical, start, total } = layout(trace.spans);
  const detail = h("section", { id: "detail", "aria-live": "polite" });
  const rows = document.createDocumentFragment();
  let selected = null;
  for (const span of order) {
    const left = ((span.startMs - start) / total) * 100;
    const width = (span.duration_ms / total) * 100;
    const row = h("button", {
      type: "button",
      class: `row${critical.has(span.span_id) ? " critical" : ""}`,
      dataset: { spanId: span.span_id, depth: span.depth, left: left.toFixed(4), width: width.toFixed(4) },
      "aria-label": `${span.name}, ${duration(span.duration_ms)}, ${span.status}`,
      onclick: () => {
        if (selected) selected.classList.remove("selected");
        selected = row;
        row.classList.add("selected");
        detail.replaceChildren(spanDetail(span));
      },
    },
    h("span", { class: "name", style: { paddingLeft: `${span.depth * 14}px` }, title: span.name }, span.name),
    h("span", { class: "track" }, h("span", {
      class: `bar${span.status === "error" ? " error" : ""}`,
      style: { left: `${left}%`, width: `${width}%` },
    })),
    h("span", { class: "dur" }, duration(span.duration_ms)));
    rows.append(row);
  }
  const services = [...new Set(order.map((x) => x.service_name).filter(Boolean))];
  const body = h("div", {},
    h("h1", {}, order.length ? order[0].name : "Trace"),
    h("p", { class: "muted" }, h("span", { class: "mono" }, trace.trace_id), ` · ${order.length} spans · `,
      duration(total), services.length ? ` · ${services.join(", ")}` : ""),
    h("div", { class: "legend" },
      h("span", {}, h("span", { class: "swatch", style: { background: "var(--ok)" } }), "ok"),
      h("span", {}, h("span", { class: "swatch", style: { background: "var(--error)" } }), "error"),
      h("span", {}, h("span", { class: "swatch", style: { background: "var(--critical)" } }), "critical path")),
    h("div", { class: "waterfall", role: "list" }, rows),
    detail);
  return { body, live: false, mark: "trace-rendered" };
}

function spanDetail(span) {
  const attributes = Object.entries(span.attributes || {});
  return h("div", { class: "card" },
    h("h2", {}, span.name),
    h("dl", { class: "fields" },
      [["span", span.span_id], ["parent", span.parent_span_id || "(root)"], ["service", span.service_name || ""],
        ["kind", span.kind], ["status", span.status + (span.status_message ? `: ${span.status_message}` : "")],
        ["start", span.start], ["duration", duration(span.duration_ms)]]
        .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h2", {}, "Attributes"),
    attributes.length ? table(["name", "value"], attributes.map(([k, v]) => h("tr", {}, td(h("code", {}, k)),
      td(typeof v === "string" ? v : JSON.stringify(v))))) : h("p", { class: "muted" }, "None."),
    h("h2", {}, "Events"),
    (span.events || []).length ? table(["time", "name", "attributes"], span.events.map((e) => h("tr", {},
      td(when(e.time)), td(e.name), td(h("code", {}, JSON.stringify(e.attributes)))))) : h("p", { class: "muted" }, "None."));
}

// ---- A session as a conversation -----------------------------------------------------

async function sessionView(id) {
  const session = await api(`/api/v1/sessions/${encodeURIComponent(id)}`);
  const messages = [];
  if (session.prompt) messages.push(h("div", { class: "message user" }, h("div", { class: "meta" }, "prompt"), h("pre", {}, session.prompt)));
  for (const event of session.events || []) {
    const type = event.event_type || "";
    const kind = type.startsWith("tool.") ? "tool" : type.startsWith("llm.") ? "llm" : type === "error" ? "error" : "";
    const data = event.data || {};
    const summary = type === "tool.called" ? `${data.tool} ${JSON.stringify(data.args ?? {})}`
      : type === "tool.completed" ? `${data.tool}: ${data.success === false ? `failed ${data.error || ""}` : "ok"}`
        : type === "llm.request" ? `${data.model || ""} · ${number(data.tokens)} tokens`
          : type === "llm.response" ? `${data.model || ""} · ${duration(data.latency_ms)}`
            : type === "skill.invoked" ? event.skill_name || data.skill_name || ""
              : JSON.stringify(data);
    messages.push(h("div", { class: `message ${kind}`, dataset: { type } },
      h("div", { class: "meta" }, `${when(event.timestamp)} · ${type}`), h("pre", {}, summary)));
  }
  if (session.output) messages.push(h("div", { class: "message" }, h("div", { class: "meta" }, "output"), h("pre", {}, session.output)));
  if (session.error) messages.push(h("div", { class: "message error" }, h("div", { class: "meta" }, "error"), h("pre", {}, session.error)));
  const state = session.open ? statusCell("running") : statusCell(session.success ? "success" : "failed");
  const body = h("div", {},
    h("h1", {}, `Session ${session.session_id}`),
    h("p", {}, state, session.skill_name ? ` · ${session.skill_name}` : "", ` · started ${when(session.start_time)}`),
    h("div", { class: "conversation" }, messages));
  return { body, live: session.open ? () => render() : false };
}

// ---- A chart --------------------------------------------------------------------------

const COLOURS = ["#2f6fde", "#d64545", "#2e9d5b", "#c88a12", "#7b3fe4", "#0f9fb5", "#b5487e", "#6d7b2b"];

function lineChart(lines) {
  const width = 900, height = 260, pad = { l: 56, r: 12, t: 12, b: 24 };
  const points = lines.flatMap((l) => l.points).filter(([, y]) => y !== null && Number.isFinite(y));
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "chart" });
  if (!points.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no points in this range"));
    return svg;
  }
  const xs = points.map(([x]) => x), ys = points.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
  let [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  if (y1 === y0) y1 = y0 + 1;
  const x = (v) => pad.l + ((v - x0) / Math.max(x1 - x0, 1)) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - ((v - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    svg.append(s("line", { class: "grid", x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }),
      s("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end" }, number(v, v < 10 ? 2 : 0)));
  }
  for (const t of [x0, (x0 + x1) / 2, x1]) {
    svg.append(s("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, new Date(t).toISOString().slice(11, 16)));
  }
  lines.forEach((line, i) => {
    const drawn = line.points.filter(([, v]) => v !== null && Number.isFinite(v));
    const d = drawn.map(([px, py], j) => `${j ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join("");
    svg.append(s("path", { class: "line", d, stroke: COLOURS[i % COLOURS.length] }));
    // A lone point draws no line: a dot shows it.
    if (drawn.length === 1) {
      svg.append(s("circle", { class: "dot", cx: x(drawn[0][0]), cy: y(drawn[0][1]), r: 3, fill: COLOURS[i % COLOURS.length] }));
    }
  });
  return svg;
}

function legendOf(lines) {
  return h("div", { class: "legend" }, lines.map((line, i) => h("span", {},
    h("span", { class: "swatch", style: { background: COLOURS[i % COLOURS.length] } }), line.label)));
}

// ---- Routing --------------------------------------------------------------------------

function tokenForm(retry) {
  const input = h("input", { type: "password", name: "token", autocomplete: "off", size: 40 });
  return h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    sessionStorage.setItem("lookout-token", input.value);
    retry();
  } }, h("label", {}, "This daemon asks for its token (--token)", input), h("button", { type: "submit" }, "Use it"));
}

async function render() {
  const token = ++renderToken;
  clearInterval(refreshTimer);
  const { parts, params } = route();
  const view = views[parts[0]] ? parts[0] : "overview";
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.dataset.view === view);
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
  }
  document.title = `Lookout · ${view}`;
  try {
    const shown = await views[view](parts.slice(1), params);
    if (token !== renderToken) return;
    main.replaceChildren(shown.body);
    if (shown.mark) performance.mark(shown.mark);
    statusLine.textContent = `updated ${new Date().toLocaleTimeString()}`;
    if (shown.live) {
      const refresh = shown.live === true ? render : shown.live;
      refreshTimer = setInterval(() => {
        if (document.visibilityState !== "visible") return;
        Promise.resolve(refresh()).then(() => {
          statusLine.textContent = `updated ${new Date().toLocaleTimeString()}`;
        }, (e) => { statusLine.textContent = `refresh failed: ${e.message}`; });
      }, REFRESH_MS);
    }
  } catch (error) {
    if (token !== renderToken) return;
    main.replaceChildren(error instanceof NeedsToken ? tokenForm(render)
      : h("div", { class: "error-box", role: "alert" }, error.message));
  }
}

window.addEventListener("hashchange", () => { render(); main.focus(); });
render();
