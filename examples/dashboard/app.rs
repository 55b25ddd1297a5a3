//! The web app: configuration, routes and handlers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use state::context::{script_router, script_tag};
use state::query::QueryRejection;
use state::{
    Context, ContextConfig, MemoryStore, Query, Session, SessionError, SessionLayer, state_keys,
};
use tokio::net::TcpListener;

use super::chart::{self, ChartStyle};
use super::data::{self, DbError};
use super::pages::{
    self, CachePanel, ContextPanel, Frame, Operator, Panels, SavedViewRow, SessionPanel,
};
use super::queries::{self, Metric, ViewArgs};
use super::stream;

/// The default listening address, as Streamlit's.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8501";
/// The default database file, relative to the working directory.
pub const DEFAULT_DB: &str = ".cache/dashboard.sqlite";
/// The default folder of the cache's disk tier, relative to the working directory.
pub const DEFAULT_CACHE_DIR: &str = ".cache/dashboard-cache";
/// The regions shown when the URL names none.
pub const DEFAULT_REGIONS: [&str; 3] = ["north-america", "europe", "east-asia"];
/// The date range shown when the URL names none: the last half year.
pub const DEFAULT_RANGE: (&str, &str) = ("2025-07-01", data::LAST_DAY);

/// How the dashboard runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen (`--addr`, `DASHBOARD_ADDR`).
    pub addr: String,
    /// The SQLite file (`--db`, `DASHBOARD_DB`); created on first start.
    pub db_path: PathBuf,
    /// The cache's disk tier (`--cache-dir`, `DASHBOARD_CACHE_DIR`), used
    /// without Redis.
    pub cache_dir: PathBuf,
    /// Redis URL (`--redis`, `DASHBOARD_REDIS_URL`): sessions and cached
    /// query results are then shared by every instance using it.
    pub redis_url: Option<String>,
    /// The operator's token (`--admin-token`, `DASHBOARD_ADMIN_TOKEN`): a
    /// browser signs in with it to clear caches. Without one, only visitors
    /// on this machine (loopback, no proxy header) may; behind a proxy on
    /// this machine, set one.
    pub admin_token: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR.to_owned(),
            db_path: PathBuf::from(DEFAULT_DB),
            cache_dir: PathBuf::from(DEFAULT_CACHE_DIR),
            redis_url: None,
            admin_token: None,
        }
    }
}

/// The command line, as clap reads it; [`Config::parse`] adds the
/// environment and the defaults.
#[derive(Debug, clap::Parser)]
#[command(
    name = "dashboard",
    about = "The sales dashboard: cached SQLite queries behind an axum app.",
    after_help = "Each flag falls back to its environment variable, then to its default."
)]
struct Flags {
    /// Where to listen [env: DASHBOARD_ADDR] [default: 127.0.0.1:8501]
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// The SQLite file, created on first start [env: DASHBOARD_DB] [default: .cache/dashboard.sqlite]
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// The cache's disk tier [env: DASHBOARD_CACHE_DIR] [default: .cache/dashboard-cache]
    #[arg(long, value_name = "PATH")]
    cache_dir: Option<PathBuf>,
    /// Share sessions and cached results with other instances through Redis [env: DASHBOARD_REDIS_URL] [default: memory and disk]
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// The token a browser signs in with to clear caches; prefer the variable, since other users of this machine can read a flag in `ps` [env: DASHBOARD_ADMIN_TOKEN] [default: none; only visitors on this machine, with no proxy in between, may clear caches]
    #[arg(long, value_name = "TOKEN")]
    admin_token: Option<String>,
}

impl Config {
    /// Reads the command line (`--addr A`, `--db PATH`, `--cache-dir PATH`,
    /// `--redis URL`, `--admin-token TOKEN`, also as `--flag=value`), falling
    /// back to the environment through `env` (`DASHBOARD_ADDR`,
    /// `DASHBOARD_DB`, `DASHBOARD_CACHE_DIR`, `DASHBOARD_REDIS_URL`,
    /// `DASHBOARD_ADMIN_TOKEN`), then to the defaults.
    ///
    /// # Errors
    ///
    /// clap's error for an unknown flag or a flag without its value, and for
    /// `--help` (whose [`clap::Error::exit`] prints the help on stdout and
    /// exits with 0).
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, clap::Error> {
        use clap::Parser as _;
        let flags = Flags::try_parse_from(std::iter::once("dashboard".to_owned()).chain(args))?;
        let non_empty = |key: &str| env(key).filter(|v| !v.is_empty());
        let defaults = Self::default();
        Ok(Self {
            addr: flags
                .addr
                .or_else(|| non_empty("DASHBOARD_ADDR"))
                .unwrap_or(defaults.addr),
            db_path: flags
                .db
                .or_else(|| non_empty("DASHBOARD_DB").map(PathBuf::from))
                .unwrap_or(defaults.db_path),
            cache_dir: flags
                .cache_dir
                .or_else(|| non_empty("DASHBOARD_CACHE_DIR").map(PathBuf::from))
                .unwrap_or(defaults.cache_dir),
            redis_url: flags.redis.or_else(|| non_empty("DASHBOARD_REDIS_URL")),
            admin_token: flags
                .admin_token
                .or_else(|| non_empty("DASHBOARD_ADMIN_TOKEN")),
        })
    }
}

