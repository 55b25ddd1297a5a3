//! The HTML: hand-written, every dynamic value escaped, inline CSS, and a
//! small script that only improves a page that works without it (see
//! [`SCRIPT`]).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use cache_runtime::{CallRecord, FunctionInfo, Kind, Outcome as TracedOutcome, Persist, Scope};
use http::{StatusCode, Uri};
use state::context::Theme;
use state::{Context, QueryMap};

use super::chart::{self, ChartStyle};
use super::data;
use super::queries::{LiveOrders, Metric, Outcome, Totals, ViewArgs, ViewData};

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn grouped(n: u64, separator: &str) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(c);
    }
    out
}

/// How the data's numbers are written for this visitor: the digit grouping
/// of the best of the supported locales (`Context::negotiate_locale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbers {
    separator: &'static str,
    decimal: &'static str,
}

impl Numbers {
    /// The locales the page formats for.
    pub const SUPPORTED: [&'static str; 5] = ["en", "de", "es", "fr", "it"];

    /// The format for the locale the request prefers (English by default).
    pub fn for_context(ctx: &Context) -> Self {
        Self::for_locale(ctx.negotiate_locale(&Self::SUPPORTED))
    }

    /// The format for one of [`Self::SUPPORTED`] (English for any other tag,
    /// or none).
    pub fn for_locale(tag: Option<&str>) -> Self {
        let (separator, decimal) = match tag {
            Some("de" | "es" | "it") => (".", ","),
            Some("fr") => ("\u{202f}", ","),
            _ => (",", "."),
        };
        Self { separator, decimal }
    }

    /// The decimal mark: `.` in English, `,` in German.
    pub fn decimal(self) -> &'static str {
        self.decimal
    }

    /// A whole number with digit grouping.
    pub fn int(self, n: u64) -> String {
        grouped(n, self.separator)
    }

    /// An amount of dollars, rounded to the dollar.
    pub fn money(self, x: f64) -> String {
        let sign = if x < 0.0 { "-" } else { "" };
        format!("{sign}${}", self.int(x.abs().round() as u64))
    }

    /// A percentage with one decimal, e.g. `37.6%` (`37,6%` in German).
    pub fn percent(self, x: f64) -> String {
        format!("{x:.1}%").replace('.', self.decimal)
    }

    /// A duration in milliseconds or seconds, e.g. `0.25 ms`, `37 ms`,
    /// `1.75 s` (`1,75 s` in German).
    pub fn duration(self, d: Duration) -> String {
        let ms = d.as_secs_f64() * 1000.0;
        let text = if ms >= 1000.0 {
            format!("{:.2} s", ms / 1000.0)
        } else if ms >= 10.0 {
            format!("{ms:.0} ms")
        } else {
            format!("{ms:.2} ms")
        };
        text.replace('.', self.decimal)
    }

    fn metric(self, metric: Metric, x: f64) -> String {
        if metric.is_money() {
            self.money(x)
        } else {
            self.int(x.max(0.0).round() as u64)
        }
    }
}

impl Default for Numbers {
    fn default() -> Self {
        Self {
            separator: ",",
            decimal: ".",
        }
    }
}

/// The session panel's content.
#[derive(Debug)]
pub struct SessionPanel<'a> {
    /// Views of the dashboard in this browser session.
    pub visits: u64,
    /// The private notes.
    pub notes: &'a str,
    /// The session id, once the session exists.
    pub id: Option<&'a str>,
}

