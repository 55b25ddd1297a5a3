//! End-to-end test of the dashboard in a real browser: starts the app
//! in-process on a random port, starts `chromedriver`, and drives headless
//! Chromium through three separate WebDriver sessions (browsers with their
//! own fresh profiles, so their own cookies): A in English, B preferring
//! German and a dark theme, C with JavaScript turned off.
//!
//! Needs Debian's `chromium` and `chromium-driver` packages; `scripts/test.sh`
//! installs them. Screenshots go to `test-output/` at the workspace root.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use examples::dashboard::{Config, serve};
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(20);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples crate lives in the workspace")
        .to_path_buf()
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A `chromedriver` child process, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(program: &Path) -> Self {
        let port = free_port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let driver = Self { child, port };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory (a Chromium profile, the disk tier), removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "dashboard-browser-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a profile directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How a test browser differs from a default English, light, scripted one.
#[derive(Debug, Clone, Copy, Default)]
struct Flavour {
    /// Its languages, as its `Accept-Language` sends them.
    languages: Option<&'static str>,
    /// Prefers a dark colour scheme.
    dark: bool,
    /// JavaScript turned off.
    no_javascript: bool,
}

async fn open_browser(
    driver: &Driver,
    profile: &TempDir,
    flavour: Flavour,
) -> Result<Client, String> {
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--hide-scrollbars".to_owned(),
        "--window-size=1400,1000".to_owned(),
        format!("--user-data-dir={}", profile.0.display()),
    ];
    let mut prefs = serde_json::Map::new();
    if let Some(languages) = flavour.languages {
        args.push(format!(
            "--lang={}",
            languages.split(',').next().unwrap_or(languages)
        ));
        prefs.insert("intl.accept_languages".to_owned(), json!(languages));
    }
    if flavour.dark {
        args.push("--force-dark-mode".to_owned());
    }
    if flavour.no_javascript {
        prefs.insert(
            "profile.managed_default_content_settings.javascript".to_owned(),
            json!(2),
        );
    }
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args, "prefs": prefs },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .map_err(|e| format!("cannot open a Chromium session through chromedriver: {e}"))
}

/// What the page shows, read in one script so it is never half-loaded.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageState {
    url: String,
    ready: String,
    cache: Option<String>,
    status: Option<String>,
    visits: Option<u64>,
    session_id: Option<String>,
    chart_style: Option<String>,
    chart_areas: u64,
    notes: Option<String>,
    regions: Vec<String>,
    summary: Option<String>,
    chart_lines: u64,
    chart_title: Option<String>,
    timezone_known: bool,
    flash: Option<String>,
    body_class: String,
    locale: Option<String>,
    kpi_orders: Option<String>,
    /// The chart's background colour (its first filled rectangle).
    chart_background: Option<String>,
    /// The chart's axis labels.
    chart_labels: Vec<String>,
    /// How this document was loaded: `navigate`, `reload`, `back_forward`.
    navigation: String,
    /// Set by the test on a document: still there means no page load since.
    marker: bool,
    /// Spinner texts the test's observer saw in the status line.
    seen_running: Vec<String>,
    saved_views: Vec<String>,
    live_orders: Option<String>,
    text: String,
}

