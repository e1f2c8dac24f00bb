/* 坐席状态 on the agent's desk: sign in to / out of the queues, busy with a reason (示忙) and ready
   (示闲). The buttons queue AMI commands (answered 202); the state shown is what the AMI adapter
   last saw in each queue, read again after each action and every 10 s. */
"use strict";

(() => {
  const { api, run, h, fill } = hc;
  const section = document.getElementById("presence");
  if (!section || document.body.dataset.role !== "agent") { if (section) section.hidden = true; return; }
  const STATE = { offline: "未签入", ready: "示闲", ringing: "振铃", in_call: "通话中", wrapup: "话后处理", paused: "示忙" };
  let reasonsShown = false;

  function summary(queues) {
    if (!queues.length) return ["offline", null];
    const order = ["in_call", "ringing", "wrapup", "paused", "ready", "offline"];
    const top = queues.map((q) => q.state).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
    const paused = queues.find((q) => q.paused);
    return [top, paused ? paused.reason : null];
  }

  async function refresh() {
    const me = await api("GET", "/api/agents/me/presence");
    if (!reasonsShown) {
      fill("pause-reason", me.reasons.map((r) => h("option", { value: r }, r)));
      reasonsShown = true;
    }
    const [state, reason] = summary(me.queues);
    const pill = document.getElementById("presence-state");
    pill.textContent = STATE[state] + (reason ? `（${reason}）` : "");
    pill.className = `pill state-${state}`;
    pill.dataset.state = state;
    fill("presence-queues", me.interface
      ? me.queues.map((q) => `${q.queue}：${STATE[q.state]}${q.paused && q.state !== "paused" ? "（示忙）" : ""}`).join("　")
      : "此账号没有分机，不能签入队列");
  }

  function action(id, path, body) {
    document.getElementById(id).addEventListener("click", (e) => run(e.currentTarget, async () => {
      await api("POST", path, body ? body() : {});
      hc.showOk("已发送到交换机");
      setTimeout(() => run(null, refresh), 1500);
    }));
  }

  action("sign-in", "/api/agents/me/sign-in");
  action("sign-out", "/api/agents/me/sign-out");
  action("pause", "/api/agents/me/pause", () => ({ reason: document.getElementById("pause-reason").value }));
  action("unpause", "/api/agents/me/unpause");
  run(null, refresh);
  setInterval(() => refresh().catch(() => {}), 10000);  // quietly: a failed poll is not the agent's doing
})();
