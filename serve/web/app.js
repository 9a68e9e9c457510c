// campaign-agent web page: chat with the assistant (streamed, tool calls visible), follow or cancel plans,
// approve or reject them. Streams are read with sse() from sse.js.
// No build step. Every text from the server is inserted with textContent, never as HTML.
"use strict";

const state = { key: sessionStorage.getItem("campaign-key") || "", session: null, planId: null, follow: null };
const $ = (sel) => document.querySelector(sel);
const ACTIVE = ["queued", "running"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) { logout("That key was not accepted."); throw new Error("unauthorized"); }
  return response;
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (Array.isArray(body.detail)) return body.detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("; ");
    return body.detail || response.statusText;
  } catch { return `${response.status} ${response.statusText}`; }
}

// ---- login -------------------------------------------------------------------------------------------
function logout(message = "") {
  sessionStorage.removeItem("campaign-key");
  state.key = "";
  $("#app").hidden = true; $("#logout").hidden = true; $("#login").hidden = false;
  $("#login-error").textContent = message;
}

async function login(key) {
  state.key = key;
  const response = await fetch("/v1/plans?limit=1", { headers: { Authorization: `Bearer ${key}` } });
  if (!response.ok) { logout(response.status === 401 ? "That key was not accepted." : await errorText(response)); return; }
  sessionStorage.setItem("campaign-key", key);
  $("#login").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
  refreshPlans();
}

// ---- chat --------------------------------------------------------------------------------------------
function addMessage(role, text) {
  const node = el("div", { class: `msg ${role}` }, text);
  $("#messages").append(node);
  node.scrollIntoView({ block: "end" });
  return node;
}

function toolBlock(call) {
  const pre = el("pre", { class: "result" }, "running …");
  const block = el("div", { class: "tool", "data-tool": call.name, "data-call": call.id },
    el("span", { class: "muted" }, "tool "), el("strong", {}, call.name), " ", el("code", {}, JSON.stringify(call.arguments)),
    el("details", {}, el("summary", {}, "result"), pre));
  $("#messages").append(block);
  return block;
}

async function sendChat(text) {
  addMessage("user", text);
  const send = $("#chat-send");
  send.disabled = true;
  let bubble = null;
  const blocks = {};
  try {
    const response = await api("/v1/chat", { method: "POST", body: JSON.stringify({ message: text, session_id: state.session }) });
    if (!response.ok) { addMessage("error", await errorText(response)); return; }
    for await (const { event, data } of sse(response)) {
      if (event === "session") state.session = data.session_id;
      else if (event === "token") {
        bubble = bubble || addMessage("assistant", "");
        bubble.textContent += data.text;
      } else if (event === "tool_call") { blocks[data.id] = toolBlock(data); bubble = null; }
      else if (event === "tool_result") {
        const block = blocks[data.id];
        if (block) {
          block.querySelector(".result").textContent = data.content;
          block.classList.add(data.status === "error" ? "failed" : "ok");
        }
        planFromTool(data);
      } else if (event === "error") addMessage("error", data.message);
      else if (event === "done") bubble = null;
    }
  } catch (err) {
    if (err.message !== "unauthorized") addMessage("error", `connection lost: ${err.message}`);
  } finally { send.disabled = false; }
}

function planFromTool(result) {
  if (result.name !== "create_plan") return;
  try {
    const value = JSON.parse(result.content);
    if (value.plan_id) { refreshPlans(); openPlan(value.plan_id); }
  } catch { /* not JSON: nothing to open */ }
}

// ---- plans -------------------------------------------------------------------------------------------
async function refreshPlans() {
  const response = await api("/v1/plans?limit=30");
  if (!response.ok) return;
  const list = $("#plan-list");
  list.replaceChildren(...(await response.json()).map((p) => el("li", {
    "data-id": p.id, class: p.id === state.planId ? "selected" : "", onclick: () => openPlan(p.id),
  }, el("span", {}, p.name), el("span", { class: `badge ${p.status}` }, p.status))));
}

async function openPlan(id) {
  if (state.follow) state.follow.abort();
  state.planId = id;
  document.querySelectorAll("#plan-list li").forEach((li) => li.classList.toggle("selected", li.dataset.id === id));
  const response = await api(`/v1/plans/${id}`);
  if (!response.ok) { showDetail(el("p", { class: "error" }, await errorText(response))); return; }
  const job = await response.json();
  renderPlan(job);
  if (ACTIVE.includes(job.status)) followPlan(id);
}

