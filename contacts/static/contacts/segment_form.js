// Moved out of contacts/templates/contacts/segment_form.html: the Content-Security-Policy allows no inline scripts.
(() => {
  // Operators follow the chosen field; the value input follows the operator.
  const schema = JSON.parse(document.getElementById("rule-schema").textContent);
  const editor = document.getElementById("rule-editor");
  const rows = document.getElementById("rule-rows");
  const total = editor.querySelector("[name=rules-TOTAL_FORMS]");
  const changed = () => editor.dispatchEvent(new Event("rules-changed", {bubbles: true}));

  function drawOperators(row, keep) {
    const spec = schema[row.querySelector("[data-rule-field]").value];
    const select = row.querySelector("[data-rule-op]");
    const current = keep ? (select.value || select.dataset.initial) : "";
    select.replaceChildren(...spec.operators.map(([key, label]) => new Option(label, key, false, key === current)));
  }

  function drawValue(row, keep) {
    const spec = schema[row.querySelector("[data-rule-field]").value];
    const opKey = row.querySelector("[data-rule-op]").value;
    const kind = (spec.operators.find(([key]) => key === opKey) || spec.operators[0])[2];
    const holder = row.querySelector("[data-rule-value]");
    const old = holder.querySelector("[name]");
    const current = keep ? (old ? old.value : holder.dataset.initial) : "";
    let input;
    if (kind === "choice") {
      input = document.createElement("select");
      input.className = "form-select";
      input.add(new Option("Choose…", ""));
      spec.choices.forEach(([value, label]) => input.add(new Option(label, value, false, String(value) === current)));
    } else {
      input = document.createElement("input");
      input.className = "form-control";
      input.type = {number: "number", days: "number", date: "date", none: "hidden"}[kind] || "text";
      if (kind === "number") input.step = "any";
      if (kind === "days") { input.min = "1"; input.step = "1"; }
      input.value = kind === "none" ? "" : current;
    }
    input.name = holder.dataset.name;
    input.setAttribute("aria-label", "Value");
    holder.dataset.input = kind;
    if (kind === "days") {
      const group = document.createElement("div");
      group.className = "input-group";
      const suffix = document.createElement("span");
      suffix.className = "input-group-text";
      suffix.textContent = "days";
      group.append(input, suffix);
      holder.replaceChildren(group);
    } else {
      holder.replaceChildren(input);
    }
  }

  function renumber() {
    const all = rows.querySelectorAll("[data-rule-row]");
    all.forEach((row, index) => {
      row.querySelectorAll("[name], [data-name], [id]").forEach((el) => {
        for (const attr of ["name", "id", "data-name"]) {
          const value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(/rules-(\d+|__prefix__)-/, `rules-${index}-`));
        }
      });
    });
    total.value = all.length;
  }

  rows.addEventListener("change", (event) => {
    const row = event.target.closest("[data-rule-row]");
    if (event.target.matches("[data-rule-field]")) { drawOperators(row, false); drawValue(row, false); }
    else if (event.target.matches("[data-rule-op]")) {
      const before = row.querySelector("[data-rule-value]").dataset.input;
      drawValue(row, true);
      if (before !== row.querySelector("[data-rule-value]").dataset.input) drawValue(row, false);
    }
  });
  rows.addEventListener("click", (event) => {
    const button = event.target.closest("[data-rule-remove]");
    if (!button) return;
    button.closest("[data-rule-row]").remove();
    renumber();
    changed();
  });
  document.getElementById("add-rule").addEventListener("click", () => {
    rows.append(document.getElementById("rule-template").content.cloneNode(true));
    renumber();
    const row = rows.lastElementChild;
    drawOperators(row, false);
    drawValue(row, false);
    row.querySelector("[data-rule-field]").focus();
    changed();
  });
  rows.querySelectorAll("[data-rule-row]").forEach((row) => { drawOperators(row, true); drawValue(row, true); });
})();