state_keys! {
    /// Dashboard views in this browser session.
    pub VISITS: u64 = 0;
    /// The remembered chart style.
    pub CHART_STYLE: ChartStyle;
    /// The private notes field.
    pub NOTES: String;
    /// A one-time message shown after a form post (post/redirect/get).
    pub FLASH: Option<String>;
    /// The token every form of this session posts back (see [`check_csrf`]).
    pub CSRF: String;
    /// "My saved views": named views of this browser, oldest first.
    pub SAVED_VIEWS: Vec<SavedView>;
    /// Signed in as the operator with the admin token (see [`Operator`]).
    pub OPERATOR: bool;
}

/// A view saved in the session, shown in "My saved views".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    /// The name given when saving (or a description of the view).
    pub name: String,
    /// The view's normalized query string, e.g. `region=europe&from=…`.
    pub query: String,
}

/// How many views a browser may save.
pub const MAX_SAVED_VIEWS: usize = 12;

/// Longest saved view name kept, in characters.
const MAX_VIEW_NAME: usize = 60;

/// The typed query parameters: every filter lives in the URL, so a view is a
/// shareable link (`/?region=europe&region=oceania&from=2024-01-01&to=2024-06-30&metric=profit`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    /// Region slugs (repeated key); none means the default regions.
    pub region: Vec<String>,
    /// First day, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`.
    pub to: Option<String>,
    /// The chart's metric (a [`Metric`] slug).
    pub metric: Option<String>,
}

/// A query parameter whose value the dashboard cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParameter {
    /// The parameter's name.
    pub name: &'static str,
    /// The value given.
    pub value: String,
    /// What it must be instead.
    pub expected: String,
}

impl Filters {
    /// Validates and normalizes the filters into query-function arguments:
    /// every region must be known and every date a real `YYYY-MM-DD` day
    /// (else each bad parameter is returned); no region means the default
    /// ones, dates are clamped to the data set and put in order.
    ///
    /// # Errors
    ///
    /// Every parameter whose value is not usable: regions, then `from`, `to`
    /// and `metric`.
    pub fn to_args(&self) -> Result<ViewArgs, Vec<BadParameter>> {
        let mut bad = Vec::new();
        for given in &self.region {
            if !data::REGIONS.iter().any(|r| r.slug == given) {
                let known: Vec<&str> = data::REGIONS.iter().map(|r| r.slug).collect();
                bad.push(BadParameter {
                    name: "region",
                    value: given.clone(),
                    expected: format!("one of {}", known.join(", ")),
                });
            }
        }
        let mut regions: Vec<String> = data::REGIONS
            .iter()
            .filter(|r| self.region.iter().any(|s| s == r.slug))
            .map(|r| r.slug.to_owned())
            .collect();
        if regions.is_empty() {
            regions = DEFAULT_REGIONS.iter().map(|s| (*s).to_owned()).collect();
        }
        let first = data::parse_day(data::FIRST_DAY).unwrap_or(0);
        let last = data::parse_day(data::LAST_DAY).unwrap_or(0);
        let mut day = |name: &'static str, text: &Option<String>, default: &str| {
            let given = text.as_deref().unwrap_or(default);
            let parsed = data::parse_day(given);
            if parsed.is_none() {
                bad.push(BadParameter {
                    name,
                    value: given.to_owned(),
                    expected: format!(
                        "a date written YYYY-MM-DD (the data runs from {} to {})",
                        data::FIRST_DAY,
                        data::LAST_DAY
                    ),
                });
            }
            parsed.unwrap_or(first).clamp(first, last)
        };
        let (mut start, mut end) = (
            day("from", &self.from, DEFAULT_RANGE.0),
            day("to", &self.to, DEFAULT_RANGE.1),
        );
        if start > end {
            std::mem::swap(&mut start, &mut end);
        }
        let metric = match self.metric.as_deref() {
            None => Metric::default(),
            Some(given) => Metric::ALL
                .into_iter()
                .find(|m| m.slug() == given)
                .unwrap_or_else(|| {
                    let known: Vec<&str> = Metric::ALL.iter().map(|m| m.slug()).collect();
                    bad.push(BadParameter {
                        name: "metric",
                        value: given.to_owned(),
                        expected: format!("one of {}", known.join(", ")),
                    });
                    Metric::default()
                }),
        };
        if !bad.is_empty() {
            return Err(bad);
        }
        Ok(ViewArgs {
            regions,
            start: data::format_day(start),
            end: data::format_day(end),
            metric,
        })
    }

    /// The filters that give exactly `args` (each parameter spelt out).
    pub fn of(args: &ViewArgs) -> Filters {
        Filters {
            region: args.regions.clone(),
            from: Some(args.start.clone()),
            to: Some(args.end.clone()),
            metric: Some(args.metric.slug().to_owned()),
        }
    }

    /// These filters without the parameters named in `bad`: a view that works.
    pub fn without(&self, bad: &[BadParameter]) -> Filters {
        let is_bad =
            |name: &str, value: &str| bad.iter().any(|b| b.name == name && b.value == value);
        let keep = |name: &str, value: &Option<String>| value.clone().filter(|v| !is_bad(name, v));
        Filters {
            region: self
                .region
                .iter()
                .filter(|r| !is_bad("region", r))
                .cloned()
                .collect(),
            from: keep("from", &self.from),
            to: keep("to", &self.to),
            metric: keep("metric", &self.metric),
        }
    }
}

