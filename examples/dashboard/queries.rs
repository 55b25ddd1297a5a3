//! The cached layer: one shared connection pool per database file
//! (`#[cache_resource]`) and the queries behind each view (`#[cache_data]`),
//! keyed by the page's filters.

use std::path::Path;
use std::time::{Duration, Instant};

use cache_runtime::{CallRecord, Outcome as TracedOutcome, cache_data, cache_resource};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::data::{self, DbError};

/// How many read-only connections the pool keeps open at most.
const POOL_SIZE: u32 = 4;

/// How long a query waits for a free connection before it fails.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// r2d2's maker of read-only connections to one SQLite file.
#[derive(Debug)]
pub struct ReadOnlyFile {
    path: String,
}

impl r2d2::ManageConnection for ReadOnlyFile {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }

    /// Run by the pool before it hands out an idle connection.
    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.query_row("SELECT 1", [], |_| Ok(()))
    }

    fn has_broken(&self, _conn: &mut Connection) -> bool {
        false
    }
}

/// A pool of read-only SQLite connections to one file (r2d2).
#[derive(Debug)]
pub struct Pool {
    path: String,
    connections: r2d2::Pool<ReadOnlyFile>,
}

impl Pool {
    /// Runs `f` on a free connection, waiting for one if all are busy.
    ///
    /// # Errors
    ///
    /// `f`'s error, or no connection free within ten seconds.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, rusqlite::Error>,
    ) -> Result<R, DbError> {
        let conn = self
            .connections
            .get()
            .map_err(|e| DbError(format!("no free database connection: {e}")))?;
        Ok(f(&conn)?)
    }

    /// The database file.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// `validate` hook, run on every hit: a pool is reused only while its file
/// still exists (delete it and the next call rebuilds the data set). A dead
/// connection is the pool's to replace: it tests each one before handing it
/// out.
fn pool_is_healthy(pool: &Pool) -> bool {
    Path::new(&pool.path).exists()
}

/// `on_release` hook: runs when the pool is cleared or fails `validate`.
fn close_pool(pool: &Pool) {
    tracing::info!(path = %pool.path, "closing the connection pool");
}

/// The shared connection pool for the database at `path`: opened once, then
/// the same `Arc<Pool>` for every caller until it fails validation or is
/// cleared from the cache panel.
#[cache_resource(validate = pool_is_healthy, on_release = close_pool)]
pub fn database(path: &str) -> Result<Pool, DbError> {
    data::ensure_database(Path::new(path))?;
    let connections = r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .connection_timeout(CHECKOUT_TIMEOUT)
        .build(ReadOnlyFile {
            path: path.to_owned(),
        })
        .map_err(|e| DbError(format!("cannot open {path}: {e}")))?;
    tracing::info!(path, connections = POOL_SIZE, "opened the connection pool");
    Ok(Pool {
        path: path.to_owned(),
        connections,
    })
}

/// What the chart and the first KPI measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Sum of order revenue.
    #[default]
    Revenue,
    /// Sum of profit.
    Profit,
    /// Number of orders.
    Orders,
    /// Units sold.
    Units,
}

impl Metric {
    /// Every metric, in menu order.
    pub const ALL: [Metric; 4] = [
        Metric::Revenue,
        Metric::Profit,
        Metric::Orders,
        Metric::Units,
    ];

    /// The query parameter value.
    pub fn slug(self) -> &'static str {
        match self {
            Metric::Revenue => "revenue",
            Metric::Profit => "profit",
            Metric::Orders => "orders",
            Metric::Units => "units",
        }
    }

    /// The display name.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Revenue => "Revenue",
            Metric::Profit => "Profit",
            Metric::Orders => "Orders",
            Metric::Units => "Units sold",
        }
    }

    /// Whether values are amounts of money.
    pub fn is_money(self) -> bool {
        matches!(self, Metric::Revenue | Metric::Profit)
    }

    /// The SQL aggregate. Only these fixed strings ever reach the SQL text.
    fn sql(self) -> &'static str {
        match self {
            Metric::Revenue => "SUM(revenue)",
            Metric::Profit => "SUM(profit)",
            Metric::Orders => "COUNT(*)",
            Metric::Units => "SUM(units)",
        }
    }
}

