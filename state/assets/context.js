// Reports the browser-only request-context fields to the server, for the
// `state` crate's `Context` (timezone, timezone offset, colour scheme and
// language). Include it in <head>:
//
//   <script src="/_state/context.js"></script>
//
// It writes one cookie (default name `st_ctx`, or the script tag's
// `data-cookie` attribute), e.g.
//
//   st_ctx=tz=Europe%2FParis&tzo=-60&theme=dark&lang=fr-FR
//
// and reloads the page once when the cookie was absent or its value changed,
// so the server sees the fields from the first rendered page on. Add
// `data-reload="false"` to the tag to never reload: the fields then arrive
// with the next request, and the script marks the page
// <html data-st-context="updated"> so its own script can fetch what depends
// on them. It never reloads when cookies are blocked.
(function () {
  "use strict";
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var name = data.cookie || "st_ctx";
  var enc = encodeURIComponent;
  var fields = [];
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz) fields.push("tz=" + enc(tz));
  } catch (e) { /* no Intl: leave the timezone out */ }
  var offset = new Date().getTimezoneOffset();
  if (isFinite(offset)) fields.push("tzo=" + offset);
  if (window.matchMedia) {
    var dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    fields.push("theme=" + (dark ? "dark" : "light"));
  }
  if (navigator.language) fields.push("lang=" + enc(navigator.language));
  var value = fields.join("&");

  function read() {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (eq > 0 && parts[i].slice(0, eq) === name) return parts[i].slice(eq + 1);
    }
    return null;
  }

  if (read() === value) return;
  var secure = window.location.protocol === "https:" ? "; secure" : "";
  document.cookie = name + "=" + value + "; path=/; max-age=31536000; samesite=lax" + secure;
  if (read() !== value) return; // cookies blocked: never loop
  if (data.reload === "false") {
    document.documentElement.setAttribute("data-st-context", "updated");
  } else {
    window.location.reload();
  }
})();
