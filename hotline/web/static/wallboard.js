/* 实时监控: the wallboard (per queue: callers waiting and their waits, agents by state, today's
   figures) from GET /api/wallboard, then live from its socket; each agent's day below. */
"use strict";

(() => {
  const { api, run, h, fill, pct, table } = hc;
  const STATE = { offline: "未签入", ready: "示闲", ringing: "振铃", in_call: "通话中", wrapup: "话后处理", paused: "示忙" };
  let signingOut = false;

  const secs = (s) => (s == null ? "—" : s >= 60 ? `${Math.floor(s / 60)} 分 ${s % 60} 秒` : `${s} 秒`);
  const hms = (s) => {
    const p = (n) => String(n).padStart(2, "0");
    return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
  };

  function queueCard(q) {
    const waitClass = q.longest_wait == null ? "" : q.longest_wait > 60 ? "bad" : q.longest_wait > 15 ? "warn" : "";
    return h("section", { class: "queue", "data-queue": q.queue, "aria-label": `队列 ${q.queue}` },
      h("h2", {}, `队列 ${q.queue}`),
      h("div", { class: "tiles" },
        h("div", { class: `tile ${q.waiting.length ? "warn" : ""}` }, h("b", { "data-k": "waiting" }, q.waiting.length), "排队"),
        h("div", { class: `tile ${waitClass}` }, h("b", { "data-k": "longest" }, secs(q.longest_wait)), "最长等待"),
        Object.entries(STATE).filter(([k]) => k !== "offline").map(([k, t]) =>
          h("div", { class: `tile state-${k}` }, h("b", { "data-k": k }, q.agents_by_state[k]), t))),
      h("p", { class: "muted" },
        `今日 呼入 ${q.today.offered} · 接通 ${q.today.answered} · 放弃 ${q.today.abandoned} · 15 秒服务水平 ${pct(q.today.service_level_15s)}`),
      q.waiting.length
        ? h("ol", { class: "waiting" }, q.waiting.map((w) => h("li", {}, `等待 ${secs(w.wait)}`, w.incomplete ? "（估计）" : "")))
        : null,
      table([
        ["坐席", (m) => m.name || m.interface],
        ["状态", (m) => h("span", { class: `pill state-${m.state}` }, STATE[m.state] || m.state)],
        ["原因", (m) => (m.paused ? m.reason || "未注明" : "—")],
        ["持续", (m) => secs(m.in_state)],
        ["接听", (m) => m.calls_taken],
        ["节点", (m) => m.node],
      ], q.members, "此队列没有坐席"));
  }

  function render(board) {
    fill("queues", board.queues.length ? board.queues.map(queueCard) : h("p", { class: "muted" }, "尚无队列数据：交换机未连接或没有坐席。"));
    fill("board-at", `更新于 ${hc.time(board.at)}`);
  }

  function connect(delay = 1000) {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/wallboard/ws`);
    const state = document.getElementById("live-state");
    ws.onmessage = (m) => {
      const event = JSON.parse(m.data);
      if (event.type === "hello") {
        state.textContent = "实时"; state.className = "pill live"; delay = 1000;
        run(null, async () => render(await api("GET", "/api/wallboard")));  // nothing missed since the subscription
      }
      if (event.type === "wallboard") render(event.wallboard);
    };
    ws.onclose = () => {
      state.textContent = "已断开，重连中…";
      state.className = "pill off";
      if (!signingOut) setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    };
    window.addEventListener("hc:signout", () => { signingOut = true; ws.close(); }, { once: true });
  }

  async function agents() {
    const day = await api("GET", "/api/figures/agents");
    fill("agents", table([
      ["坐席", (a) => a.display_name || a.member_name || a.interface],
      ["签入", (a) => hms(a.signed_in)], ["通话", (a) => hms(a.talk)], ["示忙", (a) => hms(a.busy_total)],
      ["示忙原因", (a) => Object.entries(a.busy).map(([r, s]) => `${r} ${hms(s)}`).join("，") || "—"],
      ["话后", (a) => hms(a.wrapup)], ["接听", (a) => a.calls], ["占用率", (a) => pct(a.occupancy)],
    ], day.agents, "今日还没有坐席签入"));
  }

  document.getElementById("agents-refresh").addEventListener("click", (e) => run(e.currentTarget, agents));
  run(null, async () => {
    render(await api("GET", "/api/wallboard"));
    await agents();
  }).finally(() => { document.body.dataset.ready = "1"; });
  connect();
  setInterval(() => agents().catch(() => {}), 60000);
})();
