/* The console's shared layer: JSON API calls with the session's CSRF token, errors shown
   in words, Chinese labels, times and countdowns, and a tiny DOM builder (text is always
   set as text, never parsed as HTML). */
"use strict";

const hc = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const flash = document.getElementById("flash");

  class ApiFailure extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || {};
    }
  }

  function showError(err) {
    const text = err instanceof ApiFailure
      ? `操作未完成：${err.message}（${err.code}，HTTP ${err.status}）`
      : `操作未完成：${err && err.message ? err.message : err}`;
    flash.textContent = text;
    flash.className = "error";
    flash.hidden = false;
    if (err instanceof ApiFailure && err.status === 401) {
      flash.textContent = `会话已过期或已退出：${err.message}。正在返回登录页…`;
      setTimeout(() => { window.location.href = "/login?expired=1"; }, 1500);
    }
  }

  function showOk(text) {
    flash.textContent = text;
    flash.className = "ok";
    flash.hidden = false;
  }

  function clearFlash() { flash.hidden = true; flash.textContent = ""; }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiFailure(0, "network", "无法连接服务器，请检查网络后重试");
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("application/json") ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      const e = data && data.error;
      if (e) throw new ApiFailure(response.status, e.code, e.message, e.details);
      throw new ApiFailure(response.status, "http_error", `服务器返回 HTTP ${response.status}`);
    }
    return data;
  }

  /* Run an action from a button or form: errors go to the banner, the button is disabled meanwhile. */
  async function run(button, work) {
    if (button) button.disabled = true;
    clearFlash();
    try {
      return await work();
    } catch (err) {
      showError(err);
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else if (key === "value") el.value = value;
      else if (key === "checked") el.checked = Boolean(value);
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function fill(target, ...children) {
    const el = typeof target === "string" ? document.getElementById(target) : target;
    el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
    return el;
  }

  const LABELS = {
    kind: { consult: "咨询", help: "求助", complaint: "投诉", report: "举报", suggestion: "建议", praise: "表扬" },
    status: {
      received: "已受理", resolved_directly: "直接答复", dispatched: "已派单", signed: "已签收", replied: "已回复",
      awaiting_visit: "待回访", visited: "已回访", closed: "已办结", returned: "已退回", reopened: "重办",
      merged: "已合并", suspended: "已挂起", redispatched: "已转派", done: "已完成", cancelled: "已撤销",
    },
    urgency: { normal: "一般", urgent: "紧急", emergency: "特急" },
    result: { resolved: "已解决", explained: "已解释说明", partly_resolved: "部分解决", unresolvable: "无法解决" },
    satisfaction: { satisfied: "满意", basically_satisfied: "基本满意", unsatisfied: "不满意" },
    action: {
      create: "受理", resolve_directly: "直接答复", dispatch: "派单", redispatch: "转派", sign: "签收", return: "退单",
      contact: "联系诉求人", note: "进展", request_extension: "申请延期", decide_extension: "审批延期", reply: "回复",
      review: "审核", remind: "催办", supervise: "督办", visit: "回访", close: "办结", merge: "合并", suspend: "挂起",
      resume: "恢复", deadline_warning: "预警", deadline_overdue: "超期",
    },
  };
  const label = (group, value) => (value == null ? "—" : (LABELS[group] && LABELS[group][value]) || value);

  function time(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  function span(ms) {
    const minutes = Math.round(Math.abs(ms) / 60000);
    const days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days) return `${days} 天 ${hours} 小时`;
    if (hours) return `${hours} 小时 ${mins} 分`;
    return `${mins} 分`;
  }

  /* A deadline as a countdown: warning from 80 % of its time used (as the deadline clock warns), overdue after. */
  function countdown(due, start) {
    if (!due) return h("span", { class: "muted" }, "—");
    const now = Date.now(), end = new Date(due).getTime(), begin = start ? new Date(start).getTime() : end;
    const left = end - now;
    const used = end > begin ? (now - begin) / (end - begin) : 1;
    const state = left <= 0 ? "overdue" : used >= 0.8 ? "warning" : "ok";
    const text = left <= 0 ? `已超时 ${span(left)}` : `剩余 ${span(left)}`;
    return h("span", { class: `due ${state}`, title: `期限 ${time(due)}`, "data-state": state }, text);
  }

  const pct = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);

  function table(columns, rows, empty = "暂无数据") {
    if (!rows.length) return h("p", { class: "muted" }, empty);
    return h("table", { class: "list" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c[0])))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", {}, c[1](r)))))));
  }

  function formData(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === "checkbox") out[el.name] = el.checked;
      else out[el.name] = el.value.trim();
    }
    return out;
  }

  function debounce(fn, ms) {
    let timer;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  /* An order's details and audit trail, as the API gave them to this user. */
  function orderDetail(o) {
    const rows = [
      ["工单号", o.number], ["状态", label("status", o.status)], ["类型", label("kind", o.kind)],
      ["紧急程度", label("urgency", o.urgency)], ["分类", o.category_code || "—"], ["标题", o.title || "—"],
      ["内容", o.content], ["地址", o.address || "—"],
      ["诉求人", o.anonymous ? "匿名" : `${o.caller_name || "—"} ${o.caller_number || ""}`],
      ["受理时间", time(o.created_at)],
    ];
    const assignments = (o.assignments || []).map((a) => h("li", {},
      `${a.unit_name || a.unit_code}：${label("status", a.status)}`,
      a.reply_text ? h("div", { class: "reply" }, `回复（${label("result", a.reply_result)}）：${a.reply_text}`) : null,
      a.return_reason ? h("div", { class: "muted" }, `退单理由：${a.return_reason}`) : null));
    const events = (o.events || []).map((e) => h("li", {},
      h("time", {}, time(e.created_at)), " ", label("action", e.action),
      e.to_status && e.from_status !== e.to_status ? ` → ${label("status", e.to_status)}` : ""));
    return h("div", { class: "detail", "data-order-id": o.id },
      h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      assignments.length ? [h("h3", {}, "承办单位"), h("ul", {}, assignments)] : null,
      events.length ? [h("h3", {}, "办理记录"), h("ol", { class: "events" }, events)] : null);
  }

  // Pages set body[data-ready] once their first data is in (the benchmark waits for it).
  document.getElementById("logout-form")?.addEventListener("submit", () => {
    window.dispatchEvent(new Event("hc:signout"));
  });

  return { api, run, h, fill, label, LABELS, time, countdown, pct, table, formData, debounce, orderDetail,
           showError, showOk, clearFlash, ApiFailure };
})();
