// The dashboard page's script: it only improves a page that works without
// it. Inlined into the page by `pages.rs` (see `SCRIPT` there).
(function () {
  "use strict";
  if (!window.fetch || !window.DOMParser || !window.history.pushState) return;
  var $ = function (s) { return document.querySelector(s); };

  // A first visit: the context script just stored the browser's fields.
  if (document.documentElement.getAttribute("data-st-context") === "updated") {
    fetch("/panels/context" + window.location.search, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var panel = $("#context-panel");
        if (!html || !panel) return null;
        panel.outerHTML = html;
        // The first page was drawn light; follow a dark preference now.
        var theme = $("#ctx-theme");
        if (!theme || theme.textContent !== "dark" || document.body.className === "dark") return null;
        document.body.className = "dark";
        return fetch("/panels/chart" + window.location.search, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (svg) {
            var chart = $("#chart");
            if (svg && chart) chart.innerHTML = svg;
          });
      })
      .catch(function () {});
  }

  var pending = null;

  function setStatus(strong, detail) {
    var status = $("#load-status");
    if (!status) return;
    status.className = "status running";
    status.setAttribute("data-cache", "running");
    status.querySelector("strong").textContent = strong;
    status.querySelector("span").textContent = detail;
  }

  // Copies the new sidebar's control values (normalized by the server) onto
  // the current one, which stays in place (focus, open date pickers).
  function syncSidebar(fresh) {
    var now = document.querySelectorAll("aside.sidebar input, aside.sidebar select");
    var next = fresh.querySelectorAll("input, select");
    if (now.length !== next.length) {
      $("aside.sidebar").replaceWith(fresh);
      return;
    }
    for (var i = 0; i < now.length; i++) {
      if (now[i] === document.activeElement) continue;
      if (now[i].type === "checkbox") now[i].checked = next[i].checked;
      else now[i].value = next[i].value;
    }
    var quick = fresh.querySelector(".quick");
    if (quick) $("aside.sidebar .quick").replaceWith(quick);
    var prefs = fresh.querySelector("#prefs");
    if (prefs) $("#prefs").replaceWith(prefs);
  }

  function show(url, push) {
    if (pending) pending.abort();
    var mine = new AbortController();
    pending = mine;
    setStatus("● Loading…", "");
    var poll = setInterval(function () {
      fetch("/_cache/running", { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (running) {
          if (pending !== mine || !running.length) return;
          setStatus("● Computing…", running.map(function (r) {
            return r.text + (r.show_time ? " (" + (r.elapsed_ms / 1000).toFixed(1) + " s)" : "");
          }).join(" · "));
        })
        .catch(function () {});
    }, 150);
    fetch(url, { credentials: "same-origin", signal: mine.signal })
      .then(function (r) {
        // An error page (a bad parameter, say) is a page of its own.
        if (!r.ok) { window.location.href = url; return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var main = doc.querySelector("main");
        if (!main) { window.location.href = url; return; }
        if (push) window.history.pushState({}, "", url);
        $("main").replaceWith(main);
        var aside = doc.querySelector("aside.sidebar");
        if (aside) syncSidebar(aside);
        document.title = doc.title;
        document.body.className = doc.body.className;
      })
      .catch(function (e) { if (e.name !== "AbortError") window.location.href = url; })
      .then(function () {
        clearInterval(poll);
        if (pending === mine) pending = null;
      });
  }

  function filtersUrl(form) {
    var query = new URLSearchParams(new FormData(form)).toString();
    return "/" + (query ? "?" + query : "");
  }

  document.addEventListener("change", function (e) {
    var form = e.target.form;
    if (form && form.id === "filters") show(filtersUrl(form), true);
  });
  document.addEventListener("submit", function (e) {
    if (e.target.id !== "filters") return;
    e.preventDefault();
    show(filtersUrl(e.target), true);
  });
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a.pill, #saved-views a");
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    show(a.getAttribute("href"), true);
  });
  window.addEventListener("popstate", function () {
    show(window.location.pathname + window.location.search, false);
  });
})();
