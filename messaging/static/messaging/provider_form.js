// Moved out of messaging/templates/messaging/provider_form.html: the Content-Security-Policy allows no inline scripts.
// Show only the credential fields the chosen provider uses.
(function () {
  const select = document.getElementById("id_backend");
  function sync() {
    document.querySelectorAll("[data-backends]").forEach(function (input) {
      const wrapper = input.closest(".mb-3") || input.parentElement;
      wrapper.hidden = !input.dataset.backends.split(" ").includes(select.value);
    });
  }
  select.addEventListener("change", sync);
  sync();
})();
