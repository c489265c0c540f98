/* The inbox page: merges the poll's fragments by id and sort key, keeps the
   selection, the composer tabs, canned replies, the unread badge and the keyboard
   shortcuts. HTMX does the requests; this only places what comes back. */
(function () {
  "use strict";
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const inbox = $(".inbox");
  if (!inbox) return;
  const baseTitle = document.title;

  function insertSorted(target, el, descending) {
    const key = el.dataset.sort || "";
    for (const child of $$(":scope > [data-sort]", target)) {
      if (descending ? child.dataset.sort < key : child.dataset.sort > key) {
        target.insertBefore(el, child);
        return;
      }
    }
    target.insertBefore(el, $(":scope > .list-more", target));
  }

  // Put each fragment where it belongs: replace the element with the same id
  // (unless identical), drop it when marked data-remove, else insert in order.
  function merge(container) {
    const target = document.getElementById(container.dataset.merge);
    if (!target) return; // the page moved on (another conversation) meanwhile
    const descending = container.dataset.order === "desc";
    const scroller = target.closest(".thread-scroll");
    const atBottom = scroller && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
    let added = false;
    for (const el of Array.from(container.children)) {
      if (!el.id) continue;
      const old = document.getElementById(el.id);
      if (el.hasAttribute("data-remove")) {
        if (old) old.remove();
        continue;
      }
      if (old) {
        if (old.outerHTML === el.outerHTML) continue;
        old.remove();
      } else if (descending && target.dataset.more) {
        // Older than the rows on screen: it belongs to a page not loaded yet.
        const rows = $$(":scope > [data-sort]", target);
        const last = rows[rows.length - 1];
        if (last && el.dataset.sort < last.dataset.sort) continue;
      }
      insertSorted(target, el, descending);
      htmx.process(el);
      added = true;
    }
    const empty = $(":scope > .list-empty", target);
    if (empty && $(":scope > [data-sort]", target)) empty.remove();
    if (scroller && added && atBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function updateBadges() {
    const count = (key) => Number(($("#count-" + key) || { dataset: {} }).dataset.n || 0);
    const waiting = count("mine") + count("unassigned");
    document.title = waiting ? `(${waiting}) ${baseTitle}` : baseTitle;
    const link = $(`#mainnav a.nav-link[href="${inbox.dataset.inboxUrl}"]`);
    if (!link) return;
    let badge = $("#nav-inbox-badge");
    if (!badge) {
      badge = document.createElement("span");
      badge.id = "nav-inbox-badge";
      badge.className = "badge rounded-pill text-bg-danger ms-1";
      badge.dataset.testid = "nav-inbox-badge";
      link.appendChild(badge);
    }
    badge.textContent = waiting || "";
    badge.hidden = !waiting;
  }

  function threadLoaded() {
    const scroller = $("#thread-scroll");
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
    const pane = $(".thread-main");
    const pk = pane && pane.dataset.conversation;
    $$(".conv-row.active").forEach((row) => row.classList.remove("active"));
    const row = pk && document.getElementById("conv-" + pk);
    if (row) {
      row.classList.add("active", "seen");
      row.classList.remove("unread");
      const pill = $(".unread-pill", row);
      if (pill) pill.remove();
      row.scrollIntoView({ block: "nearest" });
    }
  }

  // After a reply or note the new reply box takes the focus back, but only if the
  // old one had it (the agent may have moved on with Esc or a click meanwhile).
  let composerHadFocus = false;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (target && target.id && target.id.startsWith("composer-")) {
      composerHadFocus = target.contains(document.activeElement);
    }
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (target.id === "poll-sink") {
      const containers = $$("[data-merge]", target);
      target.innerHTML = ""; // detach first: ids must be unique while merging
      containers.forEach(merge);
      updateBadges();
    } else if (target.id === "thread-pane") {
      threadLoaded();
    } else if (target.id && target.id.startsWith("composer-") && composerHadFocus) {
      const box = $("textarea:not([disabled])", $(".composer-form:not([hidden])"));
      if (box) box.focus();
    }
  });
  document.body.addEventListener("htmx:oobAfterSwap", updateBadges);

  // A failed action (422) says why, instead of doing nothing.
  document.body.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status === 422 && xhr.getResponseHeader("Content-Type")?.startsWith("text/plain")) {
      window.alert(xhr.responseText);
    }
  });

  document.addEventListener("visibilitychange", () => {
    const visible = $("#poll-visible");
    if (visible) visible.value = document.hidden ? "0" : "1";
  });

  function composerMode(mode, focus) {
    const composer = $(".composer");
    if (!composer) return;
    composer.classList.toggle("note-mode", mode === "note");
    $$(".composer-tab", composer).forEach((tab) => tab.classList.toggle("active", tab.dataset.mode === mode));
    $(".reply-form", composer).hidden = mode !== "reply";
    $(".note-form", composer).hidden = mode !== "note";
    if (focus) {
      const box = $(`.${mode}-form textarea`, composer);
      if (box && !box.disabled) box.focus();
    }
  }

  document.addEventListener("click", (event) => {
    const tab = event.target.closest(".composer-tab");
    if (tab) composerMode(tab.dataset.mode, true);
    const row = event.target.closest(".conv-row[hx-get]");
    if (row && !event.ctrlKey && !event.metaKey) {
      $$(".conv-row.active").forEach((r) => r.classList.remove("active"));
      row.classList.add("active");
    }
  });

  document.addEventListener("change", (event) => {
    const select = event.target.closest(".canned-select");
    if (!select || !select.value) return;
    fetch(select.value, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((text) => {
        const box = $("textarea", select.closest("form"));
        box.value = text;
        box.dispatchEvent(new Event("input", { bubbles: true }));
        box.focus();
        box.setSelectionRange(text.length, text.length);
      })
      .finally(() => { select.value = ""; });
  });

  function moveSelection(step) {
    const rows = $$("#conversation-list .conv-row[hx-get]");
    if (!rows.length) return;
    const current = rows.findIndex((row) => row.classList.contains("active"));
    const next = rows[Math.min(rows.length - 1, Math.max(0, current < 0 ? 0 : current + step))];
    if (next && next !== rows[current]) {
      next.click();
      next.scrollIntoView({ block: "nearest" });
    }
  }

  function press(selector) {
    const button = $(selector);
    if (!button) return false;
    htmx.process(button); // a key can beat HTMX to a just-swapped pane
    button.click();
    return true;
  }

  document.addEventListener("keydown", (event) => {
    const el = event.target;
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || el.isContentEditable;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && el.tagName === "TEXTAREA") {
      const form = el.closest("form");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.key === "Escape" && typing) {
      el.blur();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if ($(".modal.show") && event.key !== "?") return;
    switch (event.key) {
      case "j": moveSelection(1); break;
      case "k": moveSelection(-1); break;
      case "r": composerMode("reply", true); break;
      case "n": composerMode("note", true); break;
      case "a": press("#btn-assign-me"); break;
      case "u": press("#btn-unassign"); break;
      case "e": press("#btn-close") || press("#btn-reopen"); break;
      case "s": {
        const toggle = $('[data-testid="snooze-menu"]');
        if (toggle) bootstrap.Dropdown.getOrCreateInstance(toggle).toggle();
        break;
      }
      case "/": $("#inbox-search").focus(); break;
      case "?": bootstrap.Modal.getOrCreateInstance($("#shortcuts")).toggle(); break;
      default: return;
    }
    event.preventDefault();
  });

  threadLoaded();
  updateBadges();
})();