/// The context panel's content.
#[derive(Debug, Clone)]
pub struct ContextPanel {
    /// `(id, label, value, why it may be unknown)`.
    rows: Vec<(&'static str, &'static str, Option<String>, &'static str)>,
    /// Whether the page is embedded (`?embed=true`): no header, as in Streamlit.
    embedded: bool,
    /// Whether the browser prefers a dark colour scheme: the page follows it.
    pub dark: bool,
    /// The number format for the visitor's locale.
    pub numbers: Numbers,
}

/// The browser's wall-clock time, from the UTC offset its script reported.
fn local_time(offset_minutes: i32) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let local = now - i64::from(offset_minutes) * 60;
    let minutes = local.div_euclid(60).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl From<&Context> for ContextPanel {
    fn from(ctx: &Context) -> Self {
        let offset = ctx.timezone_offset().map(|m| {
            // JavaScript's sign: minutes *behind* UTC.
            let east = -m;
            format!(
                " (UTC{}{:02}:{:02})",
                if east < 0 { '-' } else { '+' },
                east.abs() / 60,
                east.abs() % 60
            )
        });
        let script = "reported by the browser script";
        Self {
            embedded: ctx.is_embedded(),
            dark: ctx.theme() == Some(Theme::Dark),
            numbers: Numbers::for_context(ctx),
            rows: vec![
                (
                    "locale",
                    "Locale",
                    ctx.locale().map(str::to_owned),
                    "no Accept-Language header",
                ),
                (
                    "timezone",
                    "Timezone",
                    ctx.timezone()
                        .map(|tz| format!("{tz}{}", offset.unwrap_or_default())),
                    script,
                ),
                (
                    "theme",
                    "Theme",
                    ctx.theme().map(|t| t.as_str().to_owned()),
                    script,
                ),
                (
                    "time",
                    "Your time",
                    ctx.timezone_offset().map(local_time),
                    script,
                ),
                ("url", "URL", ctx.url().map(str::to_owned), "no Host header"),
                (
                    "embedded",
                    "Embedded",
                    Some(
                        if ctx.is_embedded() {
                            "yes (embed=true)"
                        } else {
                            "no"
                        }
                        .to_owned(),
                    ),
                    "",
                ),
                (
                    "ip",
                    "IP address",
                    Some(
                        ctx.ip_address()
                            .map_or_else(|| "local".to_owned(), |ip| ip.to_string()),
                    ),
                    "",
                ),
            ],
        }
    }
}

impl ContextPanel {
    /// This panel as the page at `page` sees it, for a request made to
    /// `requested` (the URL row ends in `requested`).
    pub fn for_path(mut self, requested: &str, page: &str) -> Self {
        for (id, _, value, _) in &mut self.rows {
            if *id == "url"
                && let Some(url) = value
                && let Some(origin) = url.strip_suffix(requested)
            {
                *url = format!("{origin}{page}");
            }
        }
        self
    }
}

/// The cache panel's content.
#[derive(Debug)]
pub struct CachePanel {
    /// Every cached function called so far, with its stats.
    pub functions: Vec<FunctionInfo>,
    /// Every cached call this request made ([`cache_runtime::trace`]).
    pub calls: Vec<CallRecord>,
}

impl CachePanel {
    /// What the calls of the function `name` got in this request, e.g.
    /// `miss`, `hit ×3`, `miss, hit`; `—` when it was not called.
    fn this_request(&self, name: &str) -> String {
        let mut seen: Vec<(&'static str, usize)> = Vec::new();
        for call in self.calls.iter().filter(|c| c.function == name) {
            let word = match call.outcome {
                TracedOutcome::Hit => "hit",
                TracedOutcome::Miss => "miss",
                TracedOutcome::Disk => "disk",
                TracedOutcome::Redis => "redis",
                TracedOutcome::Stale => "stale",
                _ => "uncached",
            };
            match seen.iter_mut().find(|(w, _)| *w == word) {
                Some((_, n)) => *n += 1,
                None => seen.push((word, 1)),
            }
        }
        if seen.is_empty() {
            return "—".to_owned();
        }
        seen.iter()
            .map(|(word, n)| {
                if *n == 1 {
                    (*word).to_owned()
                } else {
                    format!("{word} ×{n}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One row of "My saved views".
#[derive(Debug, Clone, PartialEq)]
pub struct SavedViewRow {
    /// Its name.
    pub name: String,
    /// Its query string.
    pub query: String,
    /// Its totals, unless the view is no longer valid.
    pub totals: Option<Totals>,
}

/// A short description of a view, e.g. "Europe, Oceania · 2024-01-01 →
/// 2024-06-30 · Profit": the default name of a saved view.
pub fn describe_view(args: &ViewArgs) -> String {
    let regions = if args.regions.len() == data::REGIONS.len() {
        "All regions".to_owned()
    } else {
        args.regions
            .iter()
            .map(|slug| data::region(slug).map_or(slug.as_str(), |r| r.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{regions} · {} → {} · {}",
        args.start,
        args.end,
        args.metric.label()
    )
}

/// Whether the page's visitor is the operator, who alone may clear caches
/// (one function's, or all of them): Streamlit hides "Clear cache" from
/// viewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// A visitor on the dashboard's own machine, with no admin token set.
    Loopback,
    /// A browser session signed in with the admin token.
    SignedIn,
    /// Not signed in, but an admin token is set: this visitor may sign in.
    MaySignIn,
    /// Not this visitor (no token set, and not on this machine).
    No,
}

impl Operator {
    /// Whether this visitor may clear caches now.
    pub fn may_clear(self) -> bool {
        matches!(self, Operator::Loopback | Operator::SignedIn)
    }
}

/// What the dashboard page shows before its data: the header, the
/// filters, the flash message. It is sent first, so that the browser shows
/// it (and what computes) while the data loads; see [`dashboard_start`].
#[derive(Debug, Clone)]
pub struct Frame {
    /// The normalized filters.
    pub args: ViewArgs,
    /// The request's path and query (for links and `back` fields).
    pub uri: Uri,
    /// The remembered chart style.
    pub style: ChartStyle,
    /// Where sessions and cache live.
    pub backend: Arc<str>,
    /// Rows in the data set.
    pub total_rows: u64,
    /// A one-time message from the last form post.
    pub flash: Option<String>,
    /// The context script's `<script>` tag.
    pub script_tag: Arc<str>,
    /// This session's token against cross-site form posts, sent back by
    /// every form.
    pub csrf: String,
    /// Whether this visitor is the operator, who may clear caches.
    pub operator: Operator,
    /// The request context.
    pub context: ContextPanel,
}

impl Frame {
    /// The hidden fields of every form: where to return after the post, and
    /// the session's CSRF token.
    fn back_field(&self) -> String {
        let back = self.uri.path_and_query().map_or("/", |pq| pq.as_str());
        format!(
            r#"<input type="hidden" name="back" value="{}"><input type="hidden" name="csrf" value="{}">"#,
            escape(back),
            escape(&self.csrf)
        )
    }
}

/// The dashboard's data and the panels that depend on it.
#[derive(Debug)]
pub struct Panels<'a> {
    /// The data and how it was loaded.
    pub view: &'a ViewData,
    /// The chart, as an SVG document.
    pub chart_svg: &'a str,
    /// Per-browser state.
    pub session: SessionPanel<'a>,
    /// The cache's functions.
    pub cache: CachePanel,
    /// The live "orders today" tile, and where its value came from.
    pub live: &'a (LiveOrders, Outcome),
    /// "My saved views".
    pub saved: Vec<SavedViewRow>,
}

/// "This view with `edits` applied", via the `state` crate's URL helper.
fn link(uri: &Uri, edits: &[(&str, &str)]) -> String {
    state::query::url_with(uri, |q| {
        for (k, v) in edits {
            q.set(*k, *v)?;
        }
        Ok(())
    })
    .unwrap_or_else(|_| "/".to_owned())
}

/// The dashboard page up to its data: the header, the filters, and a status
/// line that says the view is loading. [`running`] lines may follow, then
/// [`dashboard_end`] (or [`dashboard_failed`]).
pub fn dashboard_start(p: &Frame) -> String {
    let back_field = p.back_field();
    let mut h = String::with_capacity(16 * 1024);
    let metric = p.args.metric;

    // ---- head ----------------------------------------------------------------
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sales dashboard · {metric}</title>
{script}
<style>{CSS}</style>
</head><body class="{theme}">
"#,
        theme = if p.context.dark { "dark" } else { "light" },
        metric = escape(metric.label()),
        script = p.script_tag,
    );
    if !p.context.embedded {
        let _ = write!(
            h,
            r#"<header class="top">
  <div class="brand"><span class="logo">◆</span> Outdoor Co. — sales dashboard</div>
  <div class="sub">{rows} orders in SQLite · {backend}</div>
</header>
"#,
            rows = p.context.numbers.int(p.total_rows),
            backend = escape(&p.backend),
        );
    }
    h.push_str(r#"<div class="layout">"#);

    // ---- sidebar: filters and preferences --------------------------------------
    h.push_str(r#"<aside class="sidebar"><form id="filters" method="get" action="/">"#);
    if p.context.embedded {
        // A GET form sends only its fields: keep the embed flag.
        h.push_str(r#"<input type="hidden" name="embed" value="true">"#);
    }
    h.push_str(r#"<h3>Regions</h3><div class="regions">"#);
    for region in &data::REGIONS {
        let checked = if p.args.regions.iter().any(|r| r == region.slug) {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            h,
            r#"<label class="check"><input type="checkbox" name="region" value="{slug}"{checked}><span class="dot" style="background:{color}"></span>{name}</label>"#,
            slug = region.slug,
            color = chart::region_color(region.slug),
            name = escape(region.name),
        );
    }
    let _ = write!(
        h,
        r#"</div><h3>Date range</h3>
<div class="dates"><label>From<input type="date" id="from" name="from" value="{start}" min="{min}" max="{max}"></label>
<label>To<input type="date" id="to" name="to" value="{end}" min="{min}" max="{max}"></label></div>
<div class="quick">"#,
        start = escape(&p.args.start),
        end = escape(&p.args.end),
        min = data::FIRST_DAY,
        max = data::LAST_DAY,
    );
    for (label, from, to) in [
        ("Last 30 days", "2025-12-02", data::LAST_DAY),
        ("Q4 2025", "2025-10-01", data::LAST_DAY),
        ("2025", "2025-01-01", data::LAST_DAY),
        ("2024", "2024-01-01", "2024-12-31"),
        ("All time", data::FIRST_DAY, data::LAST_DAY),
    ] {
        let active = p.args.start == from && p.args.end == to;
        let _ = write!(
            h,
            r#"<a class="pill{}" href="{}">{}</a>"#,
            if active { " active" } else { "" },
            escape(&link(&p.uri, &[("from", from), ("to", to)])),
            label
        );
    }
    h.push_str(r#"</div><h3>Metric</h3><select id="metric" name="metric">"#);
    for m in Metric::ALL {
        let _ = write!(
            h,
            r#"<option value="{}"{}>{}</option>"#,
            m.slug(),
            if m == metric { " selected" } else { "" },
            m.label()
        );
    }
    h.push_str(r#"</select><button class="apply" type="submit">Apply filters</button></form>"#);
    let _ = write!(
        h,
        r#"<h3>Chart style <small>per browser</small></h3>
<form method="post" action="/prefs" class="segmented" id="prefs">{back_field}"#
    );
    for style in ChartStyle::ALL {
        let _ = write!(
            h,
            r#"<button type="submit" name="style" value="{}" class="{}">{}</button>"#,
            style.slug(),
            if style == p.style { "on" } else { "" },
            style.label()
        );
    }
    h.push_str(
        r#"</form><p class="hint">Every filter lives in the URL: copy it to share this exact view.</p></aside>"#,
    );

    // ---- main ------------------------------------------------------------------
    h.push_str(r#"<main>"#);
    if let Some(flash) = &p.flash {
        let _ = write!(
            h,
            r#"<div class="flash" id="flash">{}</div>"#,
            escape(flash)
        );
    }
    // While the data loads: the browser shows this, then each computation.
    h.push_str(r#"<div class="status running" id="progress"><strong>Loading this view…</strong><ul class="running">"#);
    h
}

/// One line of the loading status: a computation that started, with its
/// spinner text (Streamlit's "Running `sales_series(...)`.").
pub fn running(text: &str) -> String {
    format!("<li>{}</li>", escape(text))
}

/// Closes the loading status, which the data replaces.
const LOADED: &str = "</ul></div><style>#progress{display:none}</style>";

/// The rest of the page when its data could not be loaded (the status was
/// sent already: the message takes the data's place).
pub fn dashboard_failed(message: &str) -> String {
    format!(
        r#"{LOADED}<div class="status miss" id="load-failed"><strong>The data could not be loaded.</strong><span>{}</span></div></main></div></body></html>"#,
        escape(message)
    )
}

/// The dashboard page from its data on, after [`dashboard_start`].
pub fn dashboard_end(p: &Frame, panels: &Panels<'_>) -> String {
    let back_field = p.back_field();
    let mut h = String::with_capacity(64 * 1024);
    h.push_str(LOADED);
    let metric = p.args.metric;
    let view = panels.view;
    let num = p.context.numbers;
    let outcome = view.outcome();
    let hit = outcome != Outcome::Miss;
    let (word, tier) = match outcome {
        Outcome::Memory | Outcome::Stale => ("hit", "memory"),
        Outcome::Disk => ("hit", "disk"),
        Outcome::Redis => ("hit", "redis"),
        Outcome::Miss => ("miss", "none"),
    };
    let from = match outcome {
        Outcome::Disk => ": from disk",
        Outcome::Redis => ": from Redis",
        _ => "",
    };
    let _ = write!(
        h,
        r#"<div class="status {word}" id="load-status" data-cache="{word}" data-tier="{tier}"><strong>{icon} data loaded in {time} (cache {word}{from})</strong><span>{detail}</span></div>"#,
        icon = if hit { "⚡" } else { "●" },
        time = num.duration(view.elapsed),
        detail = view
            .outcomes
            .iter()
            .map(|(f, o)| format!("{f}: {}", o.label()))
            .collect::<Vec<_>>()
            .join(" · "),
    );

    // KPI cards.
    let orders: u64 = view.summary.iter().map(|r| r.orders).sum();
    let units: u64 = view.summary.iter().map(|r| r.units).sum();
    let revenue: f64 = view.summary.iter().map(|r| r.revenue).sum();
    let profit: f64 = view.summary.iter().map(|r| r.profit).sum();
    let margin = if revenue > 0.0 {
        profit / revenue * 100.0
    } else {
        0.0
    };
    h.push_str(r#"<div class="kpis">"#);
    for (label, value, id) in [
        ("Revenue", num.money(revenue), "kpi-revenue"),
        ("Orders", num.int(orders), "kpi-orders"),
        ("Units sold", num.int(units), "kpi-units"),
        ("Profit margin", num.percent(margin), "kpi-margin"),
    ] {
        let _ = write!(
            h,
            r#"<div class="kpi"><div class="label">{label}</div><div class="value" id="{id}">{value}</div></div>"#
        );
    }
    h.push_str(&live_tile(panels.live, num));
    h.push_str("</div>");

    // Chart.
    let region_name =
        |slug: &str| data::region(slug).map_or(slug.to_owned(), |r| r.name.to_owned());
    let _ = write!(
        h,
        r#"<section class="card"><div class="card-head"><h2>{metric} by region, {bucket}</h2><span class="muted">{start} → {end}</span></div><div class="legend">"#,
        metric = metric.label(),
        bucket = view.series.bucket.label(),
        start = escape(&p.args.start),
        end = escape(&p.args.end),
    );
    for line in &view.series.lines {
        let _ = write!(
            h,
            r#"<span><i style="background:{}"></i>{}</span>"#,
            chart::region_color(&line.region),
            escape(&region_name(&line.region))
        );
    }
    let _ = write!(
        h,
        r#"</div><div id="chart">{}</div></section>"#,
        panels.chart_svg
    );

    // Tables.
    h.push_str(r#"<div class="grid2"><section class="card"><h2>By region</h2><table id="summary-table"><thead><tr><th>Region</th><th class="num">Orders</th><th class="num">Units</th><th class="num">Revenue</th><th class="num">Profit</th><th class="num">Margin</th></tr></thead><tbody>"#);
    for row in &view.summary {
        let margin = if row.revenue > 0.0 {
            row.profit / row.revenue * 100.0
        } else {
            0.0
        };
        let _ = write!(
            h,
            r#"<tr data-region="{slug}"><td><span class="dot" style="background:{color}"></span>{name}</td><td class="num">{orders}</td><td class="num">{units}</td><td class="num">{revenue}</td><td class="num">{profit}</td><td class="num">{margin}</td></tr>"#,
            slug = escape(&row.region),
            color = chart::region_color(&row.region),
            name = escape(&region_name(&row.region)),
            orders = num.int(row.orders),
            units = num.int(row.units),
            revenue = num.money(row.revenue),
            profit = num.money(row.profit),
            margin = num.percent(margin),
        );
    }
    if view.summary.is_empty() {
        h.push_str(r#"<tr><td colspan="6" class="muted">No orders match these filters.</td></tr>"#);
    }
    let _ = write!(
        h,
        r#"</tbody></table></section><section class="card"><h2>Best sellers by {}</h2><table id="products-table"><thead><tr><th>Product</th><th>Category</th><th class="num">{}</th></tr></thead><tbody>"#,
        metric.label().to_lowercase(),
        metric.label()
    );
    let top = view.products.first().map_or(1.0, |p| p.value.max(1.0));
    for row in &view.products {
        let _ = write!(
            h,
            r#"<tr><td>{}</td><td class="muted">{}</td><td class="num bar"><span style="width:{:.0}%"></span>{}</td></tr>"#,
            escape(&row.product),
            escape(&row.category),
            (row.value / top * 100.0).clamp(0.0, 100.0),
            num.metric(metric, row.value)
        );
    }
    h.push_str("</tbody></table></section></div>");

    // Session and context panels.
    let _ = write!(
        h,
        r#"<div class="grid2"><section class="card" id="session-panel"><h2>Your session <small>private to this browser</small></h2>
<div class="session-row"><div class="big" id="visits">{visits}</div><div>views of this dashboard in this browser<br><span class="muted">session <span id="session-id">{sid}</span> · chart style: <span id="chart-style">{style}</span></span></div></div>
<form method="post" action="/notes" id="notes-form">{back_field}<label for="notes">Notes (survive reloads, only you see them)</label><textarea id="notes" name="notes" rows="3" maxlength="4000" placeholder="e.g. Europe dipped in March 2024: warehouse outage">{notes}</textarea><button type="submit" id="save-notes">Save notes</button></form></section>"#,
        visits = panels.session.visits,
        sid = escape(&panels.session.id.map_or_else(
            || "new".to_owned(),
            |id| id.chars().take(8).collect::<String>() + "…"
        )),
        style = p.style.label().to_lowercase(),
        notes = escape(panels.session.notes),
    );
    h.push_str(&context_panel(&p.context));
    h.push_str("</div>");
    h.push_str(&saved_views_panel(&panels.saved, &p.args, &back_field, num));

    // Cache panel.
    h.push_str(r#"<section class="card" id="cache-panel"><div class="card-head"><h2>Cache</h2><span class="muted">every cached function of this process · “this page” is this request's calls · counters survive clears</span></div>
<table id="cache-table"><thead><tr><th>Function</th><th>Policy</th><th title="what this page's calls got (cache_runtime::trace)">This page</th><th class="num">Hits</th><th class="num">Misses</th><th class="num" title="memory misses answered by the persistent tier">Tier hits</th><th class="num">Hit ratio</th><th class="num">Entries</th><th class="num">Time saved</th><th></th></tr></thead><tbody>"#);
    for f in &panels.cache.functions {
        let kind = match f.kind {
            Kind::Data => "data",
            Kind::Resource => "resource",
            _ => "other",
        };
        let mut policy = Vec::new();
        if let Some(ttl) = f.ttl {
            policy.push(format!("ttl {}", human_duration(ttl)));
        }
        if let Some(max) = f.max_entries {
            policy.push(format!("max {max}"));
        }
        if let Some(bytes) = f.max_size {
            policy.push(format!("max {} KiB", num.int(bytes / 1024)));
        }
        match f.persist {
            Some(Persist::Disk) => policy.push("disk".to_owned()),
            Some(Persist::Redis) => policy.push("redis".to_owned()),
            _ => {}
        }
        if f.scope == Scope::Session {
            policy.push("per session".to_owned());
        }
        if f.max_stale.is_some() {
            policy.push("background refresh".to_owned());
        }
        let action = QueryMap::from_pairs([("fn", f.name)])
            .map(|q| q.to_url("/cache/clear"))
            .unwrap_or_else(|_| "/cache/clear".to_owned());
        let s = f.stats;
        let _ = write!(
            h,
            r#"<tr data-fn="{short}"><td><code>{short}</code> <span class="badge {kind}">{kind}</span></td><td class="muted">{policy}</td><td class="this-page">{this_page}</td><td class="num hits">{hits}</td><td class="num misses">{misses}</td><td class="num">{tier_hits}</td><td class="num">{ratio:.0}%</td><td class="num entries">{entries}</td><td class="num">{saved}</td><td>{clear}</td></tr>"#,
            short = escape(f.short_name()),
            policy = if policy.is_empty() {
                "—".to_owned()
            } else {
                policy.join(" · ")
            },
            this_page = panels.cache.this_request(f.name),
            hits = num.int(s.hits),
            misses = num.int(s.misses),
            tier_hits = match (s.disk_hits, s.redis_hits) {
                (0, 0) => "—".to_owned(),
                (d, 0) => format!("{} disk", num.int(d)),
                (0, r) => format!("{} redis", num.int(r)),
                (d, r) => format!("{} disk · {} redis", num.int(d), num.int(r)),
            },
            ratio = s.hit_ratio() * 100.0,
            entries = num.int(s.entries),
            saved = num.duration(s.time_saved()),
            clear = if p.operator.may_clear() {
                format!(
                    r#"<form method="post" action="{action}">{back_field}<button class="small" type="submit" title="{name}">Clear</button></form>"#,
                    action = escape(&action),
                    name = escape(f.name),
                )
            } else {
                String::new()
            },
        );
    }
    let _ = write!(
        h,
        r#"</tbody></table><div class="actions">
<form method="post" action="/cache/invalidate">{back_field}<button type="submit" id="forget-view">Forget this view</button></form>
{clear_all}
<span class="muted">“Forget this view” calls <code>invalidate(..)</code> with the current filters; the next load is a miss.</span></div></section>"#,
        clear_all = clear_all_form(p.operator, &back_field)
    );
    let _ = write!(h, "</main></div><script>{SCRIPT}</script></body></html>");
    h
}

/// The request-context panel (also served alone, for the page's script to
/// fill in a first visit's browser fields).
pub fn context_panel(context: &ContextPanel) -> String {
    let mut h =
        String::from(r#"<section class="card" id="context-panel"><h2>Request context</h2><dl>"#);
    for (id, label, value, why) in &context.rows {
        match value {
            Some(v) => {
                let _ = write!(h, r#"<dt>{label}</dt><dd id="ctx-{id}">{}</dd>"#, escape(v));
            }
            None => {
                let _ = write!(
                    h,
                    r#"<dt>{label}</dt><dd id="ctx-{id}" class="muted" data-unknown>unknown ({why})</dd>"#
                );
            }
        }
    }
    h.push_str("</dl></section>");
    h
}

/// A time of day in UTC, `HH:MM:SS`, from seconds since 1970.
fn utc_time(seconds: u64) -> String {
    let of_day = seconds % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The live "orders today" tile: the count, and how fresh it is.
fn live_tile((live, outcome): &(LiveOrders, Outcome), num: Numbers) -> String {
    let freshness = match outcome {
        Outcome::Stale => "stale: refreshing in the background",
        Outcome::Miss => "just counted",
        _ => "fresh (cached for 5 s)",
    };
    format!(
        r#"<div class="kpi live" id="live-tile" data-cache="{cache}" title="Replays the orders of {day}, spread over the day, up to now. Cached with refresh_mode = &quot;background&quot;: never makes the page wait."><div class="label">Orders today <span class="pulse"></span></div><div class="value" id="live-orders">{orders}</div><div class="sub">{revenue} · as of <span id="live-as-of">{time}</span> UTC · <span id="live-freshness">{freshness}</span></div></div>"#,
        cache = outcome.label(),
        day = escape(&live.replayed_day),
        orders = num.int(live.orders),
        revenue = num.money(live.revenue),
        time = utc_time(live.as_of),
    )
}

/// "My saved views": a form to save the current view, and each saved view
/// with its totals (from the session-scoped `saved_view_totals`).
fn saved_views_panel(
    saved: &[SavedViewRow],
    args: &ViewArgs,
    back_field: &str,
    num: Numbers,
) -> String {
    let mut h = format!(
        r#"<section class="card" id="saved-views"><div class="card-head"><h2>My saved views <small>private to this browser · totals cached per session</small></h2></div>
<form method="post" action="/views/save" id="save-view" class="inline">{back_field}<input type="text" name="name" id="view-name" maxlength="60" placeholder="{placeholder}"><button type="submit" id="save-view-button">Save this view</button></form><ul class="views">"#,
        placeholder = escape(&describe_view(args)),
    );
    for view in saved {
        let totals = view.totals.map_or_else(
            || "—".to_owned(),
            |t| format!("{} orders · {}", num.int(t.orders), num.money(t.revenue)),
        );
        let _ = write!(
            h,
            r#"<li data-query="{query}"><a href="/?{query}">{name}</a><span class="muted">{totals}</span><form method="post" action="/views/delete">{back_field}<input type="hidden" name="query" value="{query}"><button class="small" type="submit" title="Delete this saved view">Delete</button></form></li>"#,
            query = escape(&view.query),
            name = escape(&view.name),
        );
    }
    if saved.is_empty() {
        h.push_str(r#"<li class="muted" id="no-saved-views">No saved views yet: name this view and save it.</li>"#);
    }
    h.push_str("</ul></section>");
    h
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        s if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        s if s.is_multiple_of(60) => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A minimal error page.
pub fn error_page(status: StatusCode, message: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{status}</title><style>{CSS}</style></head><body><main class="error"><h1>{status}</h1><p>{}</p><p><a href="/">Back to the dashboard</a></p></main></body></html>"#,
        escape(message)
    )
}

/// "Clear all caches": for the operator only, saying before the click that
/// it also resets this browser's session state; with an admin token set, a
/// visitor signs in with it first.
fn clear_all_form(operator: Operator, back_field: &str) -> String {
    const WARNING: &str = "Clears every cached function for every user, and resets this browser's session state (visits, chart style, notes, saved views).";
    match operator {
        Operator::No => r#"<span class="muted" id="clear-all-note">Only the operator can clear caches (from the dashboard's machine, or signed in with its admin token).</span>"#.to_owned(),
        Operator::MaySignIn => format!(
            r#"<form method="post" action="/operator/sign-in" id="sign-in" class="inline">{back_field}<input type="password" name="admin_token" id="admin-token" placeholder="admin token" autocomplete="off" required><button type="submit" id="sign-in-button">Sign in as the operator</button></form><span class="muted" id="clear-all-note">Clearing caches is for the operator: sign in with the admin token (for this browser session).</span>"#
        ),
        Operator::Loopback | Operator::SignedIn => format!(
            r#"<form method="post" action="/cache/clear-all" title="{WARNING}">{back_field}<button type="submit" class="danger" id="clear-all">Clear all caches</button><span class="muted" id="clear-all-warning">{WARNING}</span></form>"#
        ),
    }
}

/// The 400 page of a view with unusable parameters: each one named, with
/// what it must be, and a link to the view without them.
pub fn bad_parameters_page(bad: &[super::app::BadParameter], fixed: &str) -> String {
    let items: String = bad
        .iter()
        .map(|b| {
            format!(
                r#"<li><code>{}</code> = <code>{}</code>: expected {}.</li>"#,
                escape(b.name),
                escape(&b.value),
                escape(&b.expected)
            )
        })
        .collect();
    let status = StatusCode::BAD_REQUEST;
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{status}</title><style>{CSS}</style></head><body><main class="error"><h1>{status}</h1><p>This view's link has parameters the dashboard cannot use:</p><ul id="bad-parameters">{items}</ul><p><a id="fixed-view" href="{}">Open the view without them</a> · <a href="/">Back to the dashboard</a></p></main></body></html>"#,
        escape(fixed)
    )
}

/// The page's script. Everything works without it (the filter form's
/// "Apply filters" button, plain links, form posts); with it:
///
/// - **Filters update the page in place**: a change of a filter (or a
///   quick-range link, or the browser's back and forward) fetches the new
///   view and swaps the panels, with the URL updated (`history.pushState`):
///   no reload, the scroll position and the sidebar stay.
/// - **Feedback while a miss runs**: while that fetch is pending, the status
///   line polls `/_cache/running` and shows what is computing for this
///   browser, with Streamlit's spinner text ("Running `sales_series(...)`.").
///   (A page loaded whole shows the same as it streams in, script or not:
///   see [`super::stream`].)
/// - **A truthful first visit**: the context script does not reload the
///   page (`ContextConfig::reload_on_change(false)`); when it has just
///   stored the browser's fields (`<html data-st-context="updated">`), the
///   context panel is fetched again (`/panels/context`), and for a browser
///   that prefers a dark theme the page turns dark and the chart is fetched
///   again (`/panels/chart`), with no second view of the dashboard.
pub const SCRIPT: &str = include_str!("dashboard.js");

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#0f172a;background:#f1f5f9}
.top{display:flex;align-items:baseline;gap:18px;padding:14px 28px;background:#0f172a;color:#f8fafc}
.brand{font-size:18px;font-weight:650;letter-spacing:.2px}.logo{color:#f43f5e}
.top .sub{color:#94a3b8;font-size:13px}
.layout{display:grid;grid-template-columns:270px minmax(0,1fr);min-height:calc(100vh - 52px)}
.sidebar{background:#fff;border-right:1px solid #e2e8f0;padding:18px 20px}
.sidebar h3{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#64748b;margin:18px 0 8px}
.sidebar h3:first-child{margin-top:0}.sidebar h3 small{text-transform:none;letter-spacing:0;font-weight:400;color:#94a3b8}
.check{display:flex;align-items:center;gap:8px;padding:3px 0;cursor:pointer}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;vertical-align:middle}
.check .dot{margin-right:0}
.dates{display:grid;grid-template-columns:1fr 1fr;gap:8px}.dates label{font-size:12px;color:#64748b}
input[type=date],select,textarea{width:100%;font:inherit;padding:6px 8px;border:1px solid #cbd5e1;border-radius:8px;background:#fff;color:inherit}
.quick{display:flex;flex-wrap:wrap;gap:6px;margin-top:10px}
.pill{font-size:12px;padding:3px 9px;border-radius:999px;background:#f1f5f9;color:#334155;text-decoration:none;border:1px solid #e2e8f0}
.pill.active,.pill:hover{background:#2563eb;color:#fff;border-color:#2563eb}
button{font:inherit;cursor:pointer;border-radius:8px;border:1px solid #cbd5e1;background:#fff;padding:6px 12px;color:#0f172a}
button:hover{border-color:#2563eb;color:#2563eb}
.apply{margin-top:14px;width:100%;background:#2563eb;color:#fff;border-color:#2563eb}.apply:hover{color:#fff;background:#1d4ed8}
.segmented{display:flex}.segmented button{flex:1;border-radius:0}.segmented button:first-of-type{border-radius:8px 0 0 8px}
.segmented button:last-of-type{border-radius:0 8px 8px 0;margin-left:-1px}.segmented button.on{background:#0f172a;color:#fff;border-color:#0f172a}
.hint{color:#64748b;font-size:12px;margin-top:22px}
main{padding:20px 28px;display:flex;flex-direction:column;gap:16px}
.flash{background:#ecfdf5;border:1px solid #a7f3d0;color:#065f46;padding:8px 14px;border-radius:10px}
.status{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:baseline;padding:9px 14px;border-radius:10px;border:1px solid}
.status span{color:#64748b;font-size:12px}
.status.hit{background:#eff6ff;border-color:#bfdbfe;color:#1e40af}.status.miss{background:#fffbeb;border-color:#fde68a;color:#92400e}
.kpis{display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:16px}
.kpi{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:14px 18px}
.kpi .label{color:#64748b;font-size:12px;text-transform:uppercase;letter-spacing:.05em}.kpi .value{font-size:clamp(18px,1.55vw,26px);font-weight:650;margin-top:2px;white-space:nowrap}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:16px 18px;overflow-x:auto}
.card h2{font-size:15px;margin:0 0 10px}.card h2 small{font-weight:400;color:#94a3b8;font-size:12px;margin-left:6px}
.card-head{display:flex;justify-content:space-between;align-items:baseline;gap:12px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:13px;color:#334155;margin-bottom:4px}
.legend i{display:inline-block;width:14px;height:4px;border-radius:2px;margin-right:6px;vertical-align:middle}
#chart svg{width:100%;height:auto;display:block}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#64748b;font-weight:600;border-bottom:1px solid #e2e8f0;padding:6px 8px}
td{padding:7px 8px;border-bottom:1px solid #f1f5f9}.num{text-align:right;font-variant-numeric:tabular-nums}
td.bar{position:relative}td.bar span{position:absolute;right:0;top:6px;bottom:6px;background:#dbeafe;border-radius:4px;z-index:0}
td.bar{z-index:0}td.bar{isolation:isolate}td.bar span{z-index:-1}
.muted{color:#94a3b8}
.session-row{display:flex;align-items:center;gap:16px;margin-bottom:12px}.big{font-size:40px;font-weight:700;color:#2563eb;min-width:56px;text-align:center}
#notes-form label{display:block;font-size:12px;color:#64748b;margin-bottom:4px}#notes-form button{margin-top:8px}
dl{display:grid;grid-template-columns:110px 1fr;gap:6px 12px;margin:0}dt{color:#64748b}dd{margin:0;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.badge{font-size:11px;padding:1px 7px;border-radius:999px;margin-left:4px}.badge.data{background:#dbeafe;color:#1e40af}.badge.resource{background:#f3e8ff;color:#6b21a8}
button.small{padding:2px 10px;font-size:12px}
.actions{display:flex;flex-wrap:wrap;align-items:center;gap:10px;margin-top:12px}.actions span{font-size:12px}
button.danger{border-color:#fecaca;color:#b91c1c}button.danger:hover{background:#fef2f2}
.error{max-width:640px;margin:60px auto;background:#fff;padding:24px 30px;border-radius:12px;border:1px solid #e2e8f0}
body.dark{color:#e2e8f0;background:#020617}
.dark .top{background:#0b1222;border-bottom:1px solid #1e293b}
.dark .sidebar,.dark .kpi,.dark .card{background:#0f172a;border-color:#1e293b}
.dark input[type=date],.dark select,.dark textarea,.dark button{background:#020617;border-color:#334155;color:#e2e8f0}
.dark input[type=date]{color-scheme:dark}
.dark .pill{background:#1e293b;border-color:#334155;color:#cbd5e1}
.dark .apply,.dark .pill.active{background:#2563eb;border-color:#2563eb;color:#fff}
.dark .segmented button.on{background:#e2e8f0;color:#0f172a;border-color:#e2e8f0}
.dark th{border-color:#1e293b}.dark td{border-color:#1e293b}
.dark .legend{color:#cbd5e1}.dark td.bar span{background:#1e3a8a}
.dark .status.hit{background:#172554;border-color:#1e40af;color:#bfdbfe}
.dark .status.miss{background:#422006;border-color:#92400e;color:#fde68a}
.dark .flash{background:#052e16;border-color:#166534;color:#bbf7d0}
.dark .badge.data{background:#1e3a8a;color:#bfdbfe}.dark .badge.resource{background:#3b0764;color:#e9d5ff}
.dark button.danger{border-color:#7f1d1d;color:#fca5a5}
.status.running{background:#f8fafc;border-color:#cbd5e1;color:#334155}
.status.running strong::before{content:"";display:inline-block;width:10px;height:10px;margin-right:8px;border:2px solid #94a3b8;border-top-color:transparent;border-radius:50%;animation:spin .8s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
ul.running{list-style:none;margin:0;padding:0;font-size:12px;color:#64748b}ul.running li:not(:last-child){display:none}
.kpi .sub{color:#64748b;font-size:12px;margin-top:2px}
.pulse{display:inline-block;width:8px;height:8px;border-radius:50%;background:#10b981;margin-left:4px;vertical-align:middle}
.inline{display:flex;gap:8px;margin-bottom:10px}.inline input[type=text]{flex:1;font:inherit;padding:6px 8px;border:1px solid #cbd5e1;border-radius:8px;background:inherit;color:inherit}
ul.views{list-style:none;margin:0;padding:0}ul.views li{display:flex;align-items:center;gap:12px;padding:6px 0;border-bottom:1px solid #f1f5f9}
ul.views li a{flex:1;color:#2563eb;text-decoration:none}ul.views li a:hover{text-decoration:underline}ul.views form{margin:0}
.dark .status.running{background:#0f172a;border-color:#334155;color:#cbd5e1}
.dark ul.views li{border-color:#1e293b}.dark .inline input[type=text]{border-color:#334155}
@media (max-width:1250px){.grid2{grid-template-columns:minmax(0,1fr)}}
@media (max-width:900px){.layout{grid-template-columns:1fr}.kpis{grid-template-columns:1fr 1fr}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_numbers() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(Numbers::default().int(0), "0");
        assert_eq!(Numbers::default().int(1_234_567), "1,234,567");
        assert_eq!(Numbers::default().money(-1234.4), "-$1,234");
        assert_eq!(grouped(1_234_567, "."), "1.234.567");
        assert_eq!(
            Numbers::default().duration(Duration::from_micros(250)),
            "0.25 ms"
        );
        assert_eq!(
            Numbers::for_locale(Some("de")).duration(Duration::from_millis(1750)),
            "1,75 s"
        );
        assert_eq!(human_duration(Duration::from_secs(600)), "10m");
    }

    fn context(accept_language: &str) -> Context {
        let (parts, ()) = http::Request::builder()
            .uri("/")
            .header("Accept-Language", accept_language)
            .body(())
            .unwrap()
            .into_parts();
        Context::from_parts(&parts, &state::ContextConfig::default())
    }

    #[test]
    fn numbers_follow_the_negotiated_locale() {
        assert_eq!(
            Numbers::for_context(&context("de-DE,de;q=0.9")).int(1_234_567),
            "1.234.567"
        );
        assert_eq!(
            Numbers::for_context(&context("en-GB")).int(1_234_567),
            "1,234,567"
        );
        assert_eq!(Numbers::for_context(&context("ja")).int(1_234), "1,234");
        assert_eq!(Numbers::for_context(&context("de")).percent(37.64), "37,6%");
        assert_eq!(Numbers::default().percent(37.64), "37.6%");
    }
}
