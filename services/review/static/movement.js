// Pipeline movement on the dashboard: the quarter's flow as a waterfall (Chart.js, fetched by
// deploy/setup.sh from npm and served by review), the deals of a clicked bar, the stalled deals.
// Uses api(), el(), money() and state.filters from dashboard.js.
"use strict";

const FLOW_BARS = [
  ["start", "Start", 0], ["new", "New", 1], ["pulled_in", "Pulled in", 1], ["pushed_out", "Pushed out", -1],
  ["increased", "Increased", 1], ["decreased", "Decreased", -1], ["won", "Won", -1], ["lost", "Lost", -1],
  ["end", "End", 0],
];
const movement = { chart: null, flow: null };

function filterQuery(extra) {
  const q = new URLSearchParams(extra || {});
  for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
  return q;
}

// Floating bars: start and end from zero, each bucket from the running total up or down.
function waterfallBars(buckets) {
  let level = 0;
  return FLOW_BARS.map(([name, , sign]) => {
    const amount = buckets[name].amount;
    if (sign === 0) { level = amount; return [0, amount]; }
    const from = level;
    level += sign * amount;
    return [from, level];
  });
}

async function loadMovement() {
  const canvas = $("flow-chart");
  try {
    const flow = await api("/v1/pipeline/flow?" + filterQuery());
    movement.flow = flow;
    $("flow-title").textContent = "Pipeline flow " + flow.quarter + (flow.reconciles ? "" : " (does not reconcile!)");
    canvas.dataset.buckets = JSON.stringify(Object.fromEntries(FLOW_BARS.map(([n]) => [n, flow.buckets[n].amount])));
    if (typeof Chart === "undefined") {
      $("flow-note").textContent = "The chart library is missing: run deploy/setup.sh.";
      return;
    }
    const bars = waterfallBars(flow.buckets);
    canvas.dataset.bars = JSON.stringify(bars);
    const colors = FLOW_BARS.map(([, , sign]) => (sign === 0 ? "#4a6fa5" : sign > 0 ? "#3c9d5d" : "#c8553d"));
    const data = { labels: FLOW_BARS.map(([, label]) => label), datasets: [{ data: bars, backgroundColor: colors }] };
    if (movement.chart) {
      movement.chart.data = data;
      movement.chart.update();
    } else {
      movement.chart = new Chart(canvas, {
        type: "bar", data,
        options: {
          animation: false, plugins: { legend: { display: false }, tooltip: { callbacks: {
            label: (ctx) => { const b = flow.buckets[FLOW_BARS[ctx.dataIndex][0]];
              return b.count + " deals · " + money(b.amount, "", true); } } } },
          onClick: (_e, hit) => { if (hit.length) showBucket(FLOW_BARS[hit[0].index][0]); },
        },
      });
    }
  } catch (err) {
    $("flow-note").textContent = "flow unavailable: " + err.message;
  }
}

async function showBucket(bucket) {
  const list = $("flow-deals");
  const label = FLOW_BARS.find(([n]) => n === bucket)[1];
  const page = await api("/v1/pipeline/flow?" + filterQuery({ bucket, limit: "20" }));
  list.dataset.bucket = bucket;
  $("flow-deals-title").textContent = label + ": " + page.buckets[bucket].count + " deals";
  list.replaceChildren(...page.items.map((item) => el("li", { "data-testid": "flow-deal", "data-deal-id": item.deal_id },
    el("strong", { text: item.name || item.deal_id }), " " + money(item.score, item.currency) +
    (item.push_count ? " · pushed " + item.push_count + "×" : "") + " · " + (item.stage || ""))));
}

async function loadStalled() {
  const list = $("stalled-list");
  try {
    const page = await api("/v1/lists/stalled?" + filterQuery({ limit: "10" }));
    list.replaceChildren(...page.items.map((item) => el("li", { "data-testid": "stalled-deal", "data-deal-id": item.deal_id },
      el("strong", { text: item.name || item.deal_id }),
      " " + item.days_in_stage + " days in " + item.stage + " (limit " + item.stall_days + ") · " +
      money(item.potential_value || 0, item.currency) + " potential")));
    $("no-stalled").hidden = page.items.length > 0;
  } catch (err) {
    $("no-stalled").textContent = "stalled deals unavailable: " + err.message;
  }
}

function loadMovementPanels() {
  loadMovement();
  loadStalled();
}