const SNAPSHOT_JS: &str = r#"
const q = (s) => document.querySelector(s);
const text = (s) => (q(s) ? q(s).innerText : null);
return {
  url: location.href,
  ready: document.readyState,
  cache: q('#load-status') ? q('#load-status').dataset.cache : null,
  status: text('#load-status'),
  visits: q('#visits') ? parseInt(q('#visits').innerText, 10) : null,
  session_id: text('#session-id'),
  chart_style: text('#chart-style'),
  chart_areas: document.querySelectorAll('#chart svg polygon').length,
  notes: q('#notes') ? q('#notes').value : null,
  regions: [...document.querySelectorAll('#summary-table tbody tr[data-region]')].map((r) => r.dataset.region),
  summary: text('#summary-table'),
  // One 2px polyline per region (the axes are 1px), each with real data.
  chart_lines: [...document.querySelectorAll('#chart svg polyline[stroke-width="2"]')]
    .filter((l) => (l.getAttribute('points') || '').trim().split(/\s+/).length >= 10).length,
  chart_title: text('.card-head h2'),
  timezone_known: !!q('#ctx-timezone') && !q('#ctx-timezone').hasAttribute('data-unknown'),
  flash: text('#flash'),
  body_class: document.body ? document.body.className : '',
  locale: text('#ctx-locale'),
  kpi_orders: text('#kpi-orders'),
  chart_background: q('#chart svg rect') ? q('#chart svg rect').getAttribute('fill') : null,
  chart_labels: [...document.querySelectorAll('#chart svg text')].map((t) => t.textContent.trim()),
  navigation: (performance.getEntriesByType('navigation')[0] || {}).type || '',
  marker: window.__testMarker === true,
  seen_running: window.__seenRunning || [],
  saved_views: [...document.querySelectorAll('#saved-views li[data-query] a')].map((a) => a.innerText),
  live_orders: text('#live-orders'),
  text: document.body ? document.body.innerText : '',
};
"#;

