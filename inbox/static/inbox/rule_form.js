// The rule form: show only the fields each action uses, and add actions without a reload.
(function () {
  function sync(form) {
    const kind = form.querySelector("select[name$='-kind']").value;
    form.querySelectorAll("[data-for]").forEach((el) => { el.hidden = !el.dataset.for.split(" ").includes(kind); });
  }
  function watch(form) {
    sync(form);
    form.querySelector("select[name$='-kind']").addEventListener("change", () => sync(form));
  }
  document.querySelectorAll("#actions .action-form").forEach(watch);

  // "Add another action": the formset's empty form, numbered next (Django's __prefix__).
  const add = document.querySelector("[data-add-action]");
  const template = document.getElementById("action-template");
  const total = document.querySelector("input[name='actions-TOTAL_FORMS']");
  const max = document.querySelector("input[name='actions-MAX_NUM_FORMS']");
  if (!add || !template || !total) return;
  add.addEventListener("click", () => {
    const index = parseInt(total.value, 10);
    if (max && index >= parseInt(max.value, 10)) return;
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    const holder = document.createElement("div");
    holder.innerHTML = html.trim();
    const form = holder.firstElementChild;  // ORDER left empty: Django keeps it last
    document.getElementById("actions").appendChild(form);
    total.value = String(index + 1);
    watch(form);
    form.querySelector("select[name$='-kind']").focus();
  });
})();
