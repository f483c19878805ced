// Managers' actions and the scorecard on the dashboard (docs/scorecard.md): "Log review" and
// "Offer help" on every list row, approve / reject / counter on late-stage alerts, and every
// actor on a plot of leader_share against late discount intensity, with a table under it.
// Uses api(), el(), money(), who(), apiKey() and state.filters from dashboard.js.
"use strict";

const HELP_KINDS = ["access", "qualification", "acceleration", "executive_sponsor", "discount"];
const scorecard = { chart: null, items: [], timers: [] };

// With a key the server names the actor; in open mode the page's "Your name" does.
function actorBody(body) {
  const by = who();
  if (!by && !apiKey()) return null;
  return apiKey() ? body : Object.assign({ by }, body);
}

async function postAction(path, body, info) {
  const full = actorBody(body);
  if (!full) {
    info.textContent = "Enter your name (top right) to act.";
    $("who").focus();
    return null;
  }
  try {
    const answer = await api(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(full) });
    refreshScorecardSoon();
    return answer;
  } catch (err) {
    info.textContent = err.message;
    return null;
  }
}

// The buttons under a list row: a review logs the cadence questions shown for the deal.
function actionButtons(item) {
  const info = el("span", { class: "action-info", "data-testid": "action-info" });
  const review = el("button", { type: "button", class: "act", "data-testid": "log-review", text: "Log review" });
  const kind = el("select", { "data-testid": "help-kind", "aria-label": "Kind of help" },
    ...HELP_KINDS.map((k) => el("option", { value: k, text: k.replace("_", " ") })));
  const unknown = (item.score_parts && item.score_parts.evidence) || item.qualification || {};
  kind.value = unknown.economic_buyer === "known" && unknown.champion === "known" ? "qualification" : "access";
  const help = el("button", { type: "button", class: "act", "data-testid": "offer-help", text: "Offer help" });
  const deal = "/v1/deals/" + encodeURIComponent(item.deal_id);
  review.addEventListener("click", async () => {
    const questions = (item.questions || []).map((q) => q.text).filter(Boolean).slice(0, 20);
    if (await postAction(deal + "/reviews", { questions }, info)) info.textContent = "review logged";
  });
  help.addEventListener("click", async () => {
    if (await postAction(deal + "/help", { kind: kind.value }, info)) info.textContent = kind.value + " help logged";
  });
  return el("div", { class: "actions", "data-testid": "row-actions" }, review, " ", kind, " ", help, " ", info);
}

function decisionText(decision) {
  const pct = decision.discount_pct !== null && decision.discount_pct !== undefined ? " (" + decision.discount_pct + " %)" : "";
  return decision.decision + pct + " by " + decision.by + " at " + new Date(decision.at).toLocaleString();
}

// Approve, reject or counter on a late-stage alert; once decided, the decision instead.
function decisionButtons(item) {
  const box = el("div", { class: "decision", "data-testid": "decision" });
  const info = el("span", { class: "decision-info", "data-testid": "decision-info" });
  if (item.decision) {
    info.textContent = decisionText(item.decision);
    box.append(info);
    return box;
  }
  const path = "/v1/alerts/" + encodeURIComponent(item.alert_id) + "/decision";
  const decide = async (body) => {
    const answer = await postAction(path, body, info);
    if (answer) {
      const decision = { decision: answer.action.decision, discount_pct: answer.action.discount_pct ?? null,
        by: answer.action.by, at: answer.occurred_at };
      state.alerts.set(item.alert_id, Object.assign({}, state.alerts.get(item.alert_id), { decision }));
      renderAlerts();
    }
  };
  const button = (label, testid, handler) => {
    const b = el("button", { type: "button", class: "act", "data-testid": testid, text: label });
    b.addEventListener("click", handler);
    return b;
  };
  const counterPct = el("input", { type: "number", min: "0.5", step: "0.5", size: "4", "data-testid": "counter-pct",
    "aria-label": "Counter-offer in percent", value: String(Math.max(0.5, Math.floor((item.discount_pct || 1) / 2))) });
  box.append(
    button("Approve", "approve", () => decide({ decision: "approved" })), " ",
    button("Reject", "reject", () => decide({ decision: "rejected" })), " ",
    counterPct, button("Counter", "counter", () => decide({ decision: "countered", discount_pct: Number(counterPct.value) })),
    " ", info);
  return box;
}

// ---- the plot and the table -------------------------------------------------------------

function pct(value) {
  return value === null || value === undefined ? "—" : (100 * value).toFixed(1) + " %";
}

// Where an actor sits: nothing won but late discounts given is drawn on the right edge.
function plotPoint(item, xMax) {
  let x = item.late_discount_intensity;
  if (x === null || x === undefined) x = item.late_discounts.value > 0 ? xMax : 0;
  return { x: Math.min(x, xMax), y: item.leader_share ?? 0, actor: item.actor, verdict: item.verdict };
}

