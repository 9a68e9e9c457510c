// campaign-agent web page: write a brief (the API's 422 messages shown at their fields), chat with the
// assistant (streamed, tool calls visible), follow or cancel plans, approve or reject them.
// Streams are read with sse() from sse.js.
// No build step. Every text from the server is inserted with textContent, never as HTML.
"use strict";

const state = { key: sessionStorage.getItem("campaign-key") || "", session: null, planId: null, follow: null, shops: {} };
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
  if (options.body && !headers["Content-Type"]) headers["Content-Type"] = "application/json";
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
  loadShops();
}

// ---- brief form --------------------------------------------------------------------------------------
// Each input sits in a `.field[data-field]` wrapper named by its brief path ("offer.percent_off"); its
// `data-kind` says how its text becomes JSON. The form is not validated in the browser: the API's 422
// errors are shown at the field their `loc` names (["body", "offer", "percent_off"]).

// Fills the shop <select> from GET /v1/shops; a server without that route keeps the text input.
async function loadShops() {
  let shops = [];
  try {
    const response = await api("/v1/shops");
    if (response.ok) shops = (await response.json()).shops || [];
  } catch { /* unauthorized (logged out) or offline: keep the text input */ }
  state.shops = Object.fromEntries(shops.map((s) => [s.name, s]));
  $("#brief-form").dataset.shops = shops.length ? "listed" : "unlisted";
  if (!shops.length) return;
  const select = el("select", { id: "brief-shop", "data-kind": "text", "aria-describedby": "brief-shop-info",
    onchange: showShop }, shops.map((s) => el("option", { value: s.name, selected: Boolean(s.default),
    "data-default": Boolean(s.default) }, s.default ? `${s.name} (default)` : s.name)));
  $("#brief-shop").replaceWith(select);
  showShop();
}

function showShop() {
  const info = state.shops[$("#brief-shop").value];
  const facts = info ? [info.description, info.currency && `prices in ${info.currency}`,
    typeof info.customers === "number" && `${info.customers} customers`,
    typeof info.products === "number" && `${info.products} products`,
    info.ready === false && "its data loads with its first plan"] : [];
  $("#brief-shop-info").textContent = facts.filter(Boolean).join(" · ");
  $("#brief .currency").textContent = info && info.currency ? `(${info.currency})` : "";
}

const controlPath = (control) => control.dataset.field || control.closest(".field[data-field]").dataset.field;

// The JSON value of one input; undefined when empty, so the API reports a missing required field.
function controlValue(control) {
  if (control.dataset.kind === "checks") return [...control.querySelectorAll("input:checked")].map((c) => c.value);
  const text = control.value.trim();
  if (!text) return undefined;
  if (control.dataset.kind === "number") return Number(text);
  if (control.dataset.kind === "list") return text.split(",").map((t) => t.trim()).filter(Boolean);
  if (control.dataset.kind === "lines") return text.split("\n").map((t) => t.trim()).filter(Boolean);
  return text;
}

function collectBrief() {
  const brief = {};
  for (const control of $("#brief-form").querySelectorAll("[data-kind]")) {
    const value = controlValue(control);
    if (value === undefined) continue;
    const keys = controlPath(control).split(".");
    let node = brief;
    for (const k of keys.slice(0, -1)) node = node[k] = node[k] || {};
    node[keys.at(-1)] = value;
  }
  return brief;
}

function clearBriefErrors() {
  const form = $("#brief-form");
  form.querySelectorAll(".field-error").forEach((n) => n.remove());
  form.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
  form.querySelectorAll("[data-described]").forEach((n) => {
    if (n.dataset.described) n.setAttribute("aria-describedby", n.dataset.described);
    else n.removeAttribute("aria-describedby");
    n.removeAttribute("data-described");
    n.removeAttribute("aria-invalid");
  });
  $("#brief-errors").hidden = true;
  $("#brief-errors").replaceChildren();
}

// A check of a whole group (the offer, the filter) may concern one of its fields: the only one it names.
function narrowed(wrapper, msg) {
  const head = msg.split(";")[0];
  const named = [...wrapper.querySelectorAll(".field[data-words]")]
    .filter((w) => new RegExp(`\\b${w.dataset.words}\\b`).test(head));
  return named.length === 1 ? named[0] : wrapper;
}

