// runner dashboard: renders /api/status, then follows /events (server-sent events); charts of
// the last deploy's analysis from /api/history with uPlot. No framework, no network but this
// server's.
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role") node.setAttribute(k, v); else node[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
};
const charts = {};
let lastJournal = {};
const journalCache = {};
window.runnerLoadedAt = Date.now();

function row(dl, term, value, cls, field) {
  dl.append(el("dt", {}, term), el("dd", Object.assign(cls ? { class: cls } : {}, field ? { "data-field": field } : {}), value));
}

function renderEnv(env, actions) {
  const name = env.environment;
  const section = el("section", { class: "env", "data-env": name, "aria-labelledby": "h-" + name });
  section.append(el("h2", { id: "h-" + name }, name));
  if (env.error) { section.append(el("p", { class: "bad" }, env.error)); return section; }
  const dl = el("dl");
  if (env.in_doubt) row(dl, "serving", "IN DOUBT: " + env.in_doubt, "bad", "serving");
  else row(dl, "serving", env.current_version || "nothing deployed", env.current_version ? "ok" : "", "serving");
  row(dl, "previous", env.previous_version || "none");
  const last = env.last_deploy;
  if (last) {
    const by = last.approved_by ? `${last.actor} (approved by ${last.approved_by})` : last.actor;
    row(dl, "last " + last.kind, `${last.version} ${last.result} at ${last.started_at} by ${by}`, last.result === "succeeded" ? "" : "warn");
  }
  if (env.running) {
    row(dl, "in progress", `${env.running.kind} of ${env.running.release}: phase ${env.running.phase} (by ${env.running.actor})`, "warn", "running");
    // The phases it went through so far, as the journal row records them while it runs.
    const done = last && last.id === env.running.deploy_id ? last.phases || [] : [];
    const steps = done.map((p) => el("li", { class: p.status === "ok" ? "ok" : p.status === "failed" ? "bad" : "" }, `${p.phase}: ${p.status}, ${(p.duration_ms / 1000).toFixed(1)} s${p.detail ? " (" + p.detail + ")" : ""}`));
    steps.push(el("li", { class: "warn", "aria-current": "step" }, `${env.running.phase}: now`));
    section.append(el("h3", {}, "phases of the run in progress"), el("ol", { "data-field": "phases" }, steps));
  }
  if (env.paused) row(dl, "canary", `${env.paused.release} at ${env.paused.percent}% — waits for promote or abort`, "warn", "canary");
  if (env.health) row(dl, "health", env.health.ok === false ? "failing" : "ok", env.health.ok === false ? "bad" : "ok");
  const m = env.migrations || {};
  row(dl, "migrations", `${m.applied ?? 0} applied, ${m.pending ?? 0} pending`, m.unfinished && m.unfinished.length ? "bad" : "");
  if (env.lock_holder) row(dl, "lock", "held by " + (env.lock_holder.holder || JSON.stringify(env.lock_holder)), "warn");
  section.append(dl);
  for (const u of (m.unfinished || [])) section.append(el("p", { class: "bad" }, `V${u.version} ${u.name}: ${u.state} — ${u.detail}`));
  if (env.servers && env.servers.length) {
    const t = el("table", {}, el("caption", { class: "visually-hidden" }, "servers of " + name),
      el("thead", {}, el("tr", {}, ["server", "slot", "release", "weight", "state", "health"].map((h) => el("th", { scope: "col" }, h)))));
    const body = el("tbody");
    for (const s of env.servers) {
      const health = s.health ? (s.health.ok === false ? "failing" : "ok") : "-";
      body.append(el("tr", { "data-server": s.name }, el("td", {}, s.name), el("td", {}, s.slot ?? "-"), el("td", {}, s.release ?? "-"),
        el("td", { "data-field": "weight" }, s.router ? (s.router.weight ?? "-") : "-"), el("td", {}, s.stopped ? "stopped" : (s.router ? `${s.router.admin}, ${s.router.sessions} in flight` : "-")), el("td", { class: health === "failing" ? "bad" : "" }, health)));
    }
    t.append(body);
    section.append(el("h3", {}, "servers"), t);
  }
  if (env.checklist && env.checklist.length) {
    section.append(el("h3", {}, "after the deploy"), el("ul", {}, env.checklist.map((c) => el("li", { class: c.verdict === "fail" ? "bad" : c.verdict === "pass" ? "ok" : "" }, `${c.item}: ${c.verdict}${c.evidence ? " (" + c.evidence + ")" : ""}`))));
  }
  if (env.measured_at) section.append(el("p", { class: "muted" }, "servers and metrics measured at " + new Date(env.measured_at).toLocaleTimeString()));
  else if (env.servers && env.servers.length) section.append(el("p", { class: "muted" }, "measuring the servers and metrics…"));
  if (env.flag_debt && env.flag_debt.length) section.append(el("h3", {}, "flags"), el("ul", {}, env.flag_debt.map((f) => el("li", {}, typeof f === "string" ? f : JSON.stringify(f)))));
  const chart = el("div", { class: "chart", id: "chart-" + name, "aria-label": "metrics of the last deploy in " + name });
  section.append(el("h3", {}, "analysis of the last rollout"), chart, el("h3", {}, "journal"), el("ol", { id: "journal-" + name }));
  if (actions) section.append(actionForm(name));
  return section;
}

