/* 监督与统计: the figures table (each number drills down to the assignments behind it), a
   trend of any rate, call KPIs by hour, overdue and due-soon lists with 催办/督办, dead
   webhook deliveries with retry, CSV export. Charts: Apache ECharts (vendored). */
"use strict";

(() => {
  const { api, run, h, fill, label, time, pct, showOk, orderDetail } = hc;
  const form = document.getElementById("fig-form");
  const COUNTS = [["dispatched", "派单"], ["signed_on_time", "按时签收"], ["replied", "回复"], ["replied_on_time", "按时回复"],
    ["returned", "退单"], ["visited", "回访"], ["satisfied", "满意"], ["received", "受理"], ["resolved_directly", "直接答复"]];
  const RATES = [["sign_on_time_rate", "签收率"], ["reply_rate", "回复率"], ["reply_on_time_rate", "按时回复率"],
    ["return_rate", "退单率"], ["response_rate", "响应率"], ["satisfaction_rate", "满意率"], ["resolution_rate", "解决率"],
    ["visit_rate", "回访率"], ["direct_rate", "直接答复率"]];
  const charts = {};

  function period() {
    const d = hc.formData(form);
    const q = new URLSearchParams({ group: d.group });
    if (d.period === "range") { if (d.from) q.set("from", d.from); if (d.to) q.set("to", d.to); }
    else { q.set("period", d.period); if (d.date) q.set("date", d.date); }
    return q;
  }

  async function loadFigures() {
    const q = period();
    const data = await api("GET", `/api/figures?${q}`);
    document.getElementById("csv").href = `/api/figures.csv?${q}`;
    const rows = [...data.rows, { ...data.total, key: null, name: "合计" }];
    const link = (row, metric, side, text) => h("a", {
      href: "#drill", "data-metric": metric, "data-key": row.key ?? "",
      onclick: (e) => { e.preventDefault(); run(null, () => drill(q, metric, side, row)); },
    }, text);
    fill("figures",
      h("caption", {}, `${data.period.from} 至 ${data.period.to}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "名称"),
        COUNTS.map(([, t]) => h("th", { scope: "col" }, t)), RATES.map(([, t]) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.filter((r) => r.key === null || r.dispatched || r.received || r.visited).map((r) =>
        h("tr", { class: r.key === null ? "total" : "" }, h("th", { scope: "row" }, r.name || r.key || "—"),
          COUNTS.map(([m]) => h("td", {}, r[m] ? link(r, m, "numerator", r[m]) : "0")),
          RATES.map(([m]) => h("td", {}, r[m] == null ? "—" : link(r, m, "numerator", pct(r[m]))))))));
  }

  async function drill(q, metric, side, row, cursor) {
    const dq = new URLSearchParams(q);
    dq.set("metric", metric);
    dq.set("side", side);
    if (row.key !== null && row.key !== undefined) dq.set("key", row.key);
    if (cursor) dq.set("cursor", cursor);
    const data = await api("GET", `/api/figures/orders?${dq}`);
    const name = [...COUNTS, ...RATES].find(([m]) => m === metric)[1];
    fill("drill", h("h3", { id: "drill-h" }, `${row.name || "合计"} · ${name}${side === "denominator" ? "（分母）" : ""}：${data.items.length} 条`),
      hc.table([
        ["工单号", (i) => h("a", { href: `#order-${i.order_id}`, class: "order-link",
          onclick: (e) => { e.preventDefault(); run(null, async () => fill("order-detail", orderDetail(await api("GET", `/api/orders/${i.order_id}`)))); } }, i.number)],
        ["承办单位", (i) => i.unit_name || "—"], ["状态", (i) => label("status", i.status)],
        ["工单状态", (i) => label("status", i.order_status)], ["回复期限", (i) => time(i.reply_due_at)], ["回复时间", (i) => time(i.replied_at)],
      ], data.items),
      RATES.some(([m]) => m === metric) && side === "numerator"
        ? h("button", { type: "button", class: "small", onclick: () => run(null, () => drill(q, metric, "denominator", row)) }, "查看分母")
        : null,
      data.next_cursor ? h("button", { type: "button", class: "small", onclick: () => run(null, () => drill(q, metric, side, row, data.next_cursor)) }, "下一页") : null);
    document.getElementById("drill-h").scrollIntoView({ block: "nearest" });
  }

  function chart(id) {
    charts[id] = charts[id] || echarts.init(document.getElementById(id));
    return charts[id];
  }

  async function loadTrend() {
    const metric = document.getElementById("trend-metric").value;
    const to = new Date(document.body.dataset.now);
    const from = new Date(to.getTime() - 29 * 86400000);
    const day = (d) => d.toISOString().slice(0, 10);
    const data = await api("GET", `/api/figures/trend?metric=${metric}&from=${day(from)}&to=${day(to)}`);
    const isRate = metric.endsWith("_rate");
    chart("trend-chart").setOption({
      grid: { left: 48, right: 16, top: 24, bottom: 32 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.points.map((p) => p.date.slice(5)) },
      yAxis: isRate ? { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } } : { type: "value", minInterval: 1 },
      series: [{ type: "line", connectNulls: true, data: data.points.map((p) => (p.value == null ? null : isRate ? +(p.value * 100).toFixed(1) : p.value)) }],
    }, true);
  }

  async function loadCalls() {
    const q = period();
    q.delete("group");
    q.set("by", "hour");
    const data = await api("GET", `/api/figures/calls?${q}`);
    const rows = data.rows;
    chart("calls-chart").setOption({
      grid: { left: 40, right: 48, top: 36, bottom: 28 },
      legend: { top: 0, data: ["接通", "放弃", "接通率"] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: rows.map((r) => r.name.slice(0, 2)) },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }],
      series: [
        { name: "接通", type: "bar", stack: "calls", data: rows.map((r) => r.answered) },
        { name: "放弃", type: "bar", stack: "calls", data: rows.map((r) => r.abandoned) },
        { name: "接通率", type: "line", yAxisIndex: 1, data: rows.map((r) => (r.answer_rate == null ? null : +(r.answer_rate * 100).toFixed(1))) },
      ],
    }, true);
    const t = data.total || {};
    document.getElementById("calls-total").textContent =
      `呼入 ${t.offered ?? 0}，接通 ${t.answered ?? 0}（${pct(t.answer_rate)}），放弃 ${t.abandoned ?? 0}，15 秒服务水平 ${pct(t.service_level_15s)}，平均应答 ${t.asa_seconds ?? "—"} 秒`;
  }

  function deadlineTable(id, data, empty) {
    const press = (button, order, action) => run(button, async () => {
      await api("POST", `/api/orders/${order.order_id}/actions/${action}`, { note: "" });
      showOk(`工单 ${order.number} 已${label("action", action)}`);
    });
    fill(id, hc.table([
      ["工单号", (i) => i.number], ["承办单位", (i) => i.unit_name], ["时限", (i) => (i.clock === "sign" ? "签收" : "回复")],
      ["期限", (i) => hc.countdown(i.due_at, i.dispatched_at)],
      ["操作", (i) => [h("button", { type: "button", class: "small", "data-action": "remind", onclick: (e) => press(e.currentTarget, i, "remind") }, "催办"),
        " ", h("button", { type: "button", class: "small", "data-action": "supervise", onclick: (e) => press(e.currentTarget, i, "supervise") }, "督办")]],
    ], data.items, empty));
  }

  async function loadDeadlines() {
    const [overdue, soon] = await Promise.all([api("GET", "/api/deadlines/overdue?limit=50"), api("GET", "/api/deadlines/due-soon?within_hours=24")]);
    deadlineTable("overdue", overdue, "没有超期工单");
    deadlineTable("due-soon", soon, "24 小时内没有到期工单");
  }

  async function loadDead() {
    const data = await api("GET", "/api/outbox/dead?limit=50");
    fill("dead", hc.table([
      ["单位", (d) => d.unit_code], ["主题", (d) => d.topic], ["次数", (d) => d.attempts],
      ["最后错误", (d) => d.last_error || d.last_status || "—"], ["时间", (d) => time(d.last_attempt_at)],
      ["", (d) => h("button", { type: "button", class: "small", onclick: (e) => run(e.currentTarget, async () => {
        await api("POST", `/api/outbox/${d.id}/retry`, {});
        showOk("已重新排队投递");
        await loadDead();
      }) }, "重试")],
    ], data.items, "没有投递失败的推送"));
  }

  /* ---------------------------------------------------------------- start */
  form.elements.date.value = document.body.dataset.now.slice(0, 10);
  fill("trend-metric", RATES.map(([m, t]) => h("option", { value: m }, t)));
  form.elements.period.addEventListener("change", (e) => {
    const range = e.target.value === "range";
    form.elements.date.disabled = range;
    form.elements.from.disabled = !range;
    form.elements.to.disabled = !range;
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); run(e.submitter, () => Promise.all([loadFigures(), loadCalls()])); });
  document.getElementById("trend-metric").addEventListener("change", () => run(null, loadTrend));
  document.getElementById("dead-refresh").addEventListener("click", (e) => run(e.currentTarget, loadDead));
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  run(null, () => Promise.all([loadFigures(), loadTrend(), loadCalls(), loadDeadlines(), loadDead()]))
    .finally(() => { document.body.dataset.ready = "1"; });
})();