async fn snapshot(c: &Client) -> Result<PageState, String> {
    let value = c
        .execute(SNAPSHOT_JS, vec![])
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Waits until the loaded page satisfies `pred`; the error shows the page.
async fn wait_for(
    c: &Client,
    what: &str,
    pred: impl Fn(&PageState) -> bool,
) -> Result<PageState, String> {
    wait_within(c, what, WAIT, pred).await
}

async fn wait_within(
    c: &Client,
    what: &str,
    wait: Duration,
    pred: impl Fn(&PageState) -> bool,
) -> Result<PageState, String> {
    let deadline = Instant::now() + wait;
    loop {
        let last = match snapshot(c).await {
            Ok(s) if s.ready == "complete" && pred(&s) => return Ok(s),
            other => other,
        };
        if Instant::now() > deadline {
            let shown = match last {
                Ok(s) => format!(
                    "URL: {}\nstatus: {:?}\n--- page text ---\n{}",
                    s.url, s.status, s.text
                ),
                Err(e) => format!("(could not read the page: {e})"),
            };
            return Err(format!("timed out waiting for {what}\n{shown}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

async fn click(c: &Client, css: &str) -> Result<(), String> {
    c.find(Locator::Css(css))
        .await
        .map_err(|e| format!("no element `{css}`: {e}"))?
        .click()
        .await
        .map_err(|e| format!("cannot click `{css}`: {e}"))
}

async fn screenshot(c: &Client, name: &str, height: u32) -> Result<PathBuf, String> {
    let dir = workspace_root().join("test-output");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    c.set_window_size(1400, height)
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let png = c.screenshot().await.map_err(|e| e.to_string())?;
    let path = dir.join(name);
    std::fs::write(&path, png).map_err(|e| e.to_string())?;
    c.set_window_size(1400, 1000)
        .await
        .map_err(|e| e.to_string())?;
    Ok(path)
}

/// Opens `url` and waits until the context panel shows the browser's
/// fields: on a browser's first visit the page's script fetches the panel
/// again once the context script has stored them, with no reload.
async fn open(c: &Client, url: &str) -> Result<PageState, String> {
    c.goto(url)
        .await
        .map_err(|e| format!("cannot open {url}: {e}"))?;
    let s = wait_for(c, "the dashboard with its context reported", |s| {
        s.timezone_known && s.cache.is_some()
    })
    .await?;
    ensure!(
        s.navigation == "navigate",
        "the first load of {url} should be the only one, but the page was loaded by {:?}",
        s.navigation
    );
    Ok(s)
}

/// Marks the current document and starts recording the spinner texts shown
/// in the status line, to tell later that the page was updated in place.
async fn mark(c: &Client) -> Result<(), String> {
    c.execute(
        r#"
window.__testMarker = true;
window.__seenRunning = [];
new MutationObserver(() => {
  const status = document.querySelector('#load-status');
  const shown = status ? status.innerText : '';
  const running = shown.match(/Running `[^`]*`\./g) || [];
  for (const r of running) if (!window.__seenRunning.includes(r)) window.__seenRunning.push(r);
}).observe(document.body, { subtree: true, childList: true, characterData: true });
"#,
        vec![],
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

async fn reload(c: &Client) -> Result<PageState, String> {
    let before = snapshot(c).await?.visits;
    c.refresh().await.map_err(|e| e.to_string())?;
    wait_for(c, "the reloaded page", |s| {
        s.cache.is_some() && s.visits != before
    })
    .await
}

async fn scenario(base: &str, a: &Client, b: &Client) -> Result<(), String> {
    // 1. The page renders a chart and the default view. A brand new browser's
    //    first visit is one view, a miss (no reload by the context script).
    let s = open(a, base).await?;
    ensure!(
        s.cache.as_deref() == Some("miss") && s.visits == Some(1),
        "a first visit should say miss and 1 view: {:?}, visits {:?}",
        s.status,
        s.visits
    );
    ensure!(
        s.chart_lines == 3,
        "expected one chart line per default region (3) in an inline SVG, found {}",
        s.chart_lines
    );
    ensure!(
        s.regions.len() == 3,
        "expected the 3 default regions in the table, found {:?}",
        s.regions
    );
    let shot = screenshot(a, "dashboard.png", 1900).await?;
    println!("screenshot: {}", shot.display());

    // 2. Changing a filter changes the URL and the data (a new view: a miss),
    //    in place: no page load.
    let before = s.summary.clone();
    mark(a).await?;
    click(a, "input[name=region][value=oceania]").await?;
    let s = wait_for(
        a,
        "region=oceania in the URL and Oceania in the table",
        |s| s.url.contains("region=oceania") && s.regions.iter().any(|r| r == "oceania"),
    )
    .await?;
    ensure!(
        s.chart_lines == 4,
        "the chart should draw 4 lines after adding a region, found {}",
        s.chart_lines
    );
    ensure!(
        s.summary != before,
        "the table did not change after adding a region"
    );
    ensure!(
        s.cache.as_deref() == Some("miss"),
        "a new view should be a cache miss: {:?}",
        s.status
    );

    a.find(Locator::Css("#metric"))
        .await
        .map_err(|e| e.to_string())?
        .select_by_value("orders")
        .await
        .map_err(|e| format!("cannot choose the `orders` metric: {e}"))?;
    let s = wait_for(a, "metric=orders in the URL", |s| {
        s.url.contains("metric=orders")
            && s.chart_title
                .as_deref()
                .is_some_and(|t| t.starts_with("Orders"))
    })
    .await?;
    ensure!(
        s.cache.as_deref() == Some("miss"),
        "a new metric should be a miss: {:?}",
        s.status
    );
    ensure!(
        s.marker,
        "changing filters should update the page in place, not load a new one"
    );

    // While a slow miss runs (every region, all time: a full scan of every
    // query), the status line says what is computing, as Streamlit does.
    for region in ["south-asia", "latin-america", "middle-east", "africa"] {
        click(a, &format!("input[name=region][value={region}]")).await?;
        wait_for(a, &format!("region={region} in the URL"), |s| {
            s.url.contains(&format!("region={region}")) && s.cache.as_deref() != Some("running")
        })
        .await?;
    }
    mark(a).await?;
    click(a, "a.pill:last-child").await?;
    let s = wait_for(a, "all time, every region", |s| {
        s.url.contains("from=2023-01-01")
            && s.regions.len() == 8
            && s.cache.as_deref() == Some("miss")
    })
    .await?;
    ensure!(
        s.seen_running
            .iter()
            .any(|r| r == "Running `sales_series(...)`."),
        "the page should show what computes while a miss runs, saw {:?}",
        s.seen_running
    );
    ensure!(
        s.marker,
        "a quick-range link should update the page in place"
    );
    // Back to the previous view: in place too, and a hit.
    a.back().await.map_err(|e| e.to_string())?;
    let s = wait_for(a, "the previous view after going back", |s| {
        !s.url.contains("from=2023-01-01") && s.cache.as_deref() == Some("hit")
    })
    .await?;
    ensure!(s.marker, "going back should update the page in place");
    a.forward().await.map_err(|e| e.to_string())?;
    let s = wait_for(a, "all time again after going forward", |s| {
        s.url.contains("from=2023-01-01") && s.cache.as_deref() == Some("hit")
    })
    .await?;
    let filtered_url = s.url.clone();
    let filtered_summary = s.summary.clone();
    let filtered = s;
    let s = &filtered;
    let x_labels: Vec<&str> = s
        .chart_labels
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .collect();
    ensure!(
        x_labels.contains(&"Jan 2024") && x_labels.contains(&"Apr") && x_labels.len() <= 12,
        "three years should be labelled on quarter starts, got {x_labels:?}"
    );
    ensure!(
        s.live_orders.is_some(),
        "the live orders tile should be on the page"
    );

    // "My saved views": save this view under a name, open it from the list.
    a.find(Locator::Css("#view-name"))
        .await
        .map_err(|e| e.to_string())?
        .send_keys("Everything, all time")
        .await
        .map_err(|e| e.to_string())?;
    click(a, "#save-view-button").await?;
    let s = wait_for(a, "the view to be saved", |s| {
        s.saved_views == ["Everything, all time"]
    })
    .await?;
    ensure!(s.url == filtered_url, "saving should come back to the view");

    // 3. A second load of the same view is a cache hit, with the same data.
    let s = reload(a).await?;
    ensure!(
        s.cache.as_deref() == Some("hit"),
        "the second load should be a cache hit: {:?}",
        s.status
    );
    ensure!(
        s.url == filtered_url,
        "reloading changed the URL: {} → {}",
        filtered_url,
        s.url
    );
    ensure!(
        s.summary == filtered_summary,
        "a hit should show the same data"
    );
    screenshot(a, "dashboard-filtered.png", 1900).await?;

    // The shareable URL opens the same view in another browser (also a hit).
    // 4. Two browsers have separate sessions: counters, ids and notes.
    // A remembered preference: the chart style, kept in this browser's session.
    click(a, "#prefs button[value=area]").await?;
    wait_for(a, "the chart style to be remembered", |s| {
        s.flash.as_deref().is_some_and(|f| f.contains("remembered"))
    })
    .await?;
    let s = reload(a).await?;
    ensure!(
        s.chart_style.as_deref() == Some("areas") && s.chart_areas >= 1,
        "the area style should survive a reload and draw areas: style {:?}, {} areas",
        s.chart_style,
        s.chart_areas
    );

    let a_visits = s.visits.unwrap_or(0);
    let a_id = s.session_id.clone();
    a.find(Locator::Css("#notes"))
        .await
        .map_err(|e| e.to_string())?
        .send_keys("private note from browser A")
        .await
        .map_err(|e| e.to_string())?;
    click(a, "#save-notes").await?;
    let s = wait_for(a, "the notes to be saved", |s| {
        s.flash.as_deref() == Some("Notes saved.")
    })
    .await?;
    ensure!(
        s.notes.as_deref() == Some("private note from browser A"),
        "notes did not survive the reload: {:?}",
        s.notes
    );
    ensure!(
        s.visits == Some(a_visits + 1),
        "A's counter should go {a_visits} → {}, got {:?}",
        a_visits + 1,
        s.visits
    );

    let s_b = open(b, &filtered_url).await?;
    ensure!(
        s_b.cache.as_deref() == Some("hit"),
        "the shared URL should hit the cache in browser B too: {:?}",
        s_b.status
    );
    ensure!(
        s_b.url == filtered_url,
        "browser B should show the shared view"
    );
    // B prefers German and a dark theme: its first page learns both without
    // a reload (the context panel and the chart are fetched again).
    let s_b = wait_for(b, "browser B's page turned dark", |s| {
        s.body_class == "dark"
    })
    .await?;
    ensure!(
        s_b.chart_background
            .as_deref()
            .is_some_and(|fill| !fill.eq_ignore_ascii_case("#FFFFFF")),
        "the chart should be redrawn dark, its background is {:?}",
        s_b.chart_background
    );
    ensure!(
        s_b.locale.as_deref().is_some_and(|l| l.starts_with("de")),
        "browser B's locale should be German: {:?}",
        s_b.locale
    );
    let (a_orders, b_orders) = (
        filtered.kpi_orders.clone().unwrap_or_default(),
        s_b.kpi_orders.clone().unwrap_or_default(),
    );
    ensure!(
        a_orders.contains(',') && b_orders == a_orders.replace(',', "."),
        "numbers should follow each browser's locale: A {a_orders:?}, B (German) {b_orders:?}"
    );
    let b_visits = s_b.visits.unwrap_or(0);
    ensure!(
        b_visits == 1,
        "browser B's first visit should count 1 view, got {b_visits}"
    );
    ensure!(
        s_b.saved_views.is_empty(),
        "browser B sees browser A's saved views: {:?}",
        s_b.saved_views
    );
    ensure!(
        s_b.session_id != a_id,
        "the two browsers share a session id: {:?}",
        a_id
    );
    ensure!(
        s_b.notes.as_deref() == Some(""),
        "browser B sees browser A's notes: {:?}",
        s_b.notes
    );
    ensure!(
        s_b.chart_style.as_deref() == Some("lines"),
        "browser B should keep the default chart style, got {:?}",
        s_b.chart_style
    );
    let s_b = reload(b).await?;
    ensure!(
        s_b.visits == Some(b_visits + 1),
        "B's counter should go {b_visits} → {}, got {:?}",
        b_visits + 1,
        s_b.visits
    );
    screenshot(b, "dashboard-browser-b.png", 1000).await?;
    let s = reload(a).await?;
    ensure!(
        s.visits == Some(a_visits + 2),
        "A's counter should be {} (B's visits must not count), got {:?}",
        a_visits + 2,
        s.visits
    );

    // 5. Clearing the cache from the page forces a miss; then it is a hit again.
    click(a, "#clear-all").await?;
    let s = wait_for(a, "the page after “Clear all caches”", |s| {
        s.flash
            .as_deref()
            .is_some_and(|f| f.contains("Cleared every cache"))
    })
    .await?;
    ensure!(
        s.url == filtered_url,
        "clearing should come back to the same view, got {}",
        s.url
    );
    ensure!(
        s.cache.as_deref() == Some("miss"),
        "after clearing every cache the load should miss: {:?}",
        s.status
    );
    let s = reload(a).await?;
    ensure!(
        s.cache.as_deref() == Some("hit"),
        "the load after the miss should hit: {:?}",
        s.status
    );

    click(a, "#forget-view").await?;
    let s = wait_for(a, "the page after “Forget this view”", |s| {
        s.flash
            .as_deref()
            .is_some_and(|f| f.contains("3 cache entries removed"))
    })
    .await?;
    ensure!(
        s.cache.as_deref() == Some("miss"),
        "after forgetting the view the load should miss: {:?}",
        s.status
    );

    click(a, "tr[data-fn=sales_series] button").await?;
    let s = wait_for(a, "the page after clearing sales_series", |s| {
        s.flash
            .as_deref()
            .is_some_and(|f| f.contains("sales_series"))
    })
    .await?;
    let status = s.status.unwrap_or_default();
    ensure!(
        status.contains("sales_series: miss") && status.contains("region_summary: hit"),
        "clearing one function should make only it miss: {status}"
    );

    // Typing a date: the field is a valid date at each year digit (0002,
    // 0020, 0202, 2024), but only the finished date loads a view.
    let visits = s.visits.unwrap_or(0);
    mark(a).await?;
    let from = a
        .find(Locator::Css("#from"))
        .await
        .map_err(|e| e.to_string())?;
    from.send_keys("03152024")
        .await
        .map_err(|e| format!("cannot type a date: {e}"))?;
    let s = wait_for(a, "from=2024-03-15 in the URL", |s| {
        s.url.contains("from=2024-03-15") && s.cache.as_deref() != Some("running")
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let s = reload_free(a, s).await?;
    ensure!(s.marker, "typing a date should update the page in place");
    ensure!(
        s.visits == Some(visits + 1),
        "typing one date should load one view, the visits went {visits} → {:?}",
        s.visits
    );
    Ok(())
}

/// The page as it is now, after `earlier` (a fresh snapshot, no reload).
async fn reload_free(c: &Client, earlier: PageState) -> Result<PageState, String> {
    let now = snapshot(c).await?;
    ensure!(
        now.url == earlier.url,
        "the URL moved on: {} → {}",
        earlier.url,
        now.url
    );
    Ok(now)
}

/// The text of the element `css`, or an error naming it.
async fn element_text(c: &Client, css: &str) -> Result<String, String> {
    c.find(Locator::Css(css))
        .await
        .map_err(|e| format!("no element `{css}`: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())
}

/// Waits until the browser's URL satisfies `pred` (a click does not wait
/// for the navigation it starts).
async fn wait_for_url(
    c: &Client,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = c.current_url().await.map_err(|e| e.to_string())?;
        if pred(url.as_str()) && exists(c, "body").await {
            return Ok(url.to_string());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}; the URL is {url}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until an element matches `css` (in the page a navigation loads).
async fn wait_for_element(c: &Client, css: &str, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    while !exists(c, css).await {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what} (`{css}`)"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Whether an element matches `css`.
async fn exists(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css)).await.is_ok()
}

/// With JavaScript off, the page still works: the filter form's button
/// applies the filters and quick-range links navigate (each a full page),
/// and a link with bad parameters is a page naming them, with a way back.
async fn without_javascript(base: &str, c: &Client) -> Result<(), String> {
    c.goto(base).await.map_err(|e| e.to_string())?;
    wait_for_element(c, "#load-status", "the page, without JavaScript").await?;
    ensure!(
        c.execute("return 1", vec![]).await.is_err() || !exists(c, "html[data-st-context]").await,
        "the page's scripts should not have run"
    );
    click(c, "input[name=region][value=africa]").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = c.current_url().await.map_err(|e| e.to_string())?;
    ensure!(
        !url.as_str().contains("region=africa"),
        "without JavaScript a change alone does nothing: {url}"
    );
    click(c, "button.apply").await?;
    wait_for_url(c, "“Apply filters” to load the view", |url| {
        url.contains("region=africa")
    })
    .await?;
    wait_for_element(
        c,
        "#summary-table tr[data-region=africa]",
        "the applied view to list Africa",
    )
    .await?;
    click(c, "a.pill:last-child").await?;
    wait_for_url(c, "a quick range that keeps the regions", |url| {
        url.contains("from=2023-01-01") && url.contains("region=africa")
    })
    .await?;

    let bad = format!("{base}?region=africa&region=mars&from=notadate&metric=bogus");
    c.goto(&bad).await.map_err(|e| e.to_string())?;
    let named = element_text(c, "#bad-parameters").await?;
    for parameter in ["region = mars", "from = notadate", "metric = bogus"] {
        ensure!(
            named.contains(parameter),
            "the 400 page should name {parameter}: {named}"
        );
    }
    click(c, "#fixed-view").await?;
    wait_for_url(c, "the view without its bad parameters", |url| {
        !url.contains("mars") && !url.contains("bogus") && url.contains("region=africa")
    })
    .await?;
    wait_for_element(
        c,
        "#summary-table tr[data-region=africa]",
        "the view without the bad parameters",
    )
    .await?;
    Ok(())
}

async fn describe(c: &Client) -> String {
    match snapshot(c).await {
        Ok(s) => format!("URL: {}\n--- page text ---\n{}", s.url, s.text),
        Err(e) => format!("(could not read the page: {e})"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    let missing: Vec<&str> = [
        (!Path::new(CHROMIUM).is_file()).then_some("chromium"),
        find_program("chromedriver")
            .is_none()
            .then_some("chromedriver (package chromium-driver)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        missing.is_empty(),
        "the browser test needs {} — run the README's test command (scripts/test.sh), which installs \
         `chromium` and `chromium-driver` with apt-get",
        missing.join(" and ")
    );
    let chromedriver = find_program("chromedriver").expect("checked above");

    // The app, in-process on a random port, on the shared example database.
    let cache_dir = TempDir::new("cache");
    let config = Config {
        addr: "127.0.0.1:0".to_owned(),
        db_path: workspace_root().join(".cache").join("dashboard.sqlite"),
        // A fresh disk tier, so every new view starts as a miss.
        cache_dir: cache_dir.0.clone(),
        redis_url: None,
        // No operator token: the browser, on this machine, may clear all.
        admin_token: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/", listener.local_addr().expect("address"));
    let server = tokio::spawn(serve(config, listener));
    let deadline = Instant::now() + Duration::from_secs(90); // first start builds the database
    while tokio::net::TcpStream::connect(base.trim_start_matches("http://").trim_end_matches('/'))
        .await
        .is_err()
    {
        assert!(
            !server.is_finished(),
            "the dashboard stopped while starting"
        );
        assert!(
            Instant::now() < deadline,
            "the dashboard did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let driver = Driver::start(&chromedriver);
    let (profile_a, profile_b, profile_c) =
        (TempDir::new("a"), TempDir::new("b"), TempDir::new("c"));
    let a = open_browser(&driver, &profile_a, Flavour::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let german_dark = Flavour {
        languages: Some("de-DE,de"),
        dark: true,
        ..Flavour::default()
    };
    let b = match open_browser(&driver, &profile_b, german_dark).await {
        Ok(b) => b,
        Err(e) => {
            let _ = a.close().await;
            panic!("{e}");
        }
    };
    let no_javascript = Flavour {
        no_javascript: true,
        ..Flavour::default()
    };
    let c = match open_browser(&driver, &profile_c, no_javascript).await {
        Ok(c) => c,
        Err(e) => {
            let _ = a.close().await;
            let _ = b.close().await;
            panic!("{e}");
        }
    };

    let mut result = scenario(&base, &a, &b).await;
    if result.is_ok() {
        result = without_javascript(&base, &c).await;
    }
    if result.is_err() {
        let dir = workspace_root().join("test-output");
        let _ = std::fs::create_dir_all(&dir);
        for (name, c) in [("a", &a), ("b", &b), ("c", &c)] {
            eprintln!("==== browser {name} showed ====\n{}\n", describe(c).await);
            if let Ok(png) = c.screenshot().await {
                let _ = std::fs::write(dir.join(format!("dashboard-failure-{name}.png")), png);
            }
        }
    }
    let _ = a.close().await;
    let _ = b.close().await;
    let _ = c.close().await;
    drop(driver);
    server.abort();
    if let Err(e) = result {
        panic!("{e}");
    }
}
