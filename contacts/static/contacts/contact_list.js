// Moved out of contacts/templates/contacts/contact_list.html: the Content-Security-Policy allows no inline scripts.
(function () {
  const all = document.getElementById("select-all");
  const boxes = () => Array.from(document.querySelectorAll(".row-select"));
  function sync() {
    const ids = boxes().filter(b => b.checked).map(b => b.value);
    document.getElementById("bulk-ids").value = ids.join(",");
    document.getElementById("bulk-count").textContent = ids.length;
  }
  if (all) all.addEventListener("change", () => { boxes().forEach(b => b.checked = all.checked); sync(); });
  boxes().forEach(b => b.addEventListener("change", sync));
})();