function actionForm(env) {
  const approver = el("input", { name: "approver", required: true, autocomplete: "name" });
  const secret = el("input", { name: "token", type: "password", required: true, autocomplete: "off" });
  const form = el("form", { class: "actions", "aria-label": "actions on " + env },
    el("label", {}, "approver", approver), el("label", {}, "token", secret));
  for (const action of ["promote", "abort", "rollback"]) {
    form.append(el("button", { type: "submit", value: action, "aria-label": `${action} ${env}` }, action));
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const action = e.submitter ? e.submitter.value : "promote";
    if (!confirm(`${action} ${env}?`)) return;
    const r = await fetch(withToken("/api/action"), { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action, env, approver: approver.value, token: secret.value }) });
    const body = await r.json();
    document.getElementById("message").textContent = body.error || `${body.command}: exit ${body.exit_code}\n${body.stderr || body.stdout}`;
  });
  return form;
}

async function journal(env, last) {
  const key = last ? last.id + last.result + (last.phase || "") : "none";
  let runs = journalCache[env];
  if (lastJournal[env] !== key || !runs) {
    lastJournal[env] = key;
    const r = await fetch(withToken("/api/history?env=" + encodeURIComponent(env)));
    if (!r.ok) return;
    runs = journalCache[env] = await r.json();
  }
  const list = document.getElementById("journal-" + env);
  if (list) {
    list.replaceChildren(...runs.slice(0, 10).map((run) => el("li", {},
      `${run.kind} ${run.version}: ${run.result}, ${run.started_at}${run.duration_ms != null ? `, ${(run.duration_ms / 1000).toFixed(1)} s` : ""}` +
      (run.phases && run.phases.length ? ` — ${run.phases.map((p) => p.phase).join(" → ")}` : ""))));
  }
  const withAnalysis = runs.find((run) => run.analysis && run.analysis.length);
  drawCharts(env, withAnalysis ? withAnalysis.analysis : []);
}

function drawCharts(env, evaluations) {
  const box = document.getElementById("chart-" + env);
  if (!box) return;
  // uPlot loads after the first render (deferred): the charts follow it.
  if (!window.uPlot) { addEventListener("load", () => drawCharts(env, evaluations), { once: true }); return; }
  for (const c of charts[env] || []) c.destroy();
  charts[env] = [];
  box.replaceChildren();
  if (!evaluations.length) { box.append(el("p", {}, "no analysis recorded yet")); return; }
  const metrics = [...new Set(evaluations.flatMap((e) => e.measurements.map((m) => m.metric)))];
  const xs = evaluations.map((e) => Date.parse(e.at) / 1000);
  for (const metric of metrics) {
    const roles = [...new Set(evaluations.flatMap((e) => e.measurements.filter((m) => m.metric === metric).map((m) => m.role)))];
    const value = (e, role) => { const m = e.measurements.find((m) => m.metric === metric && m.role === role); return m && m.value != null ? m.value : null; };
    const threshold = evaluations.map((e) => { const m = e.measurements.find((m) => m.metric === metric && m.threshold != null); return m ? m.threshold : null; });
    const data = [xs, ...roles.map((r) => evaluations.map((e) => value(e, r))), threshold];
    const colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];
    const series = [{}, ...roles.map((r, i) => ({ label: r, stroke: colors[i % colors.length], width: 2 })), { label: "threshold", stroke: "#7f7f7f", dash: [6, 4] }];
    const width = Math.max(260, Math.min(520, box.clientWidth || 480));
    const holder = el("figure", { "aria-label": `${metric} in ${env}` }, el("figcaption", {}, metric + ": " + evaluations.map((e) => e.verdict).join(", ")));
    box.append(holder);
    charts[env].push(new uPlot({ width, height: 160, series, scales: { x: { time: true } } }, data, holder));
  }
}

function renderFlags(flags, environments) {
  const box = document.getElementById("flags");
  if (!box) return;
  if (!Array.isArray(flags)) { box.replaceChildren(el("h2", {}, "feature flags"), el("p", { class: "bad" }, flags && flags.error ? flags.error : "cannot read the flag files")); return; }
  if (!flags.length) { box.replaceChildren(el("h2", {}, "feature flags"), el("p", {}, "no flags (runner flag new KEY creates one)")); return; }
  const names = environments.map((e) => e.environment);
  const t = el("table", {}, el("caption", { class: "visually-hidden" }, "each flag's share of users in each environment"),
    el("thead", {}, el("tr", {}, ["flag", "stage", ...names].map((h) => el("th", { scope: "col" }, h)))));
  const body = el("tbody");
  for (const f of flags) {
    body.append(el("tr", { "data-flag": f.key }, el("th", { scope: "row" }, f.key), el("td", {}, f.stage),
      ...names.map((n) => { const p = f.percent[n] ?? 0; return el("td", { "data-field": "share-" + n }, el("meter", { min: 0, max: 100, value: p, "aria-label": `${f.key} in ${n}` }), ` ${p} %`); })));
  }
  t.append(body);
  box.replaceChildren(el("h2", {}, "feature flags"), t);
}

function render(data) {
  const main = document.getElementById("environments");
  main.replaceChildren(...data.environments.map((env) => renderEnv(env, data.actions)));
  renderFlags(data.flags, data.environments);
  // When the page first showed every environment (the dashboard's benchmark reads it).
  if (window.runnerRenderedAt === undefined) window.runnerRenderedAt = performance.now();
  for (const env of data.environments) journal(env.environment, env.last_deploy).catch(() => {});
  document.getElementById("live").textContent = "live, updated " + new Date().toLocaleTimeString();
}

async function start() {
  const r = await fetch(withToken("/api/status"));
  if (r.status === 401) { document.getElementById("message").textContent = "This dashboard needs its token: open it as /#token=..."; return; }
  render(await r.json());
  const events = new EventSource(withToken("/events"));
  events.addEventListener("status", (e) => render(JSON.parse(e.data)));
  events.onerror = () => { document.getElementById("live").textContent = "reconnecting…"; };
}
start();
