// Behaviour that used to live in inline on* attributes: the Content-Security-Policy
// allows no inline scripts, so pages declare it with data- attributes instead.
(function () {
  "use strict";

  // <form data-confirm="Delete it?"> and <button data-confirm="..."> ask first.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const button = event.submitter;
    const question = (button && button.dataset.confirm) || form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", function (event) {
    // Links and non-submit buttons with a question.
    const asker = event.target.closest("a[data-confirm], button[type=button][data-confirm]");
    if (asker && !window.confirm(asker.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    // <input type=checkbox data-select-all=".row-select"> ticks every matching box.
    const all = event.target.closest("[data-select-all]");
    if (all) {
      document.querySelectorAll(all.dataset.selectAll).forEach(function (box) {
        box.checked = all.checked;
        box.dispatchEvent(new Event("change", {bubbles: true}));
      });
    }
    // <button data-smart-text="..." data-replace-target="id"> replaces a field's text.
    const replace = event.target.closest("[data-smart-text][data-replace-target]");
    if (replace) {
      const field = document.getElementById(replace.dataset.replaceTarget);
      if (field) {
        field.value = replace.dataset.smartText;
        field.dispatchEvent(new Event("input", {bubbles: true}));
      }
    }
  });
})();