/// Shared by every handler.
#[derive(Debug, Clone)]
struct AppState {
    /// The operator's token, if one is set (see [`Config::admin_token`]).
    admin_token: Option<Arc<str>>,
    db: Arc<str>,
    backend: Arc<str>,
    script_tag: Arc<str>,
}

/// An error page.
#[derive(Debug)]
enum AppError {
    Session(SessionError),
    Db(DbError),
    Internal(String),
    /// A form post without this session's CSRF token.
    Forbidden,
    /// "Clear all caches" from someone who is not the operator.
    NotOperator,
    /// A query the dashboard cannot read at all (bad percent-encoding, say).
    BadQuery(String),
    /// Query parameters with unusable values, and a view without them.
    BadParameters(Vec<BadParameter>, String),
}

impl From<SessionError> for AppError {
    fn from(e: SessionError) -> Self {
        Self::Session(e)
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        Self::Db(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::Session(e) => (e.status(), e.to_string()),
            AppError::Db(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            AppError::Internal(e) => (StatusCode::INTERNAL_SERVER_ERROR, e),
            AppError::BadQuery(e) => (StatusCode::BAD_REQUEST, e),
            AppError::NotOperator => (
                StatusCode::FORBIDDEN,
                "Only the operator may clear caches: from the machine the dashboard runs \
                 on, or signed in with its admin token. Nothing was changed."
                    .to_owned(),
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "This form was not sent by this browser's dashboard page (its security \
                 token is missing or stale), so nothing was changed. Reload the page and \
                 try again."
                    .to_owned(),
            ),
            AppError::BadParameters(bad, fixed) => {
                let status = StatusCode::BAD_REQUEST;
                return (status, Html(pages::bad_parameters_page(&bad, &fixed))).into_response();
            }
        };
        tracing::warn!(%status, %message, "request failed");
        (status, Html(pages::error_page(status, &message))).into_response()
    }
}

/// A Redis URL without its password, for display.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://…@{host}"),
        _ => url.to_owned(),
    }
}

/// Builds the app's router (sessions, context script and routes) for `config`,
/// connecting to Redis if configured. [`prepare`] calls it after setting up
/// the database and the cache's tiers.
async fn router(config: &Config) -> Result<Router, String> {
    // No reload on a first visit: the page's script fills in the context
    // panel instead, so a first visit is one view (and says so).
    let context = ContextConfig::default().reload_on_change(false);
    let (sessions, backend) = match &config.redis_url {
        Some(url) => {
            let store = state::RedisStore::open(url)
                .await
                .map_err(|e| format!("cannot connect to Redis at {}: {e}", redact(url)))?;
            (
                SessionLayer::new(store),
                format!("sessions and cache shared through Redis ({})", redact(url)),
            )
        }
        None => (
            SessionLayer::new(MemoryStore::new()),
            "sessions in memory · cache in memory and on disk".to_owned(),
        ),
    };
    let app = AppState {
        admin_token: config.admin_token.as_deref().map(Arc::from),
        db: config.db_path.to_string_lossy().into(),
        backend: backend.into(),
        script_tag: script_tag(&context).into(),
    };
    Ok(Router::new()
        .route("/", get(dashboard))
        .route("/prefs", post(save_prefs))
        .route("/notes", post(save_notes))
        .route("/cache/clear", post(clear_function))
        .route("/cache/invalidate", post(invalidate_view))
        .route("/cache/clear-all", post(clear_all))
        .route("/operator/sign-in", post(sign_in))
        .route("/views/save", post(save_view))
        .route("/views/delete", post(delete_view))
        .route("/panels/context", get(context_panel))
        .route("/panels/chart", get(chart_panel))
        .route("/_cache/running", get(state::progress::handler))
        .route("/metrics", get(state::metrics::handler))
        .route("/healthz", get(|| async { "ok" }))
        .merge(script_router())
        .fallback(not_found)
        .with_state(app)
        .layer(sessions.with_secure(false))
        .layer(axum::Extension(context)))
}

