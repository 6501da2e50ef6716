// The campaign wizard: live audience overlaps (step 1) and live template previews with SMS
// encoding, segments and cost (step 2), both answered by the server.
"use strict";
(() => {
  const { api, debounce, el, table } = Segmentum;
  const audience = document.getElementById("audience-form");
  if (audience) {
    const update = debounce(async () => {
      const include = [...audience.querySelectorAll("input.include:checked")].map((i) => i.value);
      const exclude = [...audience.querySelectorAll("input.exclude:checked")].map((i) => i.value).filter((n) => !include.includes(n));
      if (!include.length) { document.getElementById("audience-count").textContent = "–"; return; }
      const result = await api("POST", "/api/campaigns/overlap", { include, exclude });
      if (!result.ok) { document.getElementById("audience-count").textContent = result.data.message; return; }
      document.getElementById("audience-count").textContent = result.data.audience.toLocaleString("en");
      table(document.getElementById("overlap-table"), result.data.segments, ["segment", "size", "audience"]);
      table(document.getElementById("overlap-pairs"), result.data.overlaps, ["a", "b", "customers"]);
    }, 250);
    audience.addEventListener("change", update);
  }
  const form = document.getElementById("templates-form");
  if (form) {
    const campaign = form.dataset.campaign;
    const collect = () => {
      const out = {};
      for (const box of form.querySelectorAll("fieldset.template")) {
        const body = box.querySelector(".body").value;
        if (!body.trim()) continue;
        const template = { body };
        const subject = box.querySelector(".subject");
        if (subject && subject.value.trim()) template.subject = subject.value;
        const languages = {};
        for (const lang of box.querySelectorAll(".language")) {
          const tag = lang.querySelector(".tag").value.trim();
          const text = lang.querySelector(".lang-body").value;
          if (tag && text.trim()) languages[tag] = { body: text };
        }
        if (Object.keys(languages).length) template.languages = languages;
        out[box.dataset.segment] = template;
      }
      return out;
    };
    const error = document.getElementById("template-error");
    const save = debounce(async () => {
      const response = await fetch(`/ui/campaigns/${encodeURIComponent(campaign)}/wizard/templates`, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": document.body.dataset.csrf },
        body: JSON.stringify(collect()),
      });
      const data = await response.json();
      if (!response.ok) { error.hidden = false; error.textContent = data.error; return; }
      error.hidden = true;
      const columns = ["segment", "variant", "language", "customer_id", "subject", "body", "error"];
      if (data.channel === "sms") columns.push("encoding", "sms_segments", "cost");
      table(document.getElementById("preview"), data.preview, columns);
      for (const box of form.querySelectorAll("fieldset.template")) {
        const row = data.preview.find((r) => r.segment === box.dataset.segment);
        box.querySelector(".meter").textContent = row && data.channel === "sms"
          ? `${row.encoding}, ${row.units} characters, ${row.sms_segments} SMS segment(s), ${row.cost} ${data.currency} per message` : "";
      }
    }, 400);
    form.addEventListener("input", save);
    for (const button of form.querySelectorAll(".add-language")) {
      button.addEventListener("click", () => {
        button.previousElementSibling.append(el("div", { class: "language" },
          el("label", {}, "Language ", el("input", { class: "tag", size: "6", placeholder: "cs" })),
          el("label", {}, "Text ", el("textarea", { class: "lang-body", rows: "2" }))));
      });
    }
    save();
  }
})();
