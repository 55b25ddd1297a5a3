// The dashboard page's script: it only improves a page that works without
// it. Inlined into the page by `pages.rs` (see `SCRIPT` there).
(function () {
  "use strict";
  if (!window.fetch || !window.DOMParser || !window.AbortController || !window.history.pushState) return;
  var $ = function (s) { return document.querySelector(s); };

  var pending = null;

  // A first visit (or new browser fields): the context script just stored
  // them, so this page was drawn without them. Fetch what depends on them,
  // unless the visitor has moved on to another view meanwhile.
  if (document.documentElement.getAttribute("data-st-context") === "updated") {
    var search = window.location.search;
    var stillHere = function () { return !pending && window.location.search === search; };
    fetch("/panels/context" + search, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var panel = $("#context-panel");
        if (!html || !panel || !stillHere()) return null;
        panel.outerHTML = html;
        // Follow the browser's theme, which the page was not drawn for.
        var theme = $("#ctx-theme");
        var wanted = theme && theme.textContent === "dark" ? "dark" : "light";
        if (!theme || theme.hasAttribute("data-unknown") || document.body.className === wanted) return null;
        return fetch("/panels/chart" + search, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (svg) {
            var chart = $("#chart");
            if (!svg || !chart || !stillHere()) return;
            document.body.className = wanted;
            chart.innerHTML = svg;
          });
      })
      .catch(function () {});
  }

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

  // After a swap, puts the keyboard focus back on the control or link that
  // had it (or its counterpart in the new content: same id, or same text).
  function refocus(old) {
    if (!old || old === document.body || document.contains(old)) return;
    var next = old.id ? document.getElementById(old.id) : null;
    if (!next && old.tagName === "A") {
      var links = document.querySelectorAll(".quick a, #saved-views a");
      for (var i = 0; i < links.length && !next; i++) {
        if (links[i].textContent === old.textContent) next = links[i];
      }
    }
    if (next) next.focus();
  }

  // Shows a whole page the server answered instead of the dashboard (an
  // error page: a bad parameter, say), without asking for it again.
  function replaceDocument(doc, url, push) {
    if (push) window.history.pushState({}, "", url);
    document.replaceChild(document.importNode(doc.documentElement, true), document.documentElement);
  }

  function show(url, push) {
    if (pending) pending.abort();
    var mine = new AbortController();
    pending = mine;
    setStatus("Loading…", "");
    var poll = setInterval(function () {
      fetch("/_cache/running", { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (running) {
          if (pending !== mine || !running.length) return;
          setStatus("Computing…", running.map(function (r) {
            return r.text + (r.show_time ? " (" + (r.elapsed_ms / 1000).toFixed(1) + " s)" : "");
          }).join(" · "));
        })
        .catch(function () {});
    }, 150);
    fetch(url, { credentials: "same-origin", signal: mine.signal })
      .then(function (r) {
        return r.text().then(function (html) { return { ok: r.ok, html: html }; });
      })
      .then(function (answer) {
        var doc = new DOMParser().parseFromString(answer.html, "text/html");
        var main = doc.querySelector("main");
        var aside = doc.querySelector("aside.sidebar");
        if (!answer.ok || !main || !aside) { replaceDocument(doc, url, push); return; }
        if (push) window.history.pushState({}, "", url);
        var focused = document.activeElement;
        $("main").replaceWith(main);
        syncSidebar(aside);
        document.title = doc.title;
        document.body.className = doc.body.className;
        refocus(focused);
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

  // A date field fires `change` as each part of a date is typed ("0002",
  // "0020", "0202", "2024"): wait until the date is complete, valid and
  // left alone for a moment.
  var typing = null;
  document.addEventListener("change", function (e) {
    var form = e.target.form;
    if (!form || form.id !== "filters") return;
    clearTimeout(typing);
    if (e.target.type !== "date") { show(filtersUrl(form), true); return; }
    if (!e.target.value || !e.target.checkValidity()) return;
    typing = setTimeout(function () { show(filtersUrl(form), true); }, 400);
  });
  document.addEventListener("submit", function (e) {
    if (e.target.id !== "filters") return;
    e.preventDefault();
    clearTimeout(typing);
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
