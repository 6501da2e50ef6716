// Shared helpers: JSON calls to the REST API with the session's CSRF token, debouncing,
// and the "why" (explain) panels on the customer page. No framework, no CDN.
"use strict";
const Segmentum = (() => {
  const csrf = () => document.body.dataset.csrf || "";
  async function api(method, path, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text }; }
    return { ok: response.ok, status: response.status, data };
  }
  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value; else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }
  function table(target, rows, columns) {
    target.replaceChildren();
    if (!rows.length) return;
    const cols = columns || Object.keys(rows[0]);
    target.append(el("tr", {}, ...cols.map((c) => el("th", { text: c.replaceAll("_", " ") }))));
    for (const row of rows) {
      target.append(el("tr", {}, ...cols.map((c) => el("td", { text: row[c] === null || row[c] === undefined ? "" : String(row[c]) }))));
    }
  }
  async function explain(segment, customer, target) {
    target.textContent = "…";
    const result = await api("GET", `/api/segments/${encodeURIComponent(segment)}/explain/${encodeURIComponent(customer)}`);
    if (!result.ok) { target.textContent = result.data.message; return; }
    const t = el("table");
    table(t, result.data.conditions, ["condition", "value"]);
    target.replaceChildren(el("p", { text: result.data.member ? "Member now." : "Not a member now." }), t);
  }
  document.addEventListener("DOMContentLoaded", () => {
    for (const details of document.querySelectorAll("details.why")) {
      details.addEventListener("toggle", () => {
        if (details.open) explain(details.dataset.segment, details.dataset.customer, details.querySelector(".explain"));
      });
    }
    const any = document.querySelector("form.explain-any");
    if (any) any.addEventListener("submit", (event) => {
      event.preventDefault();
      explain(any.segment.value, any.dataset.customer, document.getElementById("explain-any"));
    });
  });
  return { api, debounce, el, table };
})();