/// Creates the database if needed (a second or two on first start), takes
/// the live tile's first count and builds the router: everything [`serve`]
/// does before it accepts connections.
///
/// # Errors
///
/// When the database cannot be built or Redis cannot be reached.
pub async fn prepare(config: &Config) -> std::io::Result<Router> {
    configure_cache(config);
    let db = config.db_path.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let rows = data::ensure_database(&db)?;
        // The live tile never makes a page wait: its first count is taken
        // now, and later ones in the background (`refresh_mode`).
        queries::orders_today::warm(&db.to_string_lossy())?;
        Ok::<_, DbError>(rows)
    })
    .await
    .map_err(std::io::Error::other)?
    .map_err(std::io::Error::other)?;
    tracing::info!(rows, db = %config.db_path.display(), "database ready");
    router(config).await.map_err(std::io::Error::other)
}

/// Points the cache's persistent tiers at `config`'s folder and Redis. The
/// settings are process-wide and fixed at the first persistent call; a second
/// configuration (a second app in one process) keeps the first.
fn configure_cache(config: &Config) {
    let mut settings = cache_runtime::persist::Settings::from_env().dir(&config.cache_dir);
    if let Some(url) = &config.redis_url {
        settings = settings.redis_url(url);
    }
    if cache_runtime::persist::configure(settings).is_err() {
        tracing::warn!(
            "the cache's persistent tiers were already configured; keeping that configuration"
        );
    }
}

/// Serves a router from [`prepare`] on `listener` until the process ends,
/// with the peer address available to the request context.
///
/// # Errors
///
/// When serving fails.
pub async fn serve_router(app: Router, listener: TcpListener) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// [`prepare`], then [`serve_router`]: the whole app on `listener`. Tests call
/// it on a `127.0.0.1:0` listener.
///
/// # Errors
///
/// As [`prepare`] and [`serve_router`].
pub async fn serve(config: Config, listener: TcpListener) -> std::io::Result<()> {
    let app = prepare(&config).await?;
    serve_router(app, listener).await
}

/// `GET /`: the dashboard.
async fn dashboard(
    State(app): State<AppState>,
    session: Session,
    ctx: Context,
    query: Result<Query<Filters>, QueryRejection>,
) -> Result<Response, AppError> {
    let args = view_args(query)?;

    // Per-browser state, read and written before the page starts.
    let visits = session.update(&VISITS, |v| *v += 1).await?;
    let style = session.get(&CHART_STYLE).await;
    let notes = session.get(&NOTES).await;
    let flash = session.remove(&FLASH).await?.flatten();
    let csrf = csrf_token(&session).await?;
    let session_id = session.id().await?.map(|id| id.to_string());
    let saved = session.get(&SAVED_VIEWS).await;
    let operator = app.operator(&ctx, session.get(&OPERATOR).await);
    let scope = cache_runtime::session::SessionScope::current();
    // The header's row count comes first (a cache hit but on a cold start);
    // traced like the data, for the cache panel.
    let (total_rows, mut calls) = {
        let db = app.db.clone();
        in_session_blocking(move || cache_runtime::trace(|| queries::row_count(&db))).await?
    };
    let total_rows = total_rows?;

    let frame = Frame {
        args,
        uri: ctx.uri().clone(),
        style,
        backend: app.backend.clone(),
        total_rows,
        flash,
        script_tag: app.script_tag.clone(),
        csrf,
        operator,
        context: ContextPanel::from(&ctx),
    };
    let start = pages::dashboard_start(&frame);

    // The data, through the cache: blocking SQLite work off the async
    // threads, in this request's session scope (`saved_view_totals` is
    // session-scoped, and the progress route finds this session's misses),
    // traced so that the banner and the cache panel say what each call got.
    let db = app.db.clone();
    let parsed: Vec<Option<ViewArgs>> = saved
        .iter()
        .map(|view| saved_view_args(&view.query))
        .collect();
    let saved_args: Vec<ViewArgs> = parsed.iter().flatten().cloned().collect();
    let body = stream::page(start, scope, move || {
        let (loaded, data_calls) = cache_runtime::trace(|| -> Result<_, DbError> {
            let view = queries::load_view(&db, &frame.args)?;
            let live = queries::load_live_tile(&db)?;
            let totals = if saved_args.is_empty() {
                Vec::new()
            } else {
                queries::saved_view_totals(&db, &saved_args)?
            };
            Ok((view, live, totals))
        });
        let (view, live, totals) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::warn!(error = %e, "loading a view failed");
                return pages::dashboard_failed(&e.to_string());
            }
        };
        calls.extend(data_calls);
        let svg = draw_chart(&view.series, &frame.args, frame.style, &frame.context);
        let panels = Panels {
            view: &view,
            chart_svg: &svg,
            session: SessionPanel {
                visits,
                notes: &notes,
                id: session_id.as_deref(),
            },
            cache: CachePanel {
                functions: cache_runtime::functions(),
                calls,
            },
            live: &live,
            saved: saved_panel(&saved, &parsed, &totals),
        };
        pages::dashboard_end(&frame, &panels)
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Each chunk as it comes: no proxy buffering (nginx honours this).
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        body,
    )
        .into_response())
}

