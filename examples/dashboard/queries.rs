//! The cached layer: one shared connection pool per database file
//! (`#[cache_resource]`) and the queries behind each view (`#[cache_data]`),
//! keyed by the page's filters.

use std::path::Path;
use std::time::{Duration, Instant};

use cache_runtime::{Stats, cache_data, cache_resource};
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
// a persistent tier. The tier is part of the function's declaration, so there
// is one cached function per tier, and `Tier` picks one at start-up: the disk
// by default (results survive a restart), Redis with `--redis` (every
// instance shares them, and a clear in one clears them all).

/// The chart's data, cached in memory and on disk. See `run_sales_series`.
#[cache_data(ttl = "10m", max_entries = 100, persist = "disk")]
pub fn sales_series(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
    metric: Metric,
) -> Result<Series, DbError> {
    run_sales_series(db, regions, start, end, metric)
}

/// The chart's data, cached in memory and in Redis (shared by instances).
#[cache_data(ttl = "10m", max_entries = 100, persist = "redis")]
pub fn sales_series_shared(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
    metric: Metric,
) -> Result<Series, DbError> {
    run_sales_series(db, regions, start, end, metric)
}

/// The per-region table, cached in memory and on disk.
#[cache_data(ttl = "10m", max_entries = 100, persist = "disk")]
pub fn region_summary(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
) -> Result<Vec<RegionRow>, DbError> {
    run_region_summary(db, regions, start, end)
}

/// The per-region table, cached in memory and in Redis.
#[cache_data(ttl = "10m", max_entries = 100, persist = "redis")]
pub fn region_summary_shared(
    db: &str,
    regions: &[String],
    start: &str,
    end: &str,
) -> Result<Vec<RegionRow>, DbError> {
    run_region_summary(db, regions, start, end)
}

/// The best-sellers table, cached in memory and on disk.
#[cache_data(ttl = "10m", max_entries = 100, persist = "disk")]
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

/// The best-sellers table, cached in memory and in Redis.
#[cache_data(ttl = "10m", max_entries = 100, persist = "redis")]
pub fn top_products_shared(
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

/// Which persistent tier backs the view queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Memory, then a folder on this machine (the default).
    Disk,
    /// Memory, then Redis: shared by every instance (`--redis`).
    Redis,
}

/// Where one view query's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This process's memory.
    Memory,
    /// The disk tier (e.g. after a restart).
    Disk,
    /// The Redis tier (e.g. computed by another instance).
    Redis,
    /// The body ran: a miss.
    Miss,
}

impl Outcome {
    /// Compares one function's [`Stats`] around a call. The counters are
    /// per function, not per call, so under concurrent load another request's
    /// miss can be attributed to this one: good enough for a status line.
    fn between(before: Stats, after: Stats) -> Self {
        if after.misses > before.misses || after.errors > before.errors {
            Outcome::Miss
        } else if after.redis_hits > before.redis_hits {
            Outcome::Redis
        } else if after.disk_hits > before.disk_hits {
            Outcome::Disk
        } else {
            Outcome::Memory
        }
    }

    /// `hit`, `disk hit`, `redis hit` or `miss`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Memory => "hit",
            Outcome::Disk => "disk hit",
            Outcome::Redis => "redis hit",
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
    /// Rows in the data set.
    pub total_rows: u64,
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
#[derive(Debug, Clone, PartialEq)]
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

/// Calls a cached function and tells where its answer came from, by its
/// [`Stats`] before and after (`$f::stats()` is the companion handle).
macro_rules! observed {
    ($f:ident($($arg:expr),*)) => {{
        let before = $f::stats();
        let value = $f($($arg),*)?;
        (value, Outcome::between(before, $f::stats()))
    }};
}

/// Runs the view's three cached queries on `tier` (blocking: call it from
/// `spawn_blocking`), timing them.
pub fn load_view(db: &str, tier: Tier, args: &ViewArgs) -> Result<ViewData, DbError> {
    let (regions, start, end, metric) = (
        &args.regions[..],
        &args.start[..],
        &args.end[..],
        args.metric,
    );
    let started = Instant::now();
    let ((series, s), (summary, r), (products, p)) = match tier {
        Tier::Disk => (
            observed!(sales_series(db, regions, start, end, metric)),
            observed!(region_summary(db, regions, start, end)),
            observed!(top_products(db, regions, start, end, metric, TOP_PRODUCTS)),
        ),
        Tier::Redis => (
            observed!(sales_series_shared(db, regions, start, end, metric)),
            observed!(region_summary_shared(db, regions, start, end)),
            observed!(top_products_shared(
                db,
                regions,
                start,
                end,
                metric,
                TOP_PRODUCTS
            )),
        ),
    };
    let elapsed = started.elapsed();
    Ok(ViewData {
        series,
        summary,
        products,
        total_rows: row_count(db)?,
        elapsed,
        outcomes: vec![
            ("sales_series", s),
            ("region_summary", r),
            ("top_products", p),
        ],
    })
}

/// Forgets the cached entries of one view, in memory and in the tier
/// (`f::invalidate(args..)` on each view query). Returns how many entries
/// were removed from memory.
pub fn invalidate_view(db: &str, tier: Tier, args: &ViewArgs) -> usize {
    let (regions, start, end, metric) = (
        &args.regions[..],
        &args.start[..],
        &args.end[..],
        args.metric,
    );
    let removed = match tier {
        Tier::Disk => [
            sales_series::invalidate(db, regions, start, end, metric),
            region_summary::invalidate(db, regions, start, end),
            top_products::invalidate(db, regions, start, end, metric, TOP_PRODUCTS),
        ],
        Tier::Redis => [
            sales_series_shared::invalidate(db, regions, start, end, metric),
            region_summary_shared::invalidate(db, regions, start, end),
            top_products_shared::invalidate(db, regions, start, end, metric, TOP_PRODUCTS),
        ],
    };
    removed.into_iter().filter(|r| *r).count()
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