// The field wrapper an error's loc names (its longest known prefix), or null for the form-level box.
function fieldFor(loc, msg) {
  const wrappers = new Map([...$("#brief-form").querySelectorAll(".field[data-field]")].map((w) => [w.dataset.field, w]));
  const path = loc[0] === "body" ? loc.slice(1).map(String) : [];
  for (let n = path.length; n > 0; n--) {
    const wrapper = wrappers.get(path.slice(0, n).join("."));
    if (wrapper) return narrowed(wrapper, msg);
  }
  const named = loc.length === 1 && /^(?:Value error, )?field '([\w.]+)'/.exec(msg);  // a check across fields
  return (named && wrappers.get(named[1])) || null;
}

function showBriefErrors(detail) {
  const byField = new Map(), unmatched = [];
  for (const d of detail) {
    const loc = Array.isArray(d.loc) ? d.loc : [];
    const wrapper = fieldFor(loc, String(d.msg));
    if (wrapper) byField.set(wrapper, [...(byField.get(wrapper) || []), d.msg]);
    else unmatched.push(`${loc.slice(loc[0] === "body" ? 1 : 0).join(".") || "brief"}: ${d.msg}`);
  }
  for (const [wrapper, messages] of byField) {
    const path = wrapper.dataset.field;
    const id = `error-${path.replace(/[^\w-]/g, "-")}`;
    const note = el("p", { class: "error field-error", id, "data-error-for": path }, messages.join("\n"));
    const legend = wrapper.querySelector(":scope > legend");
    if (legend && wrapper.querySelector(".field")) legend.after(note); else wrapper.append(note);
    wrapper.classList.add("invalid");
    const control = wrapper.matches("fieldset") ? wrapper : wrapper.querySelector("[data-kind]");  // a group: its fieldset
    control.dataset.described = control.getAttribute("aria-describedby") || "";
    control.setAttribute("aria-describedby", `${control.dataset.described} ${id}`.trim());
    if (control !== wrapper) control.setAttribute("aria-invalid", "true");
    const details = wrapper.closest("details");
    if (details) details.open = true;
  }
  if (unmatched.length) {
    $("#brief-errors").replaceChildren(...unmatched.map((m) => el("span", { class: "line" }, m)));
    $("#brief-errors").hidden = false;
  }
  const first = $("#brief-form .invalid input, #brief-form .invalid select, #brief-form .invalid textarea");
  if (first) first.focus();
}

async function submitBrief() {
  const button = $("#brief-submit"), status = $("#brief-status");
  clearBriefErrors();
  button.disabled = true;
  status.textContent = "Sending …";
  try {
    const response = await api("/v1/plans", { method: "POST", body: JSON.stringify(collectBrief()) });
    if (response.status === 422) {
      const body = await response.json().catch(() => ({}));
      showBriefErrors(Array.isArray(body.detail) ? body.detail : [{ loc: [], msg: String(body.detail || "invalid brief") }]);
      status.textContent = "Not sent: please correct the marked fields.";
      return;
    }
    if (!response.ok) {
      showBriefErrors([{ loc: [], msg: await errorText(response) }]);
      status.textContent = "";
      return;
    }
    const job = await response.json();
    status.textContent = `Plan “${job.brief.name}” is ${job.status}.`;
    refreshPlans();
    await openPlan(job.id);
  } catch (err) {
    status.textContent = "";
    if (err.message !== "unauthorized") showBriefErrors([{ loc: [], msg: `connection lost: ${err.message}` }]);
  } finally { button.disabled = false; }
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
    const shop = $("#brief-shop") ? $("#brief-shop").value.trim() : "";  // the chat is about the form's shop
    const response = await api("/v1/chat", { method: "POST",
      body: JSON.stringify({ message: text, session_id: state.session, shop: shop || null }) });
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
      } else if (event === "route" && data.ignored && data.ignored.length) {
        addMessage("muted note", `Ignored as instructions inside the question: ${data.ignored.join(" ")}`);
      } else if (event === "error") addMessage("error", data.message);
      else if (event === "done") { chatDone(data, bubble); bubble = null; }
    }
  } catch (err) {
    if (err.message !== "unauthorized") addMessage("error", `connection lost: ${err.message}`);
  } finally { send.disabled = false; }
}