/// The view a request's query names, or the 400 page naming each bad
/// parameter (with a link to the view without them).
fn view_args(query: Result<Query<Filters>, QueryRejection>) -> Result<ViewArgs, AppError> {
    let Query(filters) = query.map_err(|e| AppError::BadQuery(e.to_string()))?;
    filters.to_args().map_err(|bad| {
        let fixed = state::query::to_string(&filters.without(&bad)).unwrap_or_default();
        let fixed = if fixed.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{fixed}")
        };
        AppError::BadParameters(bad, fixed)
    })
}

/// `GET /panels/chart?<filters>`: the chart alone, drawn for this request's
/// theme, locale and chart style. The page's script swaps it in when a first
/// visit learns that the browser prefers a dark theme (the first page was
/// drawn light), without a second view of the dashboard.
async fn chart_panel(
    State(app): State<AppState>,
    session: Session,
    ctx: Context,
    query: Result<Query<Filters>, QueryRejection>,
) -> Result<Html<String>, AppError> {
    let args = view_args(query)?;
    let style = session.get(&CHART_STYLE).await;
    let (db, view) = (app.db.clone(), args.clone());
    let series = in_session_blocking(move || {
        queries::sales_series(&db, &view.regions, &view.start, &view.end, view.metric)
    })
    .await??;
    Ok(Html(draw_chart(
        &series,
        &args,
        style,
        &ContextPanel::from(&ctx),
    )))
}

/// The chart of `series` for the view `args`, in the visitor's theme and
/// number format.
fn draw_chart(
    series: &queries::Series,
    args: &ViewArgs,
    style: ChartStyle,
    context: &ContextPanel,
) -> String {
    let span = (
        data::parse_day(&args.start).unwrap_or(0),
        data::parse_day(&args.end).unwrap_or(0),
    );
    chart::render(
        series,
        args.metric,
        style,
        span,
        context.dark,
        context.numbers,
    )
}

