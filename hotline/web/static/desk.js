/* 话务员工作台: screen-pop, taking an order with the live routing suggestion, answering or
   dispatching it, the review and visit queue, order search. */
"use strict";

(() => {
  const { api, run, h, fill, label, time, formData, debounce, orderDetail, showOk } = hc;
  const form = document.getElementById("order-form");
  let catalog = { categories: [], units: [] };
  let signingOut = false;

  /* ---------------------------------------------------------------- live feed */
  function connect(delay = 1000) {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/desktop/ws`);
    const state = document.getElementById("live-state");
    ws.onmessage = (m) => {
      const event = JSON.parse(m.data);
      if (event.type === "hello") { state.textContent = "实时"; state.className = "pill live"; delay = 1000; }
      if (event.type === "screen_pop") screenPop(event);
    };
    ws.onclose = () => {
      state.textContent = "已断开，重连中…";
      state.className = "pill off";
      if (!signingOut) setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    };
    window.addEventListener("hc:signout", () => { signingOut = true; ws.close(); }, { once: true });
  }

  function screenPop(event) {
    const call = event.call;
    const history = event.history || [];
    fill("call",
      h("div", { class: "pop", id: `call-${call.id}` },
        h("p", { class: "caller" }, h("strong", {}, call.caller_number || "未知号码"), " ", call.caller_name || ""),
        h("p", { class: "muted" }, `队列 ${call.queue || "—"} · 接听 ${time(call.answered_at)}`),
        h("h3", {}, `近期工单（${history.length}）`),
        history.length
          ? h("ul", {}, history.map((o) => h("li", {}, `${o.number} ${label("kind", o.kind)} ${label("status", o.status)} `,
              o.title || (o.content || "").slice(0, 30))))
          : h("p", { class: "muted" }, "无历史工单"),
        h("button", { type: "button", class: "primary", id: "new-on-call", onclick: () => prefill(call) }, "在此来电上新建工单")));
  }

  function prefill(call) {
    form.reset();
    form.elements.call_id.value = call.id ?? "";
    form.elements.caller_number.value = call.caller_number || "";
    form.elements.caller_name.value = call.caller_name || "";
    chooseCategory(null);
    form.elements.content.focus();
  }

  /* ---------------------------------------------------------------- category tree */
  function chooseCategory(category) {
    form.elements.category_code.value = category ? category.code : "";
    document.getElementById("category-chosen").textContent = category ? `${category.name}（${category.code}）` : "未选择";
    suggest();
  }

  function renderTree(filter) {
    const text = filter.trim();
    const byCode = new Map(catalog.categories.map((c) => [c.code, c]));
    let shown = catalog.categories;
    if (text) {
      const keep = new Set();
      for (const c of catalog.categories) {
        if (c.name.includes(text) || c.code.startsWith(text)) {
          for (let code = c.code; code; code = code.slice(0, -2)) keep.add(code);
        }
      }
      shown = catalog.categories.filter((c) => keep.has(c.code));
    }
    fill("category-tree", shown.map((c) => h("li", { style: null, class: `depth-${c.depth}` },
      h("button", { type: "button", class: "link", "data-code": c.code, onclick: () => chooseCategory(byCode.get(c.code)) },
        c.name, h("span", { class: "muted" }, ` ${c.code}`)))));
  }

  /* ---------------------------------------------------------------- routing suggestion */
  function draft() {
    const d = formData(form);
    return { kind: d.kind, category_code: d.category_code || null, address: d.address, content: d.content };
  }

  const suggest = debounce(async () => {
    const d = draft();
    if (!d.address && !d.content) return;
    try {
      renderRoute(await api("POST", "/api/route", d));
    } catch (err) {
      fill("route", h("p", { class: "error" }, `无法获取派单建议：${err.message}`));
    }
  }, 300);

  function renderRoute(decision) {
    const place = (decision.spans || []).map((s) => s.text).join("、") || "未识别";
    fill("route",
      h("p", {}, "建议派往：", h("strong", { id: "route-unit" }, decision.unit_name || "无匹配单位")),
      h("p", {}, `识别地点：${place}`, decision.division_code ? `（${decision.division_code}）` : "",
        ` · 置信度 ${(decision.confidence * 100).toFixed(0)}%`),
      decision.needs_review
        ? h("p", { class: "warning", id: "needs-review" }, "需人工复核：引擎没有把握，请确认承办单位。")
        : h("p", { class: "ok" }, "无需复核"),
      h("ul", { class: "reasons" }, (decision.reasons || []).map((r) => h("li", {}, r))));
  }

  /* ---------------------------------------------------------------- take the order */
  async function submitOrder(event) {
    event.preventDefault();
    const d = formData(form);
    const body = {
      kind: d.kind, urgency: d.urgency, content: d.content, address: d.address,
      anonymous: d.anonymous, contact_allowed: d.contact_allowed,
    };
    if (d.category_code) body.category_code = d.category_code;
    if (d.caller_number) body.caller_number = d.caller_number;
    if (d.caller_name) body.caller_name = d.caller_name;
    const button = event.submitter;
    const order = await run(button, () => d.call_id
      ? api("POST", `/api/calls/${d.call_id}/order`, body)
      : api("POST", "/api/orders", body));
    if (!order) return;
    showOk(`已受理工单 ${order.number}`);
    form.reset();
    chooseCategory(null);
    await showCurrent(order.id);
  }

  async function showCurrent(orderId) {
    const order = await api("GET", `/api/orders/${orderId}`);
    const panel = fill("current", h("p", {}, h("strong", { id: "current-number" }, order.number), " ",
      h("span", { class: "pill", id: "current-status" }, label("status", order.status))));
    if (!["received", "returned", "reopened"].includes(order.status)) {
      panel.append(orderDetail(order));
      return;
    }
    const route = await api("GET", `/api/orders/${orderId}/route`).catch(() => ({}));
    const suggested = route.dispatch_to_unit_id;
    const unitName = (id) => (catalog.units.find((u) => u.id === id) || {}).name || `单位 ${id}`;
    const act = (button, action, body) => run(button, async () => {
      await api("POST", `/api/orders/${orderId}/actions/${action}`, { ...body, version: order.version });
      showOk(`工单 ${order.number}：${label("action", action)}完成`);
      await showCurrent(orderId);
    });
    const answer = h("textarea", { id: "direct-answer", rows: 2, "aria-label": "答复内容" });
    const other = h("select", { id: "other-unit", "aria-label": "改派单位" },
      catalog.units.filter((u) => u.kind !== "centre" && u.level !== "street")
        .map((u) => h("option", { value: u.id }, u.name)));
    const reason = h("input", { id: "override-reason", "aria-label": "改派理由", placeholder: "改派理由（必填）" });
    panel.append(
      order.status === "received" ? h("div", { class: "box" },
        h("h3", {}, "直接答复"), answer,
        h("button", { type: "button", id: "resolve", onclick: (e) => act(e.currentTarget, "resolve_directly", { note: answer.value }) }, "直接答复")) : null,
      h("div", { class: "box" },
        h("h3", {}, "派单"),
        suggested
          ? h("button", { type: "button", class: "primary", id: "dispatch-suggested",
              onclick: (e) => act(e.currentTarget, "dispatch", { unit_id: suggested }) }, `按建议派往 ${unitName(suggested)}`)
          : h("p", { class: "warning" }, "引擎没有建议的单位，请选择承办单位并说明理由。"),
        h("div", { class: "row" }, other, reason,
          h("button", { type: "button", id: "dispatch-other",
            onclick: (e) => act(e.currentTarget, "dispatch", { unit_id: Number(other.value), override_reason: reason.value || null }) },
            "派往所选单位"))),
      orderDetail(order));
  }

  /* ---------------------------------------------------------------- review and visit */
  async function loadVisits() {
    const [replied, waiting] = await Promise.all([
      api("GET", "/api/orders?status=replied&limit=20"), api("GET", "/api/orders?status=awaiting_visit&limit=20"),
    ]);
    const item = (o, what) => h("li", {}, h("button", { type: "button", class: "link", "data-order": o.number,
      onclick: () => run(null, () => showVisit(o.id)) }, `${o.number} ${what}`), ` ${(o.content || "").slice(0, 24)}`);
    fill("visits",
      h("h3", {}, `待审核回复（${replied.items.length}）`),
      replied.items.length ? h("ul", {}, replied.items.map((o) => item(o, "待审核"))) : h("p", { class: "muted" }, "无"),
      h("h3", {}, `待回访（${waiting.items.length}）`),
      waiting.items.length ? h("ul", {}, waiting.items.map((o) => item(o, "待回访"))) : h("p", { class: "muted" }, "无"));
  }

  async function showVisit(orderId) {
    const order = await api("GET", `/api/orders/${orderId}`);
    const lead = (order.assignments || []).filter((a) => a.reply_text && a.parent_id === null).pop()
      || (order.assignments || []).filter((a) => a.reply_text).pop();
    const done = async (text) => { showOk(text); await loadVisits(); await showVisit(orderId); };
    const post = (action, body) => api("POST", `/api/orders/${orderId}/actions/${action}`, { ...body, version: order.version });
    const reply = h("div", { class: "reply box" }, h("h3", {}, "承办单位答复"),
      lead ? [h("p", {}, `${lead.unit_name}（${label("result", lead.reply_result)}）`), h("p", { id: "reply-text" }, lead.reply_text)]
        : h("p", { class: "muted" }, "暂无答复"));
    let work = null;
    if (order.status === "replied") {
      const why = h("input", { id: "review-reason", "aria-label": "退回理由", placeholder: "退回理由" });
      work = h("div", { class: "box" }, h("h3", {}, "审核回复"),
        h("button", { type: "button", class: "primary", id: "review-accept",
          onclick: (e) => run(e.currentTarget, async () => { await post("review", { accept: true }); await done("已通过审核，转入回访"); }) }, "通过"),
        why, h("button", { type: "button", id: "review-reject",
          onclick: (e) => run(e.currentTarget, async () => { await post("review", { accept: false, reason: why.value }); await done("已退回承办单位重办"); }) }, "退回"));
    } else if (order.status === "awaiting_visit") {
      const reached = h("input", { type: "checkbox", id: "visit-reached", checked: true });
      const satisfaction = h("select", { id: "visit-satisfaction" },
        Object.entries(hc.LABELS.satisfaction).map(([v, t]) => h("option", { value: v }, t)));
      const resolved = h("select", { id: "visit-resolved" }, h("option", { value: "true" }, "已解决"), h("option", { value: "false" }, "未解决"));
      const note = h("input", { id: "visit-note", placeholder: "备注" });
      const visitForm = h("form", { id: "visit-form", class: "box" }, h("h3", {}, "回访记录"),
        h("label", { class: "check" }, reached, " 已联系上诉求人"),
        h("label", {}, "满意度 ", satisfaction), h("label", {}, "是否解决 ", resolved), h("label", {}, "备注 ", note),
        h("button", { type: "submit", class: "primary" }, "提交回访"));
      visitForm.addEventListener("submit", (e) => {
        e.preventDefault();
        const body = reached.checked
          ? { reached: true, satisfaction: satisfaction.value, resolved: resolved.value === "true", note: note.value }
          : { reached: false, note: note.value };
        run(e.submitter, async () => {
          const after = await post("visit", body);
          await done(after.status === "reopened" ? "诉求人不满意，工单已重办" : `回访已记录：${label("status", after.status)}`);
        });
      });
      work = h("div", {}, visitForm, callBox(orderId));
    } else if (order.status === "visited") {
      work = h("button", { type: "button", class: "primary", id: "close-order",
        onclick: (e) => run(e.currentTarget, async () => { await post("close", {}); await done("工单已办结"); }) }, "办结");
    }
    fill("visit-detail", h("h3", {}, `${order.number} · ${label("status", order.status)}`),
      h("div", { class: "grid two" }, reply, work || h("p", { class: "muted" }, "无需操作")));
  }

  /* Click-to-call for the visit: the agent's phone rings, then the citizen's (the number is never shown). */
  const CALL_OUTCOMES = { answered: "已接通", "no answer": "无人接听", busy: "占线", failed: "未接通" };
  function callBox(orderId) {
    const list = h("ul", { id: "outbound-calls" });
    const refresh = async () => {
      const calls = await api("GET", `/api/orders/${orderId}/outbound-calls`);
      fill(list, calls.map((c) => h("li", {}, `${c.created_at.slice(11, 19)} `,
        c.outcome ? `${CALL_OUTCOMES[c.outcome]}${c.hangup_cause_txt ? `（${c.hangup_cause_txt}）` : ""}` : "呼叫中…")));
    };
    run(null, refresh);
    return h("div", { class: "box" }, h("h3", {}, "外呼诉求人"),
      h("button", { type: "button", id: "call-citizen",
        onclick: (e) => run(e.currentTarget, async () => {
          await api("POST", `/api/orders/${orderId}/call-citizen`, {});
          showOk("正在呼叫：请先接起您的话机");
          await refresh();
        }) }, "拨打诉求人"),
      h("button", { type: "button", class: "small", onclick: (e) => run(e.currentTarget, refresh) }, "刷新"), list);
  }

  /* ---------------------------------------------------------------- search */
  async function search(event) {
    event.preventDefault();
    const d = formData(event.target);
    await run(event.submitter, async () => {
      let items;
      if (d.number) {
        items = [await api("GET", `/api/orders/by-number/${encodeURIComponent(d.number)}`)];
      } else {
        const q = new URLSearchParams({ limit: "20" });
        for (const k of ["caller_number", "q", "status"]) if (d[k]) q.set(k, d[k]);
        items = (await api("GET", `/api/orders?${q}`)).items;
      }
      fill("search-results", hc.table([
        ["工单号", (o) => h("button", { type: "button", class: "link",
          onclick: () => run(null, async () => fill("order-detail", orderDetail(await api("GET", `/api/orders/${o.id}`)))) }, o.number)],
        ["类型", (o) => label("kind", o.kind)], ["状态", (o) => label("status", o.status)],
        ["来电", (o) => o.caller_number || "—"], ["内容", (o) => (o.content || "").slice(0, 30)], ["时间", (o) => time(o.created_at)],
      ], items, "没有符合条件的工单"));
    });
  }

  /* ---------------------------------------------------------------- start */
  fill("status-select", h("option", { value: "" }, "全部"),
    Object.entries(hc.LABELS.status).slice(0, 12).map(([v, t]) => h("option", { value: v }, t)));
  form.addEventListener("submit", submitOrder);
  form.addEventListener("reset", () => setTimeout(() => { chooseCategory(null); fill("route", h("p", { class: "muted" }, "输入地址后显示派单建议。")); }));
  for (const name of ["address", "content", "kind"]) form.elements[name].addEventListener("input", suggest);
  document.getElementById("category-search").addEventListener("input", (e) => renderTree(e.target.value));
  document.getElementById("search-form").addEventListener("submit", search);
  document.getElementById("visits-refresh").addEventListener("click", (e) => run(e.currentTarget, loadVisits));
  run(null, async () => {
    catalog = await api("GET", "/api/console/catalog");
    renderTree("");
    await loadVisits();
  }).finally(() => { document.body.dataset.ready = "1"; });
  connect();
})();
