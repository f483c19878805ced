// The dashboard: both lists side by side, the leader-or-manager totals, live alerts.
// Plain JS against review's JSON API; no build step, nothing loaded from elsewhere.
"use strict";

const PAGE_SIZE = 500;        // the API's largest page
const MAX_PAGES = 20;         // totals cover at most the top 10 000 deals of a list
const ROWS_SHOWN = 50;        // rows per table until "show all"
const MAX_ALERTS = 200;       // alerts kept in the panel
const REFRESH_MS = 30000;     // lists change without events too (close dates enter the quarter)

const state = {
  filters: { team: "", owner: "", manager: "" },
  options: { team: new Set(), owner: new Map(), manager: new Set() },
  expanded: { leader: false, manager: false },
  lists: { leader: null, manager: null },
  alerts: new Map(),   // alert_id -> item
  order: [],           // alert ids, newest first
  stream: null,
  streamCursor: null,  // id of the last streamed alert: a new stream resumes after it
  streamRetry: null,   // timer of the next reconnect
  streamBackoff: 1000,
  loadSeq: 0,
};

const $ = (id) => document.getElementById(id);
// The key lives for this tab only (sessionStorage): it is not left on the machine for the next user.
const apiKey = () => sessionStorage.getItem("pr.apiKey") || "";
const who = () => (localStorage.getItem("pr.who") || "").trim();

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  if (apiKey()) h["X-API-Key"] = apiKey();
  return h;
}

async function api(path, options = {}) {
  const answer = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!answer.ok) {
    let detail = answer.statusText;
    try { detail = (await answer.json()).detail || detail; } catch (_) { /* not JSON */ }
    if (answer.status === 401) detail = "API key missing or unknown: set it top right";
    throw new Error(path.split("?")[0] + ": " + answer.status + " " + detail);
  }
  return answer.json();
}