async function followPlan(id) {
  const controller = new AbortController();
  state.follow = controller;
  try {
    const response = await api(`/v1/plans/${id}/events`, { signal: controller.signal });
    for await (const { event, data } of sse(response, controller.signal)) {
      if (state.planId !== id) return;
      if (event === "step_start") setProgress(null, `${data.step} (${data.tool}) …`);
      else if (event === "step_end") setProgress(1, `${data.step} done in ${data.duration_s.toFixed(2)} s`);
      else if (event === "cancel_requested") cancelling(`cancel asked for by ${data.by}: stopping at the next step …`);
      else if (event === "status" && !ACTIVE.includes(data.status)) {  // done, failed or cancelled
        refreshPlans(); openPlan(id); return;
      } else if (event === "status") setProgress(0, data.status);
    }
  } catch (err) {
    if (err.name !== "AbortError" && err.message !== "unauthorized") setProgress(0, `connection lost: ${err.message}`);
  }
}

// A queued plan is cancelled at once (200); a running one stops at its next step (202, then a status event).
async function cancelPlan(id) {
  $("#cancel-plan").disabled = true;
  const response = await api(`/v1/plans/${id}/cancel`, { method: "POST" });
  if (state.planId !== id) return;
  if (response.status === 202) { cancelling("stopping at the next step …"); return; }
  if (response.ok) { refreshPlans(); renderPlan(await response.json()); return; }
  const message = await errorText(response);  // e.g. 409: it finished in the meantime
  refreshPlans();
  await openPlan(id);
  $("#plan-detail").append(el("p", { class: "error", id: "cancel-error", role: "alert" }, message));
}

function cancelling(text) {
  const button = $("#cancel-plan");
  if (button) { button.disabled = true; button.textContent = "Cancelling …"; }
  setProgress(0, text);
}

function setProgress(stepDone, text) {
  const bar = $("#plan-progress");
  if (!bar) return;
  if (stepDone) bar.value = Math.min(bar.max, bar.value + stepDone);
  $("#plan-step").textContent = text;
}

function showDetail(...nodes) {
  const detail = $("#plan-detail");
  detail.hidden = false;
  detail.replaceChildren(...nodes);
}

const fmt = (x, digits = 3) => (typeof x === "number" ? x.toFixed(digits) : "–");
const interval = (e) => `${fmt(e.point)} [${fmt(e.low)}, ${fmt(e.high)}]`;

function renderPlan(job) {
  const plan = job.plan;
  const head = el("div", { class: "row" }, el("h3", {}, job.brief.name),
    el("span", {}, el("span", { class: `badge ${job.status}`, id: "plan-status" }, job.status), " ",
      el("span", { class: `badge ${job.review}`, id: "plan-review" }, job.review)));
  const nodes = [head, el("p", { class: "muted" }, job.brief.goal)];
  if (ACTIVE.includes(job.status)) {
    nodes.push(el("progress", { id: "plan-progress", max: job.progress.steps_expected, value: job.progress.steps_done }),
      el("p", { id: "plan-step", class: "muted" }, job.progress.current_step || job.status),
      el("div", { class: "buttons" }, el("button", { id: "cancel-plan", type: "button", class: "secondary",
        onclick: () => cancelPlan(job.id) }, "Cancel plan")));
  }
  if (job.error) nodes.push(el("p", { class: job.status === "cancelled" ? "muted" : "error", id: "plan-error" }, job.error));
  if (plan) nodes.push(...planSections(plan));
  nodes.push(reviewSection(job));
  showDetail(...nodes);
}