/// How the chart groups days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bucket {
    /// One point per day.
    Day,
    /// One point per week (starting Monday).
    Week,
    /// One point per month.
    Month,
}

impl Bucket {
    /// Days for up to four months, weeks for up to a year and a half, else months.
    pub fn for_span(days: i32) -> Self {
        match days {
            ..=120 => Bucket::Day,
            121..=550 => Bucket::Week,
            _ => Bucket::Month,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => {
                "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')"
            }
            Bucket::Month => "substr(day, 1, 7) || '-01'",
        }
    }

    /// The display name, e.g. `"weekly"`.
    pub fn label(self) -> &'static str {
        match self {
            Bucket::Day => "daily",
            Bucket::Week => "weekly",
            Bucket::Month => "monthly",
        }
    }
}

/// One line of the chart: a region's values per bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The region's slug.
    pub region: String,
    /// `(day number of the bucket's first day, value)`, in date order.
    pub points: Vec<(i32, f64)>,
}

/// The chart's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// How days were grouped.
    pub bucket: Bucket,
    /// One line per selected region, in the order given.
    pub lines: Vec<Line>,
}

/// One row of the per-region table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionRow {
    /// The region's slug.
    pub region: String,
    /// Number of orders.
    pub orders: u64,
    /// Units sold.
    pub units: u64,
    /// Revenue.
    pub revenue: f64,
    /// Profit.
    pub profit: f64,
}

/// One row of the best-sellers table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRow {
    /// Product name.
    pub product: String,
    /// Product category.
    pub category: String,
    /// The selected metric's value.
    pub value: f64,
}

fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL parameters: `?1` start, `?2` end, then one per region.
fn bind<'a>(
    regions: &'a [String],
    start: &'a str,
    end: &'a str,
) -> rusqlite::ParamsFromIter<impl Iterator<Item = &'a str>> {
    rusqlite::params_from_iter(
        [start, end]
            .into_iter()
            .chain(regions.iter().map(String::as_str)),
    )
}

// ---- The queries themselves: plain rusqlite, no caching ----------------------

