// The campaign page polls its status every 3 seconds while it is sending or scheduled.
"use strict";
(() => {
  const box = document.getElementById("live-status");
  if (!box) return;
  const campaign = box.dataset.campaign;
  async function poll() {
    const result = await Segmentum.api("GET", `/api/campaigns/${encodeURIComponent(campaign)}/status`);
    if (!result.ok) return;
    const state = document.getElementById("state");
    state.textContent = result.data.state;
    state.className = `state ${result.data.state}`;
    document.getElementById("occurrences").textContent = result.data.occurrences;
    const rows = result.data.ledger.map((row) => ({ status: row.status, messages: row.messages ?? row.count ?? "" }));
    Segmentum.table(document.getElementById("ledger"), rows, ["status", "messages"]);
    if (["sending", "scheduled"].includes(result.data.state)) setTimeout(poll, 3000);
  }
  setTimeout(poll, 1000);
})();