function planSections(plan) {
  const out = [];
  for (const w of plan.warnings) out.push(el("p", { class: "error warning", "data-kind": w.kind }, w.message));
  out.push(el("p", {}, `${plan.audience.size} customers matched “${plan.audience.query}”. ${plan.audience.message}`));
  if (plan.segments.length) {
    out.push(el("h3", {}, "Segments"), el("table", { id: "segments" },
      el("tr", {}, el("th", {}, "segment"), el("th", {}, "size"), el("th", {}, "top genres"),
        el("th", {}, "products (score; predicted [90%])")),
      plan.segments.map((s) => {
        const effects = Object.fromEntries(s.product_effects.map((e) => [e.product_id, e]));
        return el("tr", { class: "segment-row" }, el("td", {}, `${s.segment_id} · ${s.name}`), el("td", {}, s.size),
          el("td", {}, s.top_genres.join(", ")),
          el("td", {}, s.products.map((p) => `${p.title} (${fmt(p.score, 2)}; ${effects[p.product_id] ? interval(effects[p.product_id]) : "–"})`).join("; ")));
      })));
  }
  const active = plan.variants.filter((v) => v.active);
  if (active.length) {
    out.push(el("h3", {}, "Copy variants (predicted response per send, 90% interval)"),
      el("div", { class: "variants" }, active.map((v) => el("div", { class: "variant", "data-variant": v.variant_id },
        el("div", { class: "meta" }, `${v.variant_id} · ${v.segment_id} · ${v.channel} · ${v.product_title} · ${v.source}`),
        el("strong", {}, v.headline), el("div", {}, v.body), el("em", {}, v.cta),
        v.disclaimer ? el("div", { class: "meta" }, v.disclaimer) : null,
        el("div", { class: "effect" }, `predicted ${interval(v.predicted || v.effect)}`),
        v.predicted ? el("div", { class: "meta" }, `p_like ${fmt(v.predicted.p_like)} × headline index ${fmt(v.predicted.headline_index, 2)}`) : null,
        el("div", { class: "why" }, `Why: ${(v.predicted || v.effect).factors.join("; ")}`),
        v.predicted && v.predicted.evidence.length
          ? el("div", { class: "evidence" }, `Evidence (observed in Upworthy A/B tests): ${v.predicted.evidence.join("; ")}`) : null))));
  }
  if (plan.launch) {
    const l = plan.launch;
    out.push(el("h3", {}, "Launch"), el("p", {}, `${l.planned_sends} sends planned of ${l.send_budget}; holdout ${l.holdout_customers} of ${l.reachable_customers} customers.`),
      el("ul", {}, l.notes.map((n) => el("li", {}, n))));
  }
  if (plan.trace.length) {
    out.push(el("h3", {}, "Trace"), el("table", { id: "trace" },
      el("tr", {}, el("th", {}, "#"), el("th", {}, "step"), el("th", {}, "tool"), el("th", {}, "s"), el("th", {}, "LLM calls")),
      plan.trace.map((s) => el("tr", {}, el("td", {}, s.index), el("td", {}, s.step), el("td", {}, s.tool),
        el("td", {}, fmt(s.duration_s, 2)), el("td", {}, s.llm_calls)))));
  }
  return out;
}

function reviewSection(job) {
  const trail = el("ul", { id: "decisions" }, job.decisions.map((d) =>
    el("li", {}, `${d.decision} by ${d.by} (${d.api_key}, ${new Date(d.at).toLocaleString()}): ${d.reason}`)));
  const by = el("input", { id: "review-by", placeholder: "Your name", maxlength: 120 });
  const reason = el("textarea", { id: "review-reason", rows: 2, placeholder: "Why" });
  const message = el("p", { class: "error", role: "alert" });
  const decide = async (what) => {
    if (!by.value.trim() || !reason.value.trim()) { message.textContent = "Name and reason are both required."; return; }
    const response = await api(`/v1/plans/${job.id}/${what}`, { method: "POST", body: JSON.stringify({ by: by.value.trim(), reason: reason.value.trim() }) });
    if (!response.ok) { message.textContent = await errorText(response); return; }
    renderPlan(await response.json());
  };
  const done = job.status === "done";
  return el("section", { class: "review" }, el("h3", {}, "Review"), trail, by, reason,
    el("div", { class: "buttons" },
      el("button", { id: "approve", type: "button", disabled: !done, onclick: () => decide("approve") }, "Approve"),
      el("button", { id: "reject", type: "button", class: "secondary", disabled: !done, onclick: () => decide("reject") }, "Reject")),
    message);
}

// ---- wiring ------------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (e) => { e.preventDefault(); login($("#key-input").value.trim()); });
  $("#logout").addEventListener("click", () => logout());
  $("#plans-refresh").addEventListener("click", refreshPlans);
  $("#chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("#chat-input").value.trim();
    if (!text) return;
    $("#chat-input").value = "";
    sendChat(text);
  });
  $("#chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#chat-form").requestSubmit(); }
  });
  if (state.key) login(state.key); else logout();
});