// Under the answer: how it was checked (or that the template built it from the tool results) and the plan link.
function chatDone(data, bubble) {
  if (bubble) bubble.dataset.source = data.source || "";
  const notes = [];
  if (data.source === "llm") notes.push("checked: every number and name is in the tool results");
  else if (data.source === "template") notes.push(`built from the tool results by the template${
    data.problems && data.problems.length ? ` (the model's answer: ${data.problems.join("; ")})` : ""}`);
  const note = el("div", { class: "msg muted note answer-source", "data-source": data.source || "" }, notes.join(" "));
  if (data.plan_id) {
    note.append(notes.length ? " · " : "", el("a", { href: "#", class: "plan-link", "data-id": data.plan_id,
      onclick: (e) => { e.preventDefault(); openPlan(data.plan_id); } }, `plan ${data.plan_id}`));
  }
  if (notes.length || data.plan_id) $("#messages").append(note);
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
const CURRENCY_SYMBOLS = { GBP: "£", USD: "$", EUR: "€" };

// "£2.55" for a currency with a known symbol, "2.55 XYZ" for another, "2.55" for none.
function money(amount, currency) {
  const value = amount.toFixed(2);
  if (!currency) return value;
  return CURRENCY_SYMBOLS[currency] ? `${CURRENCY_SYMBOLS[currency]}${value}` : `${value} ${currency}`;
}

const discountText = (offer, currency) =>
  (offer.percent_off != null ? `${offer.percent_off}% off` : `${money(offer.amount_off, currency)} off`);

function offerText(offer, currency) {
  const on = [...offer.categories, ...offer.product_ids.map((id) => `product ${id}`)];
  return [`Offer ${offer.code}: ${discountText(offer, currency)}`, on.length ? ` on ${on.join(", ")}` : " on every product",
    offer.valid_from ? `, from ${offer.valid_from}` : "", offer.valid_to ? `, until ${offer.valid_to}` : "",
    offer.description ? ` — ${offer.description}` : ""].join("");
}

// "XMAS10: £2.65 after 10% off"; an offer other than the brief's (a shop's own) shows the difference as the discount.
function variantOffer(v, plan) {
  const offer = plan.brief.offer && plan.brief.offer.code === v.offer_code ? plan.brief.offer : null;
  if (v.price_after_offer == null) return offer ? `${v.offer_code}: ${discountText(offer, plan.currency)}` : v.offer_code;
  const discount = offer ? discountText(offer, plan.currency)
    : v.product_price != null ? `${money(v.product_price - v.price_after_offer, plan.currency)} off` : "the offer";
  return `${v.offer_code}: ${money(v.price_after_offer, plan.currency)} after ${discount}`;
}

// Each distinct segment name with its customers (summed when several segments share a name).
function segmentNames(segments) {
  const byName = new Map();
  for (const s of segments) {
    const seen = byName.get(s.name) || { size: 0, count: 0 };
    byName.set(s.name, { size: seen.size + s.size, count: seen.count + 1 });
  }
  return el("ul", { id: "segment-names" }, [...byName].map(([name, { size, count }]) => el("li", { "data-name": name },
    el("strong", {}, name), ` — ${size} customers${count > 1 ? ` in ${count} segments` : ""}`)));
}
const interval = (e, currency) => currency
  ? `${money(e.point, currency)} [${money(e.low, currency)}, ${money(e.high, currency)}]`
  : `${fmt(e.point)} [${fmt(e.low)}, ${fmt(e.high)}]`;
const orders = (a) => `${fmt(a.point, 1)} [${fmt(a.low, 1)}, ${fmt(a.high, 1)}]`;

// Expected orders and revenue with the send, beside the organic baseline (a shop of orders).
function valueTable(value, currency, who, id) {
  const row = (label, o, r) => el("tr", {}, el("td", {}, label), el("td", {}, orders(o)), el("td", {}, interval(r, currency)));
  return el("table", { class: "value", ...(id ? { id } : {}) },
    el("tr", {}, el("th", {}, ""), el("th", {}, "orders [90%]"), el("th", {}, "revenue [90%]")),
    row(`organic baseline (no send), ${who}`, value.organic_orders, value.organic_revenue),
    row("with the send", value.with_send_orders, value.with_send_revenue),
    row("incremental", value.incremental_orders, value.incremental_revenue));
}

function renderPlan(job) {
  const plan = job.plan;
  const head = el("div", { class: "row" }, el("h3", {}, job.brief.name),
    el("span", {}, el("span", { class: `badge ${job.status}`, id: "plan-status" }, job.status), " ",
      el("span", { class: `badge ${job.review}`, id: "plan-review" }, job.review)));
  const nodes = [head, el("p", { class: "muted" }, job.brief.goal)];
  const shop = plan ? plan.shop : job.brief.shop;
  const currency = plan ? plan.currency : (state.shops[shop] || {}).currency;
  nodes.push(el("p", { id: "plan-shop", class: "muted" }, `Shop: ${shop || "the default"}${currency ? ` · prices in ${currency}` : ""}`));
  const offer = (plan ? plan.brief : job.brief).offer;
  if (offer) nodes.push(el("p", { id: "plan-offer" }, offerText(offer, currency)));
  if (ACTIVE.includes(job.status)) {
    nodes.push(el("progress", { id: "plan-progress", max: job.progress.steps_expected, value: job.progress.steps_done }),
      el("p", { id: "plan-step", class: "muted" }, job.progress.current_step || job.status),
      el("div", { class: "buttons" }, el("button", { id: "cancel-plan", type: "button", class: "secondary",
        onclick: () => cancelPlan(job.id) }, "Cancel plan")));
  }
  if (job.error) nodes.push(el("p", { class: job.status === "cancelled" ? "muted" : "error", id: "plan-error" }, job.error));
  if (plan) nodes.push(...planSections(plan));
  if (plan && plan.launch && job.status === "done") nodes.push(resultsSection(job.id));
  nodes.push(reviewSection(job));
  showDetail(...nodes);
}

function planSections(plan) {
  const out = [];
  for (const w of plan.warnings) out.push(el("p", { class: "error warning", "data-kind": w.kind }, w.message));
  for (const a of plan.assumptions || []) out.push(el("p", { class: "muted assumption" }, `Assumption: ${a}`));
  if (plan.launch && plan.launch.value) {
    const v = plan.launch.value;
    out.push(el("h3", {}, "Expected value (next 30 days)"),
      valueTable(v, plan.currency, `${v.sends} sent customers`, "plan-value"));
  }
  out.push(el("p", {}, `${plan.audience.size} customers matched “${plan.audience.query}”. ${plan.audience.message}`));
  if (plan.segments.length) {
    out.push(el("h3", {}, "Segments"), segmentNames(plan.segments), el("table", { id: "segments" },
      el("tr", {}, el("th", {}, "segment"), el("th", {}, "size"), el("th", {}, "top genres"),
        el("th", {}, "products (score; predicted [90%])")),
      plan.segments.map((s) => {
        const effects = Object.fromEntries(s.product_effects.map((e) => [e.product_id, e]));
        return el("tr", { class: "segment-row" }, el("td", {}, `${s.segment_id} · ${s.name}`), el("td", {}, s.size),
          el("td", {}, s.top_genres.join(", ")),
          el("td", {}, s.products.map((p) => {
            const e = effects[p.product_id];
            return `${p.title} (${fmt(p.score, 2)}; ${e ? interval(e, e.unit === "currency" ? plan.currency : null) : "–"})`;
          }).join("; ")));
      })));
  }
  const active = plan.variants.filter((v) => v.active);
  if (active.length) {
    out.push(el("h3", {}, "Copy variants (predicted response per send, 90% interval)"),
      el("div", { class: "variants" }, active.map((v) => el("div", { class: "variant", "data-variant": v.variant_id },
        el("div", { class: "meta" }, `${v.variant_id} · ${v.segment_id} · ${v.channel} · ${v.product_title} · ${v.source}`),
        v.product_price != null ? el("div", { class: "price" }, `Price ${money(v.product_price, plan.currency)}`) : null,
        v.offer_code ? el("div", { class: "offer" }, variantOffer(v, plan)) : null,
        el("strong", {}, v.headline), el("div", {}, v.body), el("em", {}, v.cta),
        v.disclaimer ? el("div", { class: "meta" }, v.disclaimer) : null,
        el("div", { class: "effect" }, v.effect.unit === "currency"
          ? `predicted incremental revenue per send ${interval(v.predicted || v.effect, plan.currency)}`
          : `predicted ${interval(v.predicted || v.effect)}`),
        v.expected_value ? valueTable(v.expected_value, plan.currency, `all ${v.expected_value.customers} customers of the segment`) : null,
        v.predicted ? el("div", { class: "meta" }, `${v.effect.unit === "currency" ? `base ${money(v.predicted.p_like, plan.currency)}` : `p_like ${fmt(v.predicted.p_like)}`} × headline index ${fmt(v.predicted.headline_index, 2)}`) : null,
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

// ---- outcomes: upload a launched plan's outcomes file, show the lift per variant and predicted against observed
const OUTCOME_TYPES = { csv: "text/csv", parquet: "application/vnd.apache.parquet", jsonl: "application/x-ndjson",
  ndjson: "application/x-ndjson", json: "application/x-ndjson" };
const pct = (x) => `${(100 * x).toFixed(2)}%`;
const signed = (x, digits = 4) => `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`;

function resultsSection(id) {
  const metric = el("select", { id: "results-metric" }, ["converted", "clicked", "opened"].map((m) => el("option", { value: m }, m)));
  const file = el("input", { id: "outcomes-file", type: "file", accept: ".csv,.parquet,.jsonl,.ndjson,.json" });
  const replace = el("input", { id: "outcomes-replace", type: "checkbox" });
  const status = el("div", { id: "outcomes-status", role: "status" });
  const body = el("div", { id: "results" });
  const upload = async () => {
    const chosen = file.files[0];
    if (!chosen) { status.replaceChildren(el("p", { class: "error" }, "Choose an outcomes file first.")); return; }
    const type = OUTCOME_TYPES[chosen.name.split(".").pop().toLowerCase()];
    if (!type) { status.replaceChildren(el("p", { class: "error" }, "Use a .csv, .parquet or .jsonl file.")); return; }
    status.replaceChildren(el("p", { class: "muted" }, `uploading ${chosen.name} …`));
    const response = await api(`/v1/plans/${id}/outcomes?replace=${replace.checked}`,
      { method: "POST", body: chosen, headers: { "Content-Type": type } });
    if (response.ok) {
      const r = await response.json();
      status.replaceChildren(el("p", { class: "ok" }, `${r.rows} rows: ${r.inserted} added, ${r.unchanged} unchanged, ${r.replaced} replaced`));
      showResults(id, metric.value, body);
      return;
    }
    status.replaceChildren(...await uploadErrors(response));
  };
  metric.addEventListener("change", () => showResults(id, metric.value, body));
  showResults(id, metric.value, body);
  return el("section", { class: "results", id: "results-section" }, el("h3", {}, "Results"),
    el("p", { class: "muted" }, "Outcomes file: customer_id, arm (a variant id or holdout), sent_at, and any of opened, clicked, converted, revenue, wave. All rows are imported or none."),
    el("div", { class: "buttons" }, file, el("label", {}, replace, "replace stored outcomes"),
      el("button", { id: "outcomes-upload", type: "button", onclick: upload }, "Upload outcomes")),
    status, el("label", {}, "Outcome ", metric), body);
}

async function uploadErrors(response) {
  let detail = null;
  try { detail = (await response.json()).detail; } catch { /* not JSON */ }
  if (!detail || typeof detail === "string" || !detail.summary) {
    return [el("p", { class: "error" }, typeof detail === "string" ? detail : `${response.status} ${response.statusText}`)];
  }
  const rows = detail.errors.slice(0, 100).map((e) => el("li", {},
    `${e.row}: ${e.customer_id ? `customer ${e.customer_id} ` : ""}${e.arm ? `arm ${e.arm}: ` : ""}${e.message}`));
  const more = detail.errors.length > 100 ? [el("li", {}, `… and ${detail.errors.length - 100} more`)] : [];
  return [el("p", { class: "error", id: "outcomes-summary" }, detail.summary), el("ul", { id: "outcomes-errors", class: "error" }, rows, more)];
}

async function plotImage(url, alt) {
  const img = el("img", { alt, class: "plot" });
  const response = await api(url);
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
  return img;
}

async function showResults(id, metric, body) {
  const response = await api(`/v1/plans/${id}/results?metric=${metric}`);
  if (!response.ok) { body.replaceChildren(el("p", { class: "muted", id: "results-none" }, await errorText(response))); return; }
  const r = await response.json();
  const arms = el("table", { id: "results-arms" },
    el("tr", {}, ["arm", "n", "rate", "lift", "95% CI", "p (Holm)", "significant"].map((h) => el("th", {}, h))),
    el("tr", {}, el("td", {}, `${r.control.arm} (control)`), el("td", {}, r.control.n), el("td", {}, pct(r.control.rate)), el("td", {}), el("td", {}), el("td", {}), el("td", {})),
    r.arms.map((a) => el("tr", { "data-arm": a.arm }, el("td", {}, a.arm), el("td", {}, a.n), el("td", {}, pct(a.rate)), el("td", {}, signed(a.lift)),
      el("td", {}, `[${signed(a.ci_low)}, ${signed(a.ci_high)}]`), el("td", {}, a.p_value.toPrecision(3)), el("td", {}, a.significant ? "yes" : "no"))));
  const nodes = [arms, el("p", { id: "results-winner" }, `Winner: ${r.winner || "none (no variant significantly better than the holdout after Holm)"}`),
    ...r.power_notes.map((n) => el("p", { class: "muted" }, n)), await plotImage(`/v1/plans/${id}/results/plot.png?kind=lift&metric=${metric}`, "lift per variant")];
  for (const [i, c] of r.predictions.entries()) {
    nodes.push(el("h4", {}, `Predicted ${c.predicted_metric} against observed ${c.observed_metric}`), el("p", { class: "muted" }, c.pairing),
      el("table", { class: "results-predictions" },
        el("tr", {}, ["variant", "n", "predicted [90%]", "observed [95% CI]", "inside"].map((h) => el("th", {}, h))),
        c.arms.map((a) => el("tr", {}, el("td", {}, a.arm), el("td", {}, a.n), el("td", {}, `${fmt(a.predicted, 4)} [${fmt(a.predicted_low, 4)}, ${fmt(a.predicted_high, 4)}]`),
          el("td", {}, `${fmt(a.observed, 4)} [${fmt(a.observed_low, 4)}, ${fmt(a.observed_high, 4)}]`), el("td", {}, a.inside ? "yes" : "no")))),
      el("p", {}, `Inside the 90% interval: ${pct(c.share_inside)}; mean predicted − observed ${signed(c.mean_error)}`
        + (c.slope === null ? "" : `; rank correlation ${fmt(c.rank_correlation, 2)}, calibration slope ${fmt(c.slope, 2)}`)),
      await plotImage(`/v1/plans/${id}/results/plot.png?kind=predicted&index=${i}&metric=${metric}`, "predicted against observed"));
  }
  const report = el("a", { id: "results-report", download: `results-${id}.html`, href: "#" }, "Download the report (HTML)");
  report.addEventListener("click", async (e) => {
    if (report.dataset.ready) return;
    e.preventDefault();
    const page = await api(`/v1/plans/${id}/results.html?metric=${metric}`);
    if (!page.ok) return;
    report.href = URL.createObjectURL(await page.blob());
    report.dataset.ready = "1";
    report.click();
  });
  body.replaceChildren(...nodes, el("p", {}, report));
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
  $("#brief-form").addEventListener("submit", (e) => { e.preventDefault(); submitBrief(); });
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