/// The chart's data: `metric` per region and per day, week or month, between
/// `start` and `end` (inclusive, `YYYY-MM-DD`). A full scan of the sales
/// table (deliberately unindexed), so it takes a noticeable time.
fn run_sales_series(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
    metric: Metric,
) -> Result<Series, DbError> {
    let span = data::parse_day(end).unwrap_or(0) - data::parse_day(start).unwrap_or(0) + 1;
    let bucket = Bucket::for_span(span);
    let sql = format!(
        "SELECT {bucket} AS b, region, {metric} FROM sales
         WHERE day BETWEEN ?1 AND ?2 AND region IN ({regions})
         GROUP BY b, region ORDER BY b",
        bucket = bucket.sql(),
        metric = metric.sql(),
        regions = placeholders(regions.len(), 3),
    );
    let rows: Vec<(String, String, f64)> = database(db)?.with(|conn| {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(bind(regions, start, end), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })?;
    let mut lines: Vec<Line> = regions
        .iter()
        .map(|r| Line {
            region: r.clone(),
            points: Vec::new(),
        })
        .collect();
    for (bucket_day, region, value) in rows {
        if let (Some(line), Some(day)) = (
            lines.iter_mut().find(|l| l.region == region),
            data::parse_day(&bucket_day),
        ) {
            line.points.push((day, value));
        }
    }
    // A week or month cut by the range would look like a sudden drop: leave
    // out partial buckets at either end (the tables still count every day).
    let (first, last) = (
        data::parse_day(start).unwrap_or(0),
        data::parse_day(end).unwrap_or(0),
    );
    let complete = |day: i32| {
        let bucket_end = match bucket {
            Bucket::Day => day,
            Bucket::Week => day + 6,
            Bucket::Month => data::month_end(day),
        };
        day >= first && bucket_end <= last
    };
    for line in &mut lines {
        if line.points.iter().filter(|p| complete(p.0)).count() >= 2 {
            line.points.retain(|p| complete(p.0));
        }
    }
    Ok(Series { bucket, lines })
}

/// Orders, units, revenue and profit per region between `start` and `end`.
fn run_region_summary(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
) -> Result<Vec<RegionRow>, DbError> {
    let sql = format!(
        "SELECT region, COUNT(*), SUM(units), SUM(revenue), SUM(profit) FROM sales
         WHERE day BETWEEN ?1 AND ?2 AND region IN ({})
         GROUP BY region ORDER BY SUM(revenue) DESC",
        placeholders(regions.len(), 3)
    );
    let rows = database(db)?.with(|conn| {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(bind(regions, start, end), |r| {
            Ok(RegionRow {
                region: r.get(0)?,
                orders: r.get::<_, i64>(1)?.unsigned_abs(),
                units: r.get::<_, i64>(2)?.unsigned_abs(),
                revenue: r.get(3)?,
                profit: r.get(4)?,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })?;
    Ok(rows)
}

/// The `limit` best-selling products by `metric` between `start` and `end`.
fn run_top_products(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
    metric: Metric,
    limit: u32,
) -> Result<Vec<ProductRow>, DbError> {
    let sql = format!(
        "SELECT product, category, {metric} AS v FROM sales
         WHERE day BETWEEN ?1 AND ?2 AND region IN ({regions})
         GROUP BY product ORDER BY v DESC LIMIT {limit}",
        metric = metric.sql(),
        regions = placeholders(regions.len(), 3),
    );
    let rows = database(db)?.with(|conn| {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(bind(regions, start, end), |r| {
            Ok(ProductRow {
                product: r.get(0)?,
                category: r.get(1)?,
                value: r.get(2)?,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()
    })?;
    Ok(rows)
}

/// How many best-sellers the page lists.
pub const TOP_PRODUCTS: u32 = 6;

// ---- The cached layer ---------------------------------------------------------
//
// Each view query is cached twice over: in memory (a hit costs a clone) and in
// a persistent tier, picked at run time by `persist = "auto"`: Redis when the
// dashboard runs with `--redis` (every instance shares the results, and a
// clear in one clears them all), else a folder on disk (results survive a
// restart). One declaration per query serves both.

/// The chart's data, cached in memory (at most 4 MiB of series: the values
/// that grow with the date range) and in the persistent tier. See
/// `run_sales_series`.
#[cache_data(ttl = "10m", max_size = "4MiB", persist = "auto")]
pub fn sales_series(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
    metric: Metric,
) -> Result<Series, DbError> {
    run_sales_series(db, regions, start, end, metric)
}

/// The per-region table, cached in memory and in the persistent tier.
#[cache_data(ttl = "10m", max_entries = 100, persist = "auto")]
pub fn region_summary(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
) -> Result<Vec<RegionRow>, DbError> {
    run_region_summary(db, regions, start, end)
}

/// The best-sellers table, cached in memory and in the persistent tier.
#[cache_data(ttl = "10m", max_entries = 100, persist = "auto")]
pub fn top_products(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
    metric: Metric,
    limit: u32,
) -> Result<Vec<ProductRow>, DbError> {
    run_top_products(db, regions, start, end, metric, limit)
}

/// The number of rows in the data set (memory only, for the process's lifetime).
#[cache_data]
pub fn row_count(db: &str) -> Result<u64, DbError> {
    let rows: i64 =
        database(db)?.with(|c| c.query_row("SELECT count(*) FROM sales", [], |r| r.get(0)))?;
    Ok(rows.unsigned_abs())
}

/// The live tile: today's orders so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveOrders {
    /// The data set's day being replayed as "today" (`YYYY-MM-DD`): the data
    /// ends in [`data::LAST_DAY`], so the feed replays today's date of that
    /// year.
    pub replayed_day: String,
    /// Orders placed so far today.
    pub orders: u64,
    /// Their revenue.
    pub revenue: f64,
    /// When this count was taken, in seconds since 1970 (UTC).
    pub as_of: u64,
}

/// The live "orders today" tile: the replayed day's orders up to the current
/// time of day (its orders spread evenly over 24 hours, in id order).
///
/// `refresh_mode = "background"`: past its 5 s `ttl` the last count is
/// returned at once while one refresh runs behind, so the tile never makes a
/// page wait (the dashboard warms it at start-up, so no request takes the
/// first count). A refresh that fails keeps the last count.
#[cache_data(
    ttl = "5s",
    refresh_mode = "background",
    max_stale = "1h",
    show_spinner = "Counting today's orders…"
)]
pub fn orders_today(db: &str) -> Result<LiveOrders, DbError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let seconds_today = now % 86_400;
    let today = data::format_day(i32::try_from(now / 86_400).unwrap_or(0));
    let replayed_day = replayed(&today);
    let revenues: Vec<f64> = database(db)?.with(|conn| {
        let mut stmt = conn.prepare("SELECT revenue FROM sales WHERE day = ?1 ORDER BY id")?;
        let rows = stmt.query_map([&replayed_day], |r| r.get(0))?;
        rows.collect::<Result<Vec<_>, _>>()
    })?;
    let so_far = revenues.len() * usize::try_from(seconds_today).unwrap_or(0) / 86_400;
    Ok(LiveOrders {
        replayed_day,
        orders: so_far as u64,
        revenue: revenues[..so_far].iter().sum(),
        as_of: now,
    })
}

/// The day of the data set's last year with `today`'s month and day
/// (`YYYY-MM-DD`); 29 February falls back to the 28th.
fn replayed(today: &str) -> String {
    let year = &data::LAST_DAY[..4];
    let month_day = today.get(4..).unwrap_or("-01-01");
    let day = format!("{year}{month_day}");
    if data::parse_day(&day).is_some() {
        day
    } else {
        format!("{year}-02-28")
    }
}

/// The totals of one saved view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Number of orders.
    pub orders: u64,
    /// Revenue.
    pub revenue: f64,
}

/// The totals of each of a browser's saved views, for its "My saved views"
/// panel.
///
/// `scope = "session"`: the saved views are private to a browser session,
/// so are these entries; they go when the session ends (or "Clear all
/// caches" resets it). Each view's rows come from the shared
/// [`region_summary()`] cache.
#[cache_data(scope = "session", ttl = "10m", max_entries = 1000)]
pub fn saved_view_totals(db: &str, views: &[ViewArgs]) -> Result<Vec<Totals>, DbError> {
    views
        .iter()
        .map(|view| {
            let rows = region_summary(db, &view.regions, &view.start, &view.end)?;
            Ok(Totals {
                orders: rows.iter().map(|r| r.orders).sum(),
                revenue: rows.iter().map(|r| r.revenue).sum(),
            })
        })
        .collect()
}

/// Where one cached call's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This process's memory (or a concurrent request's computation).
    Memory,
    /// The disk tier (e.g. after a restart).
    Disk,
    /// The Redis tier (e.g. computed by another instance).
    Redis,
    /// A stale value, served while it is refreshed in the background.
    Stale,
    /// The body ran: a miss.
    Miss,
}

impl Outcome {
    /// The outcome of the outermost call of the function named `short` in
    /// `calls` (what [`cache_runtime::trace`] recorded on this request's
    /// thread, so exact under concurrent requests). A call that returned an
    /// error is recorded as a miss; so is a function `calls` lacks (it did
    /// not finish).
    pub fn of(calls: &[CallRecord], short: &str) -> Self {
        let call = calls
            .iter()
            .find(|c| c.depth == 0 && c.function.rsplit("::").next() == Some(short));
        match call.map(|c| c.outcome) {
            Some(TracedOutcome::Hit) => Outcome::Memory,
            Some(TracedOutcome::Disk) => Outcome::Disk,
            Some(TracedOutcome::Redis) => Outcome::Redis,
            Some(TracedOutcome::Stale) => Outcome::Stale,
            _ => Outcome::Miss,
        }
    }

    /// `hit`, `disk hit`, `redis hit`, `stale` or `miss`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Memory => "hit",
            Outcome::Disk => "disk hit",
            Outcome::Redis => "redis hit",
            Outcome::Stale => "stale",
            Outcome::Miss => "miss",
        }
    }
}

/// Everything one view of the dashboard shows, with how it was obtained.
#[derive(Debug, Clone)]
pub struct ViewData {
    /// The chart's data.
    pub series: Series,
    /// The per-region table.
    pub summary: Vec<RegionRow>,
    /// The best-sellers table.
    pub products: Vec<ProductRow>,
    /// Wall time of the three view queries together.
    pub elapsed: Duration,
    /// `(function, where its answer came from)` for each view query.
    pub outcomes: Vec<(&'static str, Outcome)>,
}

impl ViewData {
    /// `Miss` if any view query ran, else the slowest tier that answered.
    pub fn outcome(&self) -> Outcome {
        let all = || self.outcomes.iter().map(|(_, o)| *o);
        [Outcome::Miss, Outcome::Redis, Outcome::Disk]
            .into_iter()
            .find(|o| all().any(|x| x == *o))
            .unwrap_or(Outcome::Memory)
    }
}

/// The filters as the query functions take them: validated and normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewArgs {
    /// Region slugs, in display order.
    pub regions: Vec<String>,
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// Last day, `YYYY-MM-DD`.
    pub end: String,
    /// The chart's metric.
    pub metric: Metric,
}

/// The view queries, by the names the page shows.
pub const VIEW_QUERIES: [&str; 3] = ["sales_series", "region_summary", "top_products"];

/// Runs the view's three cached queries (blocking: call it from
/// `spawn_blocking`), timing them and telling where each answer came from
/// ([`cache_runtime::trace`]).
pub fn load_view(db: &str, args: &ViewArgs) -> Result<ViewData, DbError> {
    let (regions, start, end, metric) = (
        &args.regions[..],
        &args.start[..],
        &args.end[..],
        args.metric,
    );
    let started = Instant::now();
    let (loaded, calls) = cache_runtime::trace(|| -> Result<_, DbError> {
        Ok((
            sales_series(db, regions, start, end, metric)?,
            region_summary(db, regions, start, end)?,
            top_products(db, regions, start, end, metric, TOP_PRODUCTS)?,
        ))
    });
    let elapsed = started.elapsed();
    let (series, summary, products) = loaded?;
    Ok(ViewData {
        series,
        summary,
        products,
        elapsed,
        outcomes: VIEW_QUERIES
            .iter()
            .map(|name| (*name, Outcome::of(&calls, name)))
            .collect(),
    })
}

/// [`orders_today()`], with where its answer came from.
pub fn load_live_tile(db: &str) -> Result<(LiveOrders, Outcome), DbError> {
    let (live, calls) = cache_runtime::trace(|| orders_today(db));
    Ok((live?, Outcome::of(&calls, "orders_today")))
}

/// Forgets the cached entries of one view, in memory and in the tier
/// (`f::invalidate(args..)` on each view query). Returns how many entries
/// were removed from memory.
pub fn invalidate_view(db: &str, args: &ViewArgs) -> usize {
    let (regions, start, end, metric) = (
        &args.regions[..],
        &args.start[..],
        &args.end[..],
        args.metric,
    );
    [
        sales_series::invalidate(db, regions, start, end, metric),
        region_summary::invalidate(db, regions, start, end),
        top_products::invalidate(db, regions, start, end, metric, TOP_PRODUCTS),
    ]
    .into_iter()
    .filter(|removed| *removed)
    .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool shares at most `POOL_SIZE` read-only connections among any
    /// number of threads, and a closure's SQLite error comes back as a
    /// `DbError`.
    #[test]
    fn the_pool_shares_a_few_read_only_connections() {
        let path =
            std::env::temp_dir().join(format!("dashboard-pool-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        drop(setup);
        let path_text = path.to_string_lossy().into_owned();
        let pool = Pool {
            path: path_text.clone(),
            connections: r2d2::Pool::builder()
                .max_size(POOL_SIZE)
                .build(ReadOnlyFile { path: path_text })
                .unwrap(),
        };
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        let x: i64 = pool
                            .with(|c| c.query_row("SELECT x FROM t", [], |r| r.get(0)))
                            .unwrap();
                        assert_eq!(x, 7);
                    }
                });
            }
        });
        assert!(pool.connections.state().connections <= POOL_SIZE);
        let written = pool.with(|c| c.execute("INSERT INTO t VALUES (8)", []));
        assert!(written.is_err(), "the connections are read-only");
        assert!(pool_is_healthy(&pool));
        std::fs::remove_file(&path).unwrap();
        assert!(
            !pool_is_healthy(&pool),
            "a pool whose file is gone is not reused"
        );
    }
}