const quadrants = {
  id: "quadrants",
  afterDraw(chart, _args, options) {
    const { ctx, chartArea, scales } = chart;
    const x = scales.x.getPixelForValue(options.intensity);
    const y = scales.y.getPixelForValue(options.share);
    ctx.save();
    ctx.strokeStyle = "#888";
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(x, chartArea.top); ctx.lineTo(x, chartArea.bottom);
    ctx.moveTo(chartArea.left, y); ctx.lineTo(chartArea.right, y);
    ctx.stroke();
    ctx.setLineDash([]);
    // The quadrant names, in the middle of their quadrants, behind the points.
    ctx.font = "bold 18px sans-serif";
    ctx.textAlign = "center";
    ctx.globalAlpha = 0.35;
    ctx.fillStyle = "#3c9d5d";
    ctx.fillText("leader", (chartArea.left + x) / 2, (chartArea.top + y) / 2);
    ctx.fillStyle = "#c8553d";
    ctx.fillText("manager", (x + chartArea.right) / 2, (y + chartArea.bottom) / 2);
    ctx.globalAlpha = 1;
    // Each point named: the plot is read person by person.
    ctx.font = "12px sans-serif";
    ctx.fillStyle = "#333";
    const meta = chart.getDatasetMeta(0);
    meta.data.forEach((point, i) => {
      const raw = chart.data.datasets[0].data[i];
      ctx.textAlign = point.x > chartArea.right - 80 ? "right" : "left";
      ctx.fillText(raw.actor, point.x + (ctx.textAlign === "right" ? -10 : 10), point.y - 8);
    });
    ctx.restore();
  },
};

function renderScorecardTable(items) {
  const body = $("scorecard-rows");
  body.replaceChildren(...items.map((item) => {
    const lp = item.leader_share_parts, et = item.early_touch_parts, won = item.late_discount_intensity_parts.won;
    const helped = Object.entries(item.help).filter(([, h]) => h.offered > 0)
      .map(([k, h]) => k.replace("_", " ") + " ×" + h.offered + (h.known_rate !== null ? " (" + pct(h.known_rate) + " known" +
        (h.baseline.known_rate !== null ? " vs " + pct(h.baseline.known_rate) : "") + ")" : "")).join(", ");
    return el("tr", { "data-testid": "scorecard-row", "data-actor": item.actor },
      el("th", { scope: "row", text: item.actor }),
      el("td", { class: "verdict-" + item.verdict, "data-testid": "scorecard-verdict", text: item.verdict }),
      el("td", { class: "num", "data-testid": "scorecard-leader-share", title: money(lp.early.value) + " of " + money(lp.touched.value),
        text: pct(item.leader_share) }),
      el("td", { class: "num", text: pct(item.early_touch_share) + " (" + et.first_touched_early + "/" + et.closed_touched + ")" }),
      el("td", { class: "num", "data-testid": "scorecard-late-discounts",
        text: item.late_discounts.count + " · " + money(item.late_discounts.value, "", true) }),
      el("td", { class: "num", title: money(item.late_discounts.value) + " of " + money(won.amount) + " won",
        text: pct(item.late_discount_intensity) }),
      el("td", { text: helped || "—" }),
      el("td", { class: "num", "data-testid": "scorecard-actions",
        text: item.actions.reviews + " / " + item.actions.help + " / " + item.actions.decisions }));
  }));
  $("no-scorecard").hidden = items.length > 0;
}

async function loadScorecard() {
  const canvas = $("scorecard-chart");
  try {
    const q = new URLSearchParams();
    if (state.filters.team) q.set("team", state.filters.team);
    const page = await api("/v1/scorecards?" + q);
    scorecard.items = page.items;
    $("scorecard-title").textContent = "Scorecard " + page.quarter;
    renderScorecardTable(page.items);
    const limits = page.items.length ? page.items[0].verdict_parts
      : { leader_share_at_least: 0.5, late_discount_intensity_at_most: 0.02 };
    const xs = page.items.map((i) => i.late_discount_intensity).filter((v) => v !== null && v !== undefined);
    const xMax = Math.max(0.1, 2 * limits.late_discount_intensity_at_most, ...xs.map((v) => v * 1.1));
    const points = page.items.map((i) => plotPoint(i, xMax));
    canvas.dataset.points = JSON.stringify(points);
    if (typeof Chart === "undefined") {
      $("scorecard-note").textContent = "The chart library is missing: run deploy/setup.sh.";
      return;
    }
    const colors = points.map((p) => (p.verdict === "leader" ? "#3c9d5d" : p.verdict === "manager" ? "#c8553d" : "#4a6fa5"));
    const data = { datasets: [{ data: points, backgroundColor: colors, pointRadius: 7, clip: false }] };
    const options = {
      animation: false,
      layout: { padding: { right: 12, top: 8 } },
      plugins: {
        legend: { display: false },
        quadrants: { share: limits.leader_share_at_least, intensity: limits.late_discount_intensity_at_most },
        tooltip: { callbacks: { label: (c) => c.raw.actor + ": " + pct(c.raw.y) + " early, " + pct(c.raw.x) + " given away" } },
      },
      scales: {
        x: { min: 0, max: xMax, title: { display: true, text: "late discount intensity (given away ÷ won)" },
          ticks: { callback: (v) => (100 * v).toFixed(0) + " %" } },
        y: { min: 0, max: 1, title: { display: true, text: "leader share (value touched while early)" },
          ticks: { callback: (v) => (100 * v).toFixed(0) + " %" } },
      },
    };
    if (scorecard.chart) {
      scorecard.chart.data = data;
      scorecard.chart.options = options;
      scorecard.chart.update();
    } else {
      scorecard.chart = new Chart(canvas, { type: "scatter", data, options, plugins: [quadrants] });
    }
    document.body.dataset.scorecard = String((Number(document.body.dataset.scorecard) || 0) + 1);
  } catch (err) {
    $("scorecard-note").textContent = err.message;
  }
}

// The worker folds an action within a second or two: read the scorecard again a few times.
function refreshScorecardSoon() {
  scorecard.timers.forEach(clearTimeout);
  scorecard.timers = [700, 2000, 5000].map((ms) => setTimeout(loadScorecard, ms));
}

document.addEventListener("DOMContentLoaded", () => {
  loadScorecard();
  setInterval(loadScorecard, 30000);
});