function setStatus(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

// ---- formatting -------------------------------------------------------------

function money(value, currency, compact) {
  const opts = { maximumFractionDigits: compact ? 1 : 0 };
  if (compact) opts.notation = "compact";
  if (/^[A-Z]{3}$/.test(currency || "")) {
    try {
      return new Intl.NumberFormat(undefined, Object.assign({ style: "currency", currency }, opts)).format(value);
    } catch (_) { /* unknown code: plain number below */ }
  }
  return new Intl.NumberFormat(undefined, opts).format(value) + (currency ? " " + currency : "");
}

// Totals are kept per currency: adding euros to dollars would be a made-up number.
function totalText(byCurrency) {
  const parts = Object.entries(byCurrency).filter(([, v]) => v > 0).map(([c, v]) => money(v, c, true));
  return parts.length ? parts.join(" + ") : money(0, "", true);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// ---- lists ------------------------------------------------------------------

async function fetchList(which) {
  const items = [];
  let cursor = null;
  let pages = 0;
  do {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
    if (cursor) q.set("cursor", cursor);
    const page = await api("/v1/lists/" + which + "?" + q);
    items.push(...page.items);
    cursor = page.next_cursor;
    pages += 1;
  } while (cursor && pages < MAX_PAGES);
  return { items, complete: !cursor };
}

function scoreDetails(which, item) {
  const parts = item.score_parts || {};
  const dl = el("dl", { class: "parts" });
  const add = (term, value) => dl.append(el("dt", { text: term }), el("dd", { text: value }));
  if (which === "leader") {
    add("potential value", money(parts.potential_value || 0, item.currency));
    // How much qualification is known (weighted), not a win probability: shown as a number, not a percentage.
    add("evidence coverage", (parts.evidence_coverage ?? parts.winnability ?? 0).toFixed(2));
    const evidence = Object.entries(parts.evidence || {});
    const known = evidence.filter(([, v]) => v === "known").map(([k]) => k.replace(/_/g, " "));
    add("evidence known", known.length ? known.join(", ") : "none");
  } else {
    add("amount", money(parts.amount || 0, item.currency));
    add("close date", parts.close_date || "—");
  }
  if (parts.formula) add("formula", parts.formula);
  return el("details", { class: "score", "data-testid": "score" },
    el("summary", { text: money(item.score, item.currency, true), title: parts.formula || "" }), dl);
}

function questionList(item) {
  const ul = el("ul", { class: "questions", "data-testid": "questions" });
  for (const q of item.questions || []) {
    ul.append(el("li", { class: "q-" + q.kind, title: q.why || "" },
      el("span", { text: q.text }), " ", el("small", { class: "why", text: q.why ? "(" + q.why + ")" : "" })));
  }
  return ul;
}

// One tbody per deal: its figures on the first row, the cadence questions beneath them.
function dealRows(which, item, rank) {
  const value = which === "leader" ? item.potential_value : item.amount;
  const owner = item.owner_name || item.owner_id || "—";
  const figures = el("tr", { class: "figures" },
    el("td", { class: "num rank", text: String(rank) }),
    el("th", { scope: "row", class: "deal" },
      el("span", { class: "name", "data-testid": "deal-name", text: item.name || item.deal_id }),
      el("span", { class: "account", text: item.account || "" })),
    el("td", {}, el("span", { text: owner }), item.team ? el("span", { class: "team", text: item.team }) : null),
    el("td", { class: "stage", text: item.stage || "" }),
    el("td", { class: "num", "data-testid": "value", text: money(value || 0, item.currency) }),
    el("td", { class: "num" }, scoreDetails(which, item)));
  const questions = el("tr", { class: "asked" },
    el("td", {}),
    el("td", { colspan: "5" }, el("span", { class: "visually-hidden", text: "Questions: " }), questionList(item),
      actionButtons(item)));
  return el("tbody", { "data-testid": which + "-row", "data-deal-id": item.deal_id }, figures, questions);
}

function renderList(which) {
  const data = state.lists[which];
  const table = $(which + "-table");
  const shown = state.expanded[which] ? data.items : data.items.slice(0, ROWS_SHOWN);
  table.querySelectorAll("tbody").forEach((body) => body.remove());
  table.append(...shown.map((item, i) => dealRows(which, item, i + 1)));
  if (!data.items.length) {
    table.append(el("tbody", {}, el("tr", {}, el("td", { colspan: "6", class: "empty", text: "No deals match." }))));
  }
  const more = $(which + "-more");
  more.replaceChildren();
  if (data.items.length > shown.length) {
    const button = el("button", { type: "button", "data-testid": which + "-show-all",
      text: "Show all " + data.items.length });
    button.addEventListener("click", () => { state.expanded[which] = true; renderList(which); });
    more.append("Showing the top " + shown.length + ". ", button);
  }
}

function renderTotals() {
  const sums = { leader: {}, manager: {} };
  for (const which of ["leader", "manager"]) {
    for (const item of state.lists[which].items) {
      const value = which === "leader" ? item.potential_value : item.amount;
      const c = item.currency || "";
      sums[which][c] = (sums[which][c] || 0) + (Number(value) || 0);
    }
    const data = state.lists[which];
    $(which + "-total").textContent = totalText(sums[which]);
    $(which + "-total").dataset.sum = JSON.stringify(sums[which]);
    $(which + "-count").textContent = (data.complete ? "" : "top ") + data.items.length + " deals";
  }
  // The bar and the verdict compare the totals only when both are in one currency.
  const currencies = new Set(Object.keys(sums.leader).concat(Object.keys(sums.manager)));
  const lead = Object.values(sums.leader).reduce((a, b) => a + b, 0);
  const man = Object.values(sums.manager).reduce((a, b) => a + b, 0);
  const comparable = currencies.size === 1 && lead + man > 0;
  const share = comparable ? (100 * lead) / (lead + man) : 50;
  $("balance-leader").style.width = share + "%";
  $("balance-manager").style.width = (100 - share) + "%";
  let verdict = "";
  if (comparable) {
    verdict = share >= 50
      ? Math.round(share) + " % of this value is still early: leader time here creates value."
      : Math.round(100 - share) + " % of this value closes this quarter: the calls will be about forecasts and discounts.";
  }
  $("verdict").textContent = verdict;
}

function rememberOptions(items) {
  for (const item of items) {
    if (item.team) state.options.team.add(item.team);
    if (item.owner_id) state.options.owner.set(item.owner_id, item.owner_name || item.owner_id);
    if (item.manager_id) state.options.manager.add(item.manager_id);
  }
  const fill = (select, entries) => {
    const current = select.value;
    const first = select.options[0];
    const sorted = entries.sort((a, b) => a[1].localeCompare(b[1]));
    select.replaceChildren(first, ...sorted.map(([value, label]) => el("option", { value, text: label })));
    select.value = current;
  };
  fill($("f-team"), [...state.options.team].map((t) => [t, t]));
  fill($("f-owner"), [...state.options.owner.entries()]);
  fill($("f-manager"), [...state.options.manager].map((m) => [m, m]));
}

async function loadLists() {
  const seq = ++state.loadSeq;
  setStatus("loading…");
  try {
    const [leader, manager] = await Promise.all([fetchList("leader"), fetchList("manager")]);
    if (seq !== state.loadSeq) return; // a newer load (filter change) won
    state.lists = { leader, manager };
    rememberOptions(leader.items.concat(manager.items));
    renderList("leader");
    renderList("manager");
    renderTotals();
    document.body.dataset.loaded = String(seq);
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (err) {
    if (seq === state.loadSeq) setStatus(err.message, true);
  }
}

// ---- alerts -----------------------------------------------------------------

function renderAlert(item) {
  const node = $("alert-template").content.firstElementChild.cloneNode(true);
  node.dataset.alertId = item.alert_id;
  node.dataset.kind = item.kind;
  node.classList.add("kind-" + item.kind, "sev-" + (item.severity || "info"));
  const field = (name) => node.querySelector('[data-field="' + name + '"]');
  field("severity").textContent = item.severity || "info";
  const movement = MOVEMENT_WORDING[item.kind];
  field("title").textContent = movement ? movement.title
    : item.kind === "late_stage_discount" ? "Late-stage discount" : "Discount requested";
  field("deal").textContent = (item.name || item.deal_id) + (item.account ? " — " + item.account : "") +
    (item.stage ? " (" + item.stage + ")" : "");
  field("discount").textContent = movement ? movement.text(item)
    : (item.discount_pct ?? "?") + " % off " + money(item.amount || 0, item.currency) +
      ": " + money(item.value_at_risk || 0, item.currency) + " at risk";
  const when = item.occurred_at ? new Date(item.occurred_at).toLocaleString() : "";
  field("meta").textContent = (movement ? "" : "asked by " + (item.requested_by || "unknown")) +
    (when ? (movement ? "" : " · ") + when : "") +
    (item.owner_id ? " · owner " + item.owner_id : "") + (item.team ? " · " + item.team : "");
  // Approve, reject or counter a discount on a late-stage deal (scorecard.js).
  if (item.kind === "late_stage_discount") node.querySelector(".ack-line").before(decisionButtons(item));
  const button = node.querySelector('[data-testid="ack-button"]');
  const info = node.querySelector(".ack");
  button.setAttribute("aria-label", "Acknowledge alert on " + (item.name || item.deal_id));
  if (item.ack) {
    button.hidden = true;
    info.textContent = "Acknowledged by " + item.ack.by + " at " + new Date(item.ack.at).toLocaleString();
    node.classList.add("acked");
  } else {
    button.addEventListener("click", () => acknowledge(item.alert_id, button, info));
  }
  return node;
}

// The movement kinds (docs/movement.md), each worded for the reader.
const MOVEMENT_WORDING = {
  close_date_pushed: {
    title: "Closing date pushed",
    text: (a) => "closing date pushed from " + a.from_close_date + " to " + a.to_close_date + " · " +
      money(a.amount || 0, a.currency) + (a.push_count > 1 ? " · pushed " + a.push_count + " times" : ""),
  },
  qualification_gap: {
    title: "Late deal with a qualification gap",
    text: (a) => "entered a late stage with the " + (a.missing || []).map((m) => m.replace("_", " ")).join(" and ") +
      " unknown · " + money(a.amount || 0, a.currency),
  },
  stalled: {
    title: "Deal stalled",
    text: (a) => a.days_in_stage + " days in " + a.stage + " (limit " + a.stall_days + ") · " +
      money(a.potential_value || 0, a.currency) + " of potential value",
  },
};

// The live panel follows the page's team, owner and manager filters.
const ALERT_FILTER_FIELDS = { team: "team", owner: "owner_id", manager: "manager_id" };

function alertShown(item) {
  return Object.entries(ALERT_FILTER_FIELDS).every(([k, field]) => !state.filters[k] || item[field] === state.filters[k]);
}

function renderAlerts() {
  const list = $("alert-list");
  const shown = state.order.map((id) => state.alerts.get(id)).filter(alertShown);
  list.replaceChildren(...shown.map(renderAlert));
  $("no-alerts").hidden = shown.length > 0;
}

function trimAlerts() {
  for (const id of state.order.splice(MAX_ALERTS)) state.alerts.delete(id);
}

// A streamed alert is newer than everything shown; a known one only refreshes its fields.
function alertFromStream(item) {
  if (!state.alerts.has(item.alert_id)) state.order.unshift(item.alert_id);
  state.alerts.set(item.alert_id, Object.assign({}, state.alerts.get(item.alert_id), item));
  trimAlerts();
  renderAlerts();
}

// The REST feed (newest first) fills in what the stream has not shown, and fresh ack states.
function alertsFromFeed(items) {
  const known = new Set(state.order);
  const older = [];
  for (const item of items) {
    state.alerts.set(item.alert_id, Object.assign({}, state.alerts.get(item.alert_id), item));
    if (!known.has(item.alert_id)) older.push(item.alert_id);
  }
  state.order.push(...older);
  trimAlerts();
  renderAlerts();
}

async function loadAlerts() {
  try {
    const page = await api("/v1/alerts?limit=100");
    alertsFromFeed(page.items);
    return true;
  } catch (err) {
    setStatus(err.message, true);
    return false;
  }
}

// The feed first, then a stream resuming after its newest alert ("0": from the start when
// the feed was empty): anything raised in between comes on the stream, nothing is missed.
async function startAlerts() {
  const loaded = await loadAlerts();
  const newest = state.order.length ? state.alerts.get(state.order[0]).cursor : null;
  state.streamCursor = newest || (loaded ? "0" : null);
  connectStream();
}

async function acknowledge(alertId, button, info) {
  const by = who();
  // Without a name the server records the API key's name; with neither nobody would be named.
  if (!by && !apiKey()) {
    info.textContent = "Enter your name (top right) to acknowledge.";
    $("who").focus();
    return;
  }
  button.disabled = true;
  try {
    const item = await api("/v1/alerts/" + encodeURIComponent(alertId) + "/ack", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(by ? { by } : {}),
    });
    state.alerts.set(alertId, Object.assign({}, state.alerts.get(alertId), item));
    renderAlerts();
  } catch (err) {
    button.disabled = false;
    info.textContent = err.message;
  }
}

// The key never goes in a URL: trade it (in a header) for a one-use token that opens the stream.
async function streamUrl() {
  const answer = await api("/v1/alerts/stream-token", { method: "POST" });
  const q = new URLSearchParams({ token: answer.token });
  if (state.streamCursor) q.set("cursor", state.streamCursor);
  return "/v1/alerts/stream?" + q;
}

function scheduleReconnect() {
  clearTimeout(state.streamRetry);
  state.streamRetry = setTimeout(connectStream, state.streamBackoff);
  state.streamBackoff = Math.min(state.streamBackoff * 2, 30000);
}

async function connectStream() {
  clearTimeout(state.streamRetry);
  if (state.stream) state.stream.close();
  state.stream = null;
  const pill = $("stream-state");
  let url;
  try {
    url = await streamUrl();
  } catch (err) {
    pill.textContent = "reconnecting"; pill.dataset.state = "down";
    scheduleReconnect();
    return;
  }
  const stream = new EventSource(url);
  stream.addEventListener("open", () => {
    pill.textContent = "live"; pill.dataset.state = "live";
    state.streamBackoff = 1000;
  });
  // EventSource would retry with the same (spent) token: reconnect with a fresh one instead,
  // resuming after the last alert seen, so the panel has no gap.
  stream.addEventListener("error", () => {
    if (state.stream !== stream) return;
    stream.close();
    pill.textContent = "reconnecting"; pill.dataset.state = "down";
    scheduleReconnect();
  });
  stream.addEventListener("alert", (event) => {
    if (event.lastEventId) state.streamCursor = event.lastEventId;
    try { alertFromStream(JSON.parse(event.data)); } catch (_) { /* ignore a malformed event */ }
  });
  state.stream = stream;
}

// ---- wiring -----------------------------------------------------------------

function start() {
  // Earlier versions kept the key in localStorage: do not leave it there.
  localStorage.removeItem("pr.apiKey");
  $("who").value = who();
  $("api-key").value = apiKey();
  const params = new URLSearchParams(location.search);
  for (const k of Object.keys(state.filters)) state.filters[k] = params.get(k) || "";

  $("filters").addEventListener("submit", (e) => e.preventDefault());
  for (const k of Object.keys(state.filters)) {
    const select = $("f-" + k);
    if (state.filters[k]) select.append(el("option", { value: state.filters[k], text: state.filters[k] }));
    select.value = state.filters[k];
    select.addEventListener("change", () => {
      state.filters[k] = select.value;
      state.expanded = { leader: false, manager: false };
      const q = new URLSearchParams(Object.entries(state.filters).filter(([, v]) => v));
      history.replaceState(null, "", q.toString() ? "?" + q : location.pathname);
      loadLists();
      renderAlerts();
      loadMovementPanels();
      loadScorecard();
    });
  }
  $("refresh").addEventListener("click", () => { loadLists(); loadAlerts(); loadMovementPanels(); loadScorecard(); });
  $("settings").addEventListener("submit", (e) => {
    e.preventDefault();
    const keyChanged = $("api-key").value !== apiKey();
    localStorage.setItem("pr.who", $("who").value.trim());
    sessionStorage.setItem("pr.apiKey", $("api-key").value);
    if (keyChanged) {
      // Another key may see other teams: forget what the previous one was shown.
      state.alerts.clear();
      state.order = [];
      state.streamCursor = null;
      state.options = { team: new Set(), owner: new Map(), manager: new Set() };
      renderAlerts();
      if (state.stream) state.stream.close();
      state.stream = null;
      startAlerts();
      loadLists();
      loadScorecard();
    }
    setStatus("settings saved");
  });

  startAlerts();
  loadLists();
  loadMovementPanels();
  setInterval(() => { loadLists(); loadAlerts(); }, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
