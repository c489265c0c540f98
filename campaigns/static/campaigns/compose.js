// Moved out of campaigns/templates/campaigns/campaign_compose.html: the Content-Security-Policy allows no inline scripts.
(() => {
  const body = document.getElementById("id_body");
  const fallbackInput = document.getElementById("merge-fallback");

  // The merge-field picker inserts a tag at the cursor.
  document.querySelectorAll("[data-merge-key]").forEach((item) => {
    item.addEventListener("click", (event) => {
      event.preventDefault();
      const fallback = (fallbackInput.value.trim() || item.dataset.mergeFallback).replace(/[{}|]/g, "");
      const [open, close] = ["{{", "}}"];
      const tag = fallback ? `${open} ${item.dataset.mergeKey} | ${fallback} ${close}` : `${open} ${item.dataset.mergeKey} ${close}`;
      const start = body.selectionStart ?? body.value.length;
      const end = body.selectionEnd ?? start;
      body.setRangeText(tag, start, end, "end");
      body.focus();
      body.dispatchEvent(new Event("input", {bubbles: true}));
    });
  });
  fallbackInput.addEventListener("input", (event) => event.stopPropagation());

  // The schedule fields follow the chosen kind of schedule.
  const submit = document.getElementById("submit-button");
  function showSchedule() {
    const chosen = document.querySelector("[name=schedule]:checked");
    const kind = chosen ? chosen.value : "now";
    document.querySelectorAll("[data-when]").forEach((el) => {
      el.hidden = !el.dataset.when.split(" ").includes(kind);
    });
    submit.querySelector("span").textContent = kind === "now" ? submit.dataset.labelNow : submit.dataset.labelLater;
  }
  document.querySelectorAll("[name=schedule]").forEach((radio) => radio.addEventListener("change", showSchedule));
  showSchedule();

  // Sending now to everyone deserves one last look at the numbers.
  submit.addEventListener("click", (event) => {
    const chosen = document.querySelector("[name=schedule]:checked");
    if (!submit.dataset.confirmSend || !chosen || chosen.value !== "now") return;
    const estimate = document.querySelector("[data-testid=estimate]");
    const count = estimate ? estimate.dataset.recipients : "the";
    if (!confirm(`Send this campaign to ${count} recipients now?`)) event.preventDefault();
  });

  // One click, one submission.
  document.getElementById("compose-form").addEventListener("submit", (event) => {
    setTimeout(() => event.target.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
  });
})();