/// Runs blocking work on tokio's blocking pool, in the calling request's
/// session scope (`cache_runtime::session`), which a spawned thread would
/// otherwise lose.
async fn in_session_blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, AppError> {
    let scope = cache_runtime::session::SessionScope::current();
    tokio::task::spawn_blocking(move || match scope {
        Some(scope) => scope.run(work),
        None => work(),
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// The arguments of a saved view's query string, if it is still valid.
fn saved_view_args(query: &str) -> Option<ViewArgs> {
    state::query::from_str::<Filters>(query)
        .ok()?
        .to_args()
        .ok()
}

/// "My saved views": each saved view with its totals, where known
/// (`parsed` holds each view's arguments if it is still valid, `totals`
/// those of the valid views, in order).
fn saved_panel(
    saved: &[SavedView],
    parsed: &[Option<ViewArgs>],
    totals: &[queries::Totals],
) -> Vec<SavedViewRow> {
    let mut totals = totals.iter();
    saved
        .iter()
        .zip(parsed)
        .map(|(view, args)| SavedViewRow {
            name: view.name.clone(),
            query: view.query.clone(),
            totals: args.as_ref().and_then(|_| totals.next().copied()),
        })
        .collect()
}

/// `GET /panels/context`: the request-context panel alone, for the page's
/// script to fill in the browser's fields (timezone, theme) on a first visit
/// without reloading the page.
///
/// The page's script passes the page's query string along, so `embed` reads
/// as on the page; the URL shown is the dashboard's, not this route's.
async fn context_panel(ctx: Context) -> Html<String> {
    Html(pages::context_panel(
        &ContextPanel::from(&ctx).for_path(ctx.uri().path(), "/"),
    ))
}

#[derive(Debug, Deserialize)]
struct SaveViewForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /views/save`: adds the view in `back` to "My saved views" (or
/// renames it, if it is saved already).
async fn save_view(session: Session, Form(form): Form<SaveViewForm>) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let query = form.back.split_once('?').map_or("", |(_, q)| q);
    let Some(args) = saved_view_args(query) else {
        session
            .set(
                &FLASH,
                Some("This view has bad parameters: nothing saved.".to_owned()),
            )
            .await?;
        return Ok(back_to(&form.back));
    };
    let query = state::query::to_string(&Filters::of(&args))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let name: String = form.name.trim().chars().take(MAX_VIEW_NAME).collect();
    let name = if name.is_empty() {
        pages::describe_view(&args)
    } else {
        name
    };
    let mut outcome = String::new();
    session
        .update(&SAVED_VIEWS, |views| {
            outcome = if let Some(view) = views.iter_mut().find(|v| v.query == query) {
                view.name.clone_from(&name);
                format!("Renamed this saved view “{name}”.")
            } else if views.len() >= MAX_SAVED_VIEWS {
                format!("You can keep {MAX_SAVED_VIEWS} saved views: delete one first.")
            } else {
                views.push(SavedView {
                    name: name.clone(),
                    query: query.clone(),
                });
                format!("Saved this view as “{name}”.")
            };
        })
        .await?;
    session.set(&FLASH, Some(outcome)).await?;
    Ok(back_to(&form.back))
}

#[derive(Debug, Deserialize)]
struct DeleteViewForm {
    #[serde(default)]
    query: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /views/delete`: removes one view from "My saved views".
async fn delete_view(
    session: Session,
    Form(form): Form<DeleteViewForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let mut removed = None;
    session
        .update(&SAVED_VIEWS, |views| {
            if let Some(at) = views.iter().position(|v| v.query == form.query) {
                removed = Some(views.remove(at).name);
            }
        })
        .await?;
    let message = match removed {
        Some(name) => format!("Deleted the saved view “{name}”."),
        None => "That view was not saved.".to_owned(),
    };
    session.set(&FLASH, Some(message)).await?;
    Ok(back_to(&form.back))
}

/// Any other path: an HTML 404 page.
async fn not_found(uri: axum::http::Uri) -> (StatusCode, Html<String>) {
    let status = StatusCode::NOT_FOUND;
    let message = format!("There is no page at {}.", uri.path());
    (status, Html(pages::error_page(status, &message)))
}

/// This session's CSRF token, made on its first page (32 random bytes, hex).
async fn csrf_token(session: &Session) -> Result<String, AppError> {
    let fresh = || -> Result<String, AppError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    };
    let token = session.get(&CSRF).await;
    if !token.is_empty() {
        return Ok(token);
    }
    let made = fresh()?;
    // Atomic: concurrent first pages of one session agree on one token.
    Ok(session
        .update(&CSRF, |token| {
            if token.is_empty() {
                token.clone_from(&made);
            }
        })
        .await?)
}

/// Refuses a form post whose `csrf` field is not this session's token: a
/// page of another site can make a browser post here with its cookie, but
/// cannot read the token.
async fn check_csrf(session: &Session, sent: &str) -> Result<(), AppError> {
    let token = session.get(&CSRF).await;
    if token.is_empty() || !same_secret(&token, sent) {
        tracing::warn!("refused a form post without this session's CSRF token");
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// Whether `sent` is `secret`, compared in constant time (for their length).
fn same_secret(secret: &str, sent: &str) -> bool {
    secret.len() == sent.len()
        && secret
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// The `back` field of every form: where to return after the post.
fn back_to(back: &str) -> Redirect {
    // Only a local path: never `//host` or a full URL (open redirect), nor
    // whitespace or control characters, which browsers drop (`/\t/host`).
    let safe = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && !back.chars().any(|c| c.is_whitespace() || c.is_control());
    Redirect::to(if safe { back } else { "/" })
}

#[derive(Debug, Deserialize)]
struct PrefsForm {
    style: ChartStyle,
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /prefs`: remembers the chart style for this browser.
async fn save_prefs(session: Session, Form(form): Form<PrefsForm>) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    session.set(&CHART_STYLE, form.style).await?;
    session
        .set(
            &FLASH,
            Some(format!(
                "Chart style “{}” remembered for this browser.",
                form.style.label()
            )),
        )
        .await?;
    Ok(back_to(&form.back))
}

#[derive(Debug, Deserialize)]
struct NotesForm {
    #[serde(default)]
    notes: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf: String,
}

/// Longest notes kept, in characters.
const MAX_NOTES: usize = 4000;

/// `POST /notes`: saves the private notes of this browser.
async fn save_notes(session: Session, Form(form): Form<NotesForm>) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let notes: String = form.notes.chars().take(MAX_NOTES).collect();
    session.set(&NOTES, notes).await?;
    session.set(&FLASH, Some("Notes saved.".to_owned())).await?;
    Ok(back_to(&form.back))
}

#[derive(Debug, Deserialize)]
struct ClearQuery {
    #[serde(rename = "fn")]
    function: String,
}

#[derive(Debug, Deserialize)]
struct BackForm {
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /cache/clear?fn=NAME`: clears one cached function.
async fn clear_function(
    State(app): State<AppState>,
    session: Session,
    ctx: Context,
    Query(query): Query<ClearQuery>,
    Form(form): Form<BackForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    check_operator(&app, &session, &ctx).await?;
    let found = cache_runtime::clear_function(&query.function);
    let short = query.function.rsplit("::").next().unwrap_or_default();
    let message = if found {
        format!("Cleared every entry of {short}.")
    } else {
        format!("No cached function named {short}.")
    };
    session.set(&FLASH, Some(message)).await?;
    Ok(back_to(&form.back))
}

/// `POST /cache/invalidate`: forgets the entries of the view in `back`
/// (`f::invalidate(args..)` with that view's filters).
async fn invalidate_view(
    State(app): State<AppState>,
    session: Session,
    Form(form): Form<BackForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let query = form.back.split_once('?').map_or("", |(_, q)| q);
    let filters: Filters = state::query::from_str(query).unwrap_or_default();
    // A view with bad parameters has nothing cached to forget.
    let removed = filters
        .to_args()
        .map_or(0, |args| queries::invalidate_view(&app.db, &args));
    session
        .set(
            &FLASH,
            Some(format!(
                "Forgot this view: {removed} cache entries removed (and their persistent records)."
            )),
        )
        .await?;
    Ok(back_to(&form.back))
}

/// The operator's sign-in form.
#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf: String,
    /// The admin token (see [`Config::admin_token`]).
    #[serde(default)]
    admin_token: String,
}

/// `POST /operator/sign-in`: with the right admin token, this browser
/// session may clear caches until it ends.
async fn sign_in(
    State(app): State<AppState>,
    session: Session,
    Form(form): Form<SignInForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let right = app
        .admin_token
        .as_deref()
        .is_some_and(|token| same_secret(token, &form.admin_token));
    if !right {
        tracing::warn!("refused an operator sign-in: wrong or no admin token");
        return Err(AppError::NotOperator);
    }
    session.set(&OPERATOR, true).await?;
    session
        .set(
            &FLASH,
            Some(
                "Signed in as the operator for this browser session: the cache's Clear buttons are yours."
                    .to_owned(),
            ),
        )
        .await?;
    Ok(back_to(&form.back))
}

/// Refuses a cache clear from anyone but the operator.
async fn check_operator(app: &AppState, session: &Session, ctx: &Context) -> Result<(), AppError> {
    if app.operator(ctx, session.get(&OPERATOR).await).may_clear() {
        Ok(())
    } else {
        tracing::warn!("refused a cache clear from a visitor who is not the operator");
        Err(AppError::NotOperator)
    }
}

/// `POST /cache/clear-all`: clears every cache (data and resources), for the
/// operator only, and resets this browser's session state (as the page says
/// before the click).
async fn clear_all(
    State(app): State<AppState>,
    session: Session,
    ctx: Context,
    Form(form): Form<BackForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    check_operator(&app, &session, &ctx).await?;
    let signed_in = session.get(&OPERATOR).await;
    cache_runtime::clear_all();
    session.clear().await?;
    if signed_in {
        // The reset is of the visitor's state; the sign-in stays.
        session.set(&OPERATOR, true).await?;
    }
    session
        .set(
            &FLASH,
            Some(
                "Cleared every cache: memory, persistent records and the connection pool. \
                 This browser's session state (visits, chart style, notes) was reset."
                    .to_owned(),
            ),
        )
        .await?;
    Ok(back_to(&form.back))
}

impl AppState {
    /// Whether this request's visitor is the operator: with an admin token
    /// set, a session `signed_in` with it; else a visitor on this machine
    /// (`Context::is_from_this_machine`: loopback, and no proxy header, or
    /// every visitor of a local reverse proxy would qualify; a proxy that
    /// adds none needs `--admin-token`).
    fn operator(&self, ctx: &Context, signed_in: bool) -> Operator {
        if self.admin_token.is_some() {
            if signed_in {
                Operator::SignedIn
            } else {
                Operator::MaySignIn
            }
        } else if ctx.is_from_this_machine() {
            Operator::Loopback
        } else {
            Operator::No
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Config, clap::Error> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::parse(args.iter().map(|a| (*a).to_owned()), |key| {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn config_from_flags_env_and_defaults() {
        assert_eq!(parse(&[], &[]).unwrap(), Config::default());
        let c = parse(
            &["--addr", "0.0.0.0:9000", "--redis=redis://r/"],
            &[
                ("DASHBOARD_ADDR", "127.0.0.1:1"),
                ("DASHBOARD_DB", "/tmp/x.sqlite"),
            ],
        )
        .unwrap();
        assert_eq!(c.addr, "0.0.0.0:9000");
        assert_eq!(c.db_path, PathBuf::from("/tmp/x.sqlite"));
        assert_eq!(c.redis_url.as_deref(), Some("redis://r/"));
        let c = parse(&[], &[("DASHBOARD_REDIS_URL", "redis://env/")]).unwrap();
        assert_eq!(c.redis_url.as_deref(), Some("redis://env/"));
        assert_eq!(Config::default().admin_token, None);
        let c = parse(
            &["--admin-token", "flag"],
            &[("DASHBOARD_ADMIN_TOKEN", "env")],
        )
        .unwrap();
        assert_eq!(c.admin_token.as_deref(), Some("flag"));
        let c = parse(&[], &[("DASHBOARD_ADMIN_TOKEN", "env")]).unwrap();
        assert_eq!(c.admin_token.as_deref(), Some("env"));
        let c = parse(
            &["--db=/tmp/flag.sqlite"],
            &[("DASHBOARD_DB", "/tmp/env.sqlite")],
        )
        .unwrap();
        assert_eq!(c.db_path, PathBuf::from("/tmp/flag.sqlite"));
        let missing = parse(&["--addr"], &[]).unwrap_err();
        assert!(missing.to_string().contains("--addr"), "{missing}");
        assert!(missing.use_stderr() && missing.exit_code() == 2);
        let unknown = parse(&["--nope"], &[]).unwrap_err();
        assert_eq!(unknown.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(unknown.use_stderr() && unknown.exit_code() == 2);
    }

    /// `--help`: the usage on stdout, every flag with its variable, exit 0.
    #[test]
    fn help_goes_to_stdout_and_exits_zero() {
        for flag in ["--help", "-h"] {
            let help = parse(&[flag], &[]).unwrap_err();
            assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
            assert!(!help.use_stderr(), "help goes to stdout");
            assert_eq!(help.exit_code(), 0);
            let text = help.render().to_string();
            for named in [
                "--addr",
                "DASHBOARD_ADDR",
                "--db",
                "--cache-dir",
                "--redis",
                "DASHBOARD_REDIS_URL",
                "--admin-token",
                "DASHBOARD_ADMIN_TOKEN",
            ] {
                assert!(text.contains(named), "{named} in {text}");
            }
        }
    }

    #[test]
    fn filters_are_validated_and_normalized() {
        let f: Filters =
            state::query::from_str("region=oceania&region=europe&from=2030-01-01&metric=profit")
                .unwrap();
        let args = f.to_args().unwrap();
        assert_eq!(args.regions, ["europe", "oceania"]); // display order
        assert_eq!(
            (args.start.as_str(), args.end.as_str()),
            (data::LAST_DAY, data::LAST_DAY)
        ); // a real day past the data is clamped to it
        assert_eq!(args.metric, Metric::Profit);

        let args = Filters::default().to_args().unwrap();
        assert_eq!(args.regions, DEFAULT_REGIONS);
        assert_eq!((args.start.as_str(), args.end.as_str()), DEFAULT_RANGE);
        assert_eq!(args.metric, Metric::Revenue);

        let f: Filters = state::query::from_str("from=2024-06-30&to=2024-01-01").unwrap();
        let args = f.to_args().unwrap();
        assert_eq!(
            (args.start.as_str(), args.end.as_str()),
            ("2024-01-01", "2024-06-30")
        );
    }

    #[test]
    fn every_unusable_parameter_is_named_and_can_be_dropped() {
        let f: Filters = state::query::from_str(
            "region=europe&region=mars&from=notadate&to=2024-02-30&metric=bogus",
        )
        .unwrap();
        let bad = f.to_args().unwrap_err();
        let named: Vec<(&str, &str)> = bad.iter().map(|b| (b.name, b.value.as_str())).collect();
        assert_eq!(
            named,
            [
                ("region", "mars"),
                ("from", "notadate"),
                ("to", "2024-02-30"),
                ("metric", "bogus")
            ]
        );
        assert!(bad[0].expected.contains("europe"), "{}", bad[0].expected);
        assert!(bad[3].expected.contains("revenue"), "{}", bad[3].expected);
        let fixed = f.without(&bad);
        assert_eq!(fixed.region, ["europe"]);
        assert_eq!(
            (&fixed.from, &fixed.to, &fixed.metric),
            (&None, &None, &None)
        );
        assert!(fixed.to_args().is_ok());
    }

    #[test]
    fn redis_passwords_are_not_shown() {
        assert_eq!(redact("redis://:secret@db:6379/0"), "redis://…@db:6379/0");
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
    }

    #[test]
    fn redirects_stay_on_this_site() {
        let location = |back: &str| {
            back_to(back).into_response().headers()[http::header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(location("/?region=europe"), "/?region=europe");
        assert_eq!(location("//evil.example/"), "/");
        assert_eq!(location("https://evil.example/"), "/");
        assert_eq!(location("/\t/evil.example/"), "/");
        assert_eq!(location("/\n/evil.example/"), "/");
        assert_eq!(location(""), "/");
    }
}
