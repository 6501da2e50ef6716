// The segment builder: one form row per condition (each kind of the catalog), written into
// the text mode box as the segment language; every change asks the server for the live
// count, the sentence, sample members and every validation error (code and path).
"use strict";
(() => {
  const catalog = JSON.parse(document.getElementById("catalog").textContent);
  const rows = document.getElementById("rows");
  const where = document.getElementById("where");
  const { el } = Segmentum;
  const q = (value) => JSON.stringify(String(value));
  const OPS = ["=", "!=", ">", ">=", "<", "<="];
  const select = (name, options, value) => {
    const s = el("select", { "data-f": name, "aria-label": name });
    for (const option of options) {
      const o = el("option", { value: option, text: option });
      if (option === value) o.selected = true;
      s.append(o);
    }
    return s;
  };
  const input = (name, value, type) => el("input", { "data-f": name, "aria-label": name, value: value ?? "", type: type || "text", size: "8" });
  const number = (v) => (/^-?\d+(\.\d+)?$/.test(String(v).trim()) ? String(v).trim() : q(v));
  const KINDS = {
    attribute: {
      fields: () => [select("field", catalog.attributes, "country"), select("op", [...OPS, "contains", "is set"], "="), input("value", "CZ")],
      text: (f) => (f.op === "is set" ? `${f.field} is set` : `${f.field} ${f.op} ${number(f.value)}`),
    },
    aggregate: {
      fields: () => [select("of", catalog.sources, "orders"), select("fn", ["count", "sum", "avg", "min", "max"], "count"),
        input("field", ""), el("span", { text: "in the last" }), input("days", "90", "number"), el("span", { text: "days" }),
        select("op", OPS, ">="), input("value", "2", "number")],
      text: (f) => `${f.of}(within ${f.days || 90}d).${f.fn}(${f.fn === "count" ? "" : f.field}) ${f.op} ${number(f.value)}`,
    },
    sequence: {
      fields: () => [select("first", catalog.sources, catalog.sources.includes("cart_updated") ? "cart_updated" : catalog.sources[0]),
        el("span", { text: "in the last" }), input("days", "7", "number"), el("span", { text: "days" }),
        select("followed", ["not followed by", "followed by"], "not followed by"), select("then", catalog.sources, "orders"),
        el("span", { text: "within" }), input("hours", "24", "number"), el("span", { text: "hours" })],
      text: (f) => `sequence(${f.first}(within ${f.days || 7}d) ${f.followed} ${f.then} within ${f.hours || 24}h)`,
    },
    recency: {
      fields: () => [select("which", ["days_since_last", "days_since_first"], "days_since_last"), select("of", catalog.sources, "orders"),
        select("op", OPS, "<="), input("value", "30", "number")],
      text: (f) => `${f.which}(${f.of}) ${f.op} ${number(f.value)}`,
    },
    lifecycle: {
      fields: () => [el("span", { text: "stage is one of" }), input("stages", "active, returned")],
      text: (f) => `lifecycle in (${f.stages.split(",").map((s) => s.trim()).filter(Boolean).join(", ")})`,
    },
    rfm: {
      fields: () => [select("metric", ["r_score", "f_score", "m_score"], "r_score"), select("op", OPS, ">="), input("value", "4", "number")],
      text: (f) => `${f.metric} ${f.op} ${number(f.value)}`,
    },
    percentile: {
      fields: () => [select("metric", ["monetary", "frequency", "recency_days"], "monetary"), select("side", ["top", "bottom"], "top"),
        input("value", "20", "number"), el("span", { text: "%" })],
      text: (f) => `${f.metric} in ${f.side} ${f.value}%`,
    },
    subscription: {
      fields: () => [el("span", { text: "subscribed to" }), select("channel", ["sms", "email", "web_push"], "sms")],
      text: (f) => `subscribed(${f.channel})`,
    },
    message: {
      fields: () => [select("reaction", ["received", "delivered", "opened", "clicked", "replied", "unsubscribed", "converted"], "clicked"),
        el("span", { text: "in the last" }), input("days", "30", "number"), el("span", { text: "days" })],
      text: (f) => `message(${f.reaction}, within ${f.days || 30}d)`,
    },
    segment: {
      fields: () => [el("span", { text: "in segment" }), select("segment", catalog.segments.length ? catalog.segments : [""], catalog.segments[0])],
      text: (f) => `in_segment(${f.segment})`,
    },
  };
  function compose() {
    const clauses = [];
    for (const row of rows.children) {
      const f = {};
      for (const field of row.querySelectorAll("[data-f]")) f[field.dataset.f] = field.value;
      const clause = KINDS[row.dataset.kind].text(f);
      clauses.push(row.querySelector(".negate").checked ? `not (${clause})` : clause);
    }
    const joiner = ` ${document.getElementById("combine").value} `;
    where.value = clauses.join(joiner);
    refresh();
  }
  function add(kind) {
    const remove = el("button", { type: "button", class: "remove secondary", text: "Remove" });
    const negate = el("input", { type: "checkbox", class: "negate", "aria-label": "not" });
    const row = el("div", { class: "cond", "data-kind": kind },
      el("label", { class: "check" }, negate, "not"), el("strong", { text: kind }), ...KINDS[kind].fields(), remove);
    remove.addEventListener("click", () => { row.remove(); compose(); });
    row.addEventListener("input", compose);
    row.addEventListener("change", compose);
    rows.append(row);
    compose();
  }
  const issues = document.getElementById("issues");
  const refresh = Segmentum.debounce(async () => {
    const text = where.value.trim();
    if (!text) return;
    document.getElementById("live-count").textContent = "…";
    const result = await Segmentum.api("POST", "/api/segments/preview", { where: text, sample: 10 });
    issues.replaceChildren();
    const sample = document.getElementById("sample");
    sample.replaceChildren();
    if (!result.ok) {
      document.getElementById("live-count").textContent = "–";
      document.getElementById("sentence").textContent = "";
      const list = (result.data && result.data.issues && result.data.issues.length) ? result.data.issues
        : [{ code: result.data.code, path: "/", message: result.data.message }];
      for (const issue of list) {
        issues.append(el("li", {}, el("code", { text: issue.code }), " at ", el("code", { text: issue.path || "/" }), `: ${issue.message}`));
      }
      return;
    }
    document.getElementById("live-count").textContent = result.data.count.toLocaleString("en");
    document.getElementById("sentence").textContent = result.data.sentence;
    for (const id of result.data.sample) {
      sample.append(el("li", {}, el("a", { href: `/ui/customers/${encodeURIComponent(id)}`, text: id })));
    }
  }, 350);
  document.getElementById("add-condition").addEventListener("click", () => add(document.getElementById("kind").value));
  document.getElementById("combine").addEventListener("change", compose);
  where.addEventListener("input", refresh);
  if (where.value.trim()) refresh();
})();
