/* 承办单位工作台: the unit's assignments with countdowns, kept current by polling the changes
   since the newest one held; sign, contact, notes, reply, return, extension; a hub also
   re-dispatches down, reviews its offices' replies and decides their extension requests.
   Everything shown comes from /api/units/me…, which masks what a unit must not see. */
"use strict";

(() => {
  const { api, run, h, fill, label, time, countdown, showOk } = hc;
  const PAGE = 50, POLL_MS = 10000;
  const rows = new Map(); // assignment id → assignment, in the API's order (oldest change first)
  let me = null, children = [], cursor = null, selected = null, filter = "dispatched,signed,replied";
  // Changes are asked for from the server's time when the page was made, then from the newest change seen.
  let newest = document.body.dataset.now;

  const unitName = (a) => (a.unit_id === me.id ? me.name : (children.find((u) => u.id === a.unit_id) || {}).name || a.unit_code);
  const shown = (a) => !filter || filter.split(",").includes(a.status);

  function renderList() {
    const body = document.querySelector("#assignments tbody");
    const items = [...rows.values()].filter(shown);
    fill(body, items.length ? items.map((a) => h("tr", {
      class: [a.id === selected ? "selected" : "", a.fresh ? "fresh" : ""].join(" "), "data-id": a.id },
      h("td", {}, h("button", { type: "button", class: "link", onclick: () => run(null, () => open(a.id)) }, a.order.number),
        a.fresh ? h("span", { class: "pill live" }, "新") : null),
      h("td", {}, unitName(a)), h("td", {}, label("kind", a.order.kind)), h("td", {}, label("status", a.status)),
      h("td", {}, a.status === "dispatched" ? countdown(a.sign_due_at, a.dispatched_at) : h("span", { class: "muted" }, time(a.signed_at))),
      h("td", {}, ["dispatched", "signed"].includes(a.status) ? countdown(a.reply_due_at, a.dispatched_at) : h("span", { class: "muted" }, time(a.replied_at)))))
      : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "暂无工单")));
    document.getElementById("more").hidden = !cursor;
    document.getElementById("count").textContent = `已加载 ${items.length} 条${cursor ? "，还有更多" : ""}`;
  }

  function remember(items, fresh) {
    for (const a of items) {
      a.fresh = fresh && !rows.has(a.id) && a.status === "dispatched";
      rows.delete(a.id); // a changed assignment moves to the end, as the API orders them
      rows.set(a.id, a);
      if (fresh && a.updated_at > newest) newest = a.updated_at;
    }
  }

  async function loadPage(reset) {
    if (reset) { rows.clear(); cursor = null; }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (filter) q.set("status", filter);
    if (cursor) q.set("cursor", cursor);
    const page = await api("GET", `/api/units/me/assignments?${q}`);
    remember(page.items, false);
    cursor = page.next_cursor;
    renderList();
  }

  /* New and changed assignments since the newest one held; a page at a time until caught up. */
  async function poll() {
    let next = null, touched = false;
    do {
      const q = new URLSearchParams({ limit: "200", since: newest });
      if (next) q.set("cursor", next);
      const page = await api("GET", `/api/units/me/assignments?${q}`);
      remember(page.items, true);
      touched ||= page.items.some((a) => a.id === selected);
      next = page.next_cursor;
    } while (next);
    renderList();
    // The open assignment is drawn again only when it changed, and what the handler is typing stays.
    if (touched && rows.has(selected)) await open(selected, true);
  }

  /* What is typed in the open assignment's boxes, by element id, to keep across a redraw. */
  function drafts() {
    const out = new Map();
    for (const el of document.querySelectorAll("#detail textarea[id], #detail input[id], #detail select[id]")) out.set(el.id, el.value);
    return out;
  }

  function restore(kept) {
    for (const [id, value] of kept) {
      const el = document.getElementById(id);
      if (el && el.closest("#detail")) el.value = value;
    }
  }

  /* ---------------------------------------------------------------- one assignment */
  async function open(id, quiet) {
    // A quiet redraw (a poll, a reload of the list) of the assignment on screen keeps the drafts;
    // one after the handler's own action starts clean.
    const shown = document.querySelector("#detail [data-assignment-id]");
    const kept = quiet && shown && Number(shown.dataset.assignmentId) === id ? drafts() : null;
    selected = id;
    const a = await api("GET", `/api/units/me/assignments/${id}`);
    rows.set(a.id, { ...(rows.get(a.id) || {}), ...a, fresh: false });
    renderList();
    const o = a.order;
    const mine = a.unit_id === me.id;
    const asDispatcher = a.dispatcher_unit_id === me.id && !mine;
    const act = (button, op, body, done) => run(button, async () => {
      await api("POST", `/api/units/me/assignments/${a.id}/${op}`, body);
      showOk(done);
      await poll();
      await open(a.id);
    });
    const sections = [];
    if (mine && a.status === "dispatched") {
      sections.push(h("button", { type: "button", class: "primary", id: "sign", onclick: (e) => act(e.currentTarget, "sign", {}, "已签收") }, "签收"));
    }
    if (mine && me.kind === "hub" && ["dispatched", "signed"].includes(a.status)) sections.push(await redispatchBox(a));
    if (mine && a.status === "signed") sections.push(...workBoxes(a, act));
    if (mine && ["dispatched", "signed"].includes(a.status)) sections.push(returnBox(a, act));
    if (asDispatcher && a.status === "replied") sections.push(reviewBox(a, act));
    if (asDispatcher && a.extension_status === "requested") sections.push(extensionDecisionBox(a, act));
    const events = (a.events || []).map((e) => h("li", {}, h("time", {}, time(e.created_at)), " ", label("action", e.action),
      e.payload && (e.payload.note || e.payload.reason || e.payload.text) ? `：${e.payload.note || e.payload.reason || e.payload.text}` : ""));
    fill("detail",
      h("div", { class: "detail", "data-assignment-id": a.id },
        h("p", {}, h("strong", { id: "detail-number" }, o.number), " ", h("span", { class: "pill", id: "detail-status" }, label("status", a.status)),
          " ", unitName(a)),
        h("dl", {},
          h("dt", {}, "类型"), h("dd", {}, `${label("kind", o.kind)} · ${label("urgency", o.urgency)}`),
          h("dt", {}, "内容"), h("dd", {}, o.content),
          h("dt", {}, "地址"), h("dd", {}, o.address || "—"),
          h("dt", {}, "诉求人"), h("dd", { id: "detail-caller" }, o.anonymous ? "匿名" : `${o.caller_name || "—"} ${o.caller_number || ""}`),
          h("dt", {}, "签收时限"), h("dd", {}, a.status === "dispatched" ? countdown(a.sign_due_at, a.dispatched_at) : `签收于 ${time(a.signed_at)}`, " · 期限 ", time(a.sign_due_at)),
          h("dt", {}, "回复时限"), h("dd", {}, ["dispatched", "signed"].includes(a.status) ? countdown(a.reply_due_at, a.dispatched_at) : `回复于 ${time(a.replied_at)}`, " · 期限 ", time(a.reply_due_at)),
          a.reply_text ? [h("dt", {}, "回复"), h("dd", {}, `${label("result", a.reply_result)}：${a.reply_text}`)] : null,
          a.extension_status ? [h("dt", {}, "延期"), h("dd", {}, `${a.extension_days} 天 · ${a.extension_status === "requested" ? "待审批" : a.extension_status === "approved" ? "已批准" : "未批准"} · ${a.extension_reason || ""}`)] : null),
        sections,
        events.length ? [h("h3", {}, "办理记录"), h("ol", { class: "events" }, events)] : null));
    if (kept) restore(kept);
    if (!quiet) document.getElementById("detail").focus?.();
  }

  function textBox(title, id, placeholder, button, onsubmit, extra = []) {
    const input = h("textarea", { id, rows: 2, placeholder, "aria-label": title });
    const f = h("form", { class: "box" }, h("h3", {}, title), input, extra, h("button", { type: "submit" }, button));
    f.addEventListener("submit", (e) => { e.preventDefault(); onsubmit(e.submitter, input.value.trim()); });
    return f;
  }

  function workBoxes(a, act) {
    const result = h("select", { id: "reply-result", "aria-label": "办理结果" },
      Object.entries(hc.LABELS.result).map(([v, t]) => h("option", { value: v }, t)));
    const links = h("textarea", { id: "reply-attachments", rows: 1, placeholder: "附件链接，每行一个（可选）", "aria-label": "附件链接" });
    const boxes = [
      textBox("联系诉求人", "contact-note", "联系情况", "记录联系", (b, note) => act(b, "contact", { note }, "已记录联系")),
      textBox("办理进展", "progress-note", "进展说明", "添加进展", (b, note) => act(b, "notes", { note }, "已添加进展")),
      textBox("回复", "reply-text", "办理结果说明", "提交回复", (b, text) => act(b, "reply", {
        text, result: result.value, attachments: links.value.split("\n").map((s) => s.trim()).filter(Boolean),
      }, "已回复"), [h("label", {}, "结果 ", result), links]),
    ];
    if (!a.extension_status) {
      const days = h("input", { type: "number", id: "extension-days", min: 1, max: 15, value: 5, "aria-label": "延期天数" });
      boxes.push(textBox("申请延期", "extension-reason", "延期理由", "提交申请",
        (b, reason) => act(b, "extension", { days: Number(days.value), reason }, "已申请延期"), [h("label", {}, "天数 ", days)]));
    }
    return boxes;
  }

  function returnBox(a, act) {
    return textBox("退单", "return-reason", "退单理由（如：不属于本单位职责）", "退回", (b, reason) => act(b, "return", { reason }, "已退单"));
  }

  function reviewBox(a, act) {
    const reason = h("input", { id: "review-reason", placeholder: "退回理由", "aria-label": "退回理由" });
    return h("div", { class: "box" }, h("h3", {}, "审核下级回复"),
      h("button", { type: "button", class: "primary", id: "review-accept", onclick: (e) => act(e.currentTarget, "review", { accept: true }, "已通过审核") }, "通过"),
      reason, h("button", { type: "button", id: "review-reject", onclick: (e) => act(e.currentTarget, "review", { accept: false, reason: reason.value }, "已退回重办") }, "退回"));
  }

  function extensionDecisionBox(a, act) {
    const note = h("input", { id: "decision-note", placeholder: "审批意见", "aria-label": "审批意见" });
    return h("div", { class: "box" }, h("h3", {}, `延期申请：${a.extension_days} 天`), note,
      h("button", { type: "button", id: "extension-approve", onclick: (e) => act(e.currentTarget, "extension-decision", { approve: true, note: note.value }, "已批准延期") }, "批准"),
      h("button", { type: "button", id: "extension-deny", onclick: (e) => act(e.currentTarget, "extension-decision", { approve: false, note: note.value }, "已驳回延期") }, "驳回"));
  }

  async function redispatchBox(a) {
    const route = await api("GET", `/api/orders/${a.order_id}/route`).catch(() => ({}));
    const suggested = route.dispatch_to_unit_id;
    const select = h("select", { id: "redispatch-unit", "aria-label": "转派单位" },
      children.map((u) => h("option", { value: u.id, selected: u.id === suggested }, u.name + (u.id === suggested ? "（建议）" : ""))));
    const go = (button, unitId) => run(button, async () => {
      await api("POST", `/api/orders/${a.order_id}/actions/redispatch`, { unit_id: unitId });
      showOk("已转派");
      await poll();
      await open(a.id);
    });
    return h("div", { class: "box" }, h("h3", {}, "转派下级"),
      suggested ? h("button", { type: "button", class: "primary", id: "redispatch-suggested", onclick: (e) => go(e.currentTarget, suggested) },
        `按建议转派 ${(children.find((u) => u.id === suggested) || {}).name || suggested}`) : h("p", { class: "muted" }, "没有建议的下级单位"),
      h("div", { class: "row" }, select, h("button", { type: "button", id: "redispatch-other", onclick: (e) => go(e.currentTarget, Number(select.value)) }, "转派所选")));
  }

  /* /inbox#assignment-<id> opens one assignment (links from elsewhere; the API decides if it is ours). */
  async function openLinked() {
    const linked = /^#assignment-(\d+)$/.exec(location.hash);
    if (linked) await open(Number(linked[1]));
  }

  /* ---------------------------------------------------------------- start */
  document.getElementById("more").addEventListener("click", (e) => run(e.currentTarget, () => loadPage(false)));
  document.querySelector("#filter select").addEventListener("change", (e) => { filter = e.target.value; run(null, () => loadPage(true)); });
  setInterval(() => { run(null, poll); }, POLL_MS);
  setInterval(renderList, 30000); // countdowns move on
  run(null, async () => {
    me = await api("GET", "/api/units/me");
    children = (await api("GET", "/api/console/catalog")).units;
    document.getElementById("unit-line").textContent = `${me.name}${me.kind === "hub" ? "（分中心，可转派、审核下级回复和延期申请）" : ""}`;
    await loadPage(true);
    await openLinked();
  }).finally(() => { document.body.dataset.ready = "1"; });
  // A link to another assignment on this page changes only the hash: no reload, so listen for it.
  window.addEventListener("hashchange", () => { run(null, openLinked); });
})();
