//! The dashboard's data set: a SQLite file of ~460,000 orders, generated
//! deterministically on first start.
//!
//! Everything here is plain `rusqlite`; the caching happens one layer up, in
//! [`queries`](super::queries).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{Connection, params};

/// Bumped whenever the generator changes, so an old file is rebuilt.
const GENERATOR_VERSION: &str = "4";

/// Scales every region's daily orders (about 460,000 rows in all).
const ORDERS_SCALE: f64 = 7.5;

/// First day of the data set (inclusive).
pub const FIRST_DAY: &str = "2023-01-01";
/// Last day of the data set (inclusive).
pub const LAST_DAY: &str = "2025-12-31";

/// A sales region: its URL slug, display name and relative size.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// The value used in query parameters and in the database, e.g. `"europe"`.
    pub slug: &'static str,
    /// The display name, e.g. `"Europe"`.
    pub name: &'static str,
    /// Relative size (mean orders per day before [`ORDERS_SCALE`]).
    base: f64,
    /// Yearly growth (0.2 = +20 % a year).
    growth: f64,
    /// Whether the seasons are flipped (southern hemisphere).
    southern: bool,
}

/// Every region, in display order.
pub const REGIONS: [Region; 8] = [
    Region {
        slug: "north-america",
        name: "North America",
        base: 9.0,
        growth: 0.08,
        southern: false,
    },
    Region {
        slug: "europe",
        name: "Europe",
        base: 8.0,
        growth: 0.03,
        southern: false,
    },
    Region {
        slug: "east-asia",
        name: "East Asia",
        base: 7.0,
        growth: 0.30,
        southern: false,
    },
    Region {
        slug: "south-asia",
        name: "South Asia",
        base: 4.5,
        growth: 0.45,
        southern: false,
    },
    Region {
        slug: "latin-america",
        name: "Latin America",
        base: 4.0,
        growth: 0.12,
        southern: true,
    },
    Region {
        slug: "middle-east",
        name: "Middle East",
        base: 3.0,
        growth: 0.15,
        southern: false,
    },
    Region {
        slug: "africa",
        name: "Africa",
        base: 2.5,
        growth: 0.35,
        southern: true,
    },
    Region {
        slug: "oceania",
        name: "Oceania",
        base: 3.0,
        growth: 0.05,
        southern: true,
    },
];

/// The region with this slug, if any.
pub fn region(slug: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.slug == slug)
}

struct Product {
    name: &'static str,
    category: &'static str,
    price: f64,
    margin: f64,
    weight: u32,
}

const PRODUCTS: [Product; 12] = [
    Product {
        name: "Trail Runner Shoes",
        category: "Footwear",
        price: 129.0,
        margin: 0.42,
        weight: 14,
    },
    Product {
        name: "City Sneakers",
        category: "Footwear",
        price: 89.0,
        margin: 0.38,
        weight: 16,
    },
    Product {
        name: "Hiking Boots",
        category: "Footwear",
        price: 189.0,
        margin: 0.40,
        weight: 7,
    },
    Product {
        name: "Rain Jacket",
        category: "Apparel",
        price: 149.0,
        margin: 0.55,
        weight: 9,
    },
    Product {
        name: "Merino Base Layer",
        category: "Apparel",
        price: 79.0,
        margin: 0.60,
        weight: 11,
    },
    Product {
        name: "Down Parka",
        category: "Apparel",
        price: 329.0,
        margin: 0.50,
        weight: 4,
    },
    Product {
        name: "Daypack 22L",
        category: "Gear",
        price: 99.0,
        margin: 0.45,
        weight: 10,
    },
    Product {
        name: "Ultralight Tent",
        category: "Gear",
        price: 449.0,
        margin: 0.35,
        weight: 3,
    },
    Product {
        name: "Trekking Poles",
        category: "Gear",
        price: 69.0,
        margin: 0.48,
        weight: 8,
    },
    Product {
        name: "GPS Watch",
        category: "Electronics",
        price: 399.0,
        margin: 0.28,
        weight: 5,
    },
    Product {
        name: "Headlamp",
        category: "Electronics",
        price: 49.0,
        margin: 0.52,
        weight: 12,
    },
    Product {
        name: "Solar Charger",
        category: "Electronics",
        price: 119.0,
        margin: 0.33,
        weight: 6,
    },
];

const CHANNELS: [(&str, u32); 3] = [("online", 55), ("retail", 35), ("partner", 10)];

/// What went wrong while opening or building the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError(pub String);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database error: {}", self.0)
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<std::io::Error> for DbError {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

/// Makes sure `path` holds the complete data set, generating it (into a
/// temporary file, then renamed into place) when the file is missing, was made
/// by another generator version, or has the wrong number of rows. Returns the
/// number of rows.
///
/// Callers in one process take turns (two apps starting together, or tests
/// in parallel, would otherwise write the same temporary file); another
/// process writes a temporary file of its own and renames it into place.
pub fn ensure_database(path: &Path) -> Result<u64, DbError> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(rows) = check(path) {
        return Ok(rows);
    }
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(rows) = check(path) {
        return Ok(rows); // made while this caller waited
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let started = Instant::now();
    tracing::info!(
        path = %path.display(),
        "generating the sales data set (missing, outdated or incomplete)"
    );
    let rows = generate(&tmp)?;
    std::fs::rename(&tmp, path)?;
    tracing::info!(rows, elapsed = ?started.elapsed(), "data set ready");
    Ok(rows)
}

/// The number of rows if `path` is a complete data set of this generator version.
fn check(path: &Path) -> Option<u64> {
    if !path.exists() {
        return None;
    }
    let conn =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let meta = |key: &str| -> Option<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .ok()
    };
    if meta("version")? != GENERATOR_VERSION {
        return None;
    }
    let expected: u64 = meta("rows")?.parse().ok()?;
    let actual: i64 = conn
        .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
        .ok()?;
    let actual = actual.unsigned_abs();
    (actual == expected).then_some(actual)
}

/// Writes the whole data set to a new file at `path`, in one transaction
/// with one prepared statement. Deterministic: the same file every time.
fn generate(path: &Path) -> Result<u64, DbError> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         CREATE TABLE sales (
             id       INTEGER PRIMARY KEY,
             day      TEXT    NOT NULL,  -- YYYY-MM-DD
             region   TEXT    NOT NULL,
             product  TEXT    NOT NULL,
             category TEXT    NOT NULL,
             channel  TEXT    NOT NULL,
             units    INTEGER NOT NULL,
             revenue  REAL    NOT NULL,
             profit   REAL    NOT NULL
         );
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )?;
    let tx = conn.transaction()?;
    let mut rows = 0u64;
    {
        let mut insert = tx.prepare(
            "INSERT INTO sales (day, region, product, category, channel, units, revenue, profit)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut rng = SplitMix64(0x5EED_DA5B_0A2D);
        let first = parse_day(FIRST_DAY).unwrap_or(0);
        let last = parse_day(LAST_DAY).unwrap_or(0);
        let product_total: u32 = PRODUCTS.iter().map(|p| p.weight).sum();
        let channel_total: u32 = CHANNELS.iter().map(|c| c.1).sum();
        for day in first..=last {
            let date = format_day(day);
            let years = f64::from(day - first) / 365.25;
            let (_, month, dom) = civil_from_days(day);
            let weekday = (day + 3).rem_euclid(7); // 0 = Monday
            let weekly = [0.92, 0.95, 0.97, 1.0, 1.08, 1.22, 1.12][weekday as usize];
            let doy = f64::from(day - parse_day(&format!("{}-01-01", &date[..4])).unwrap_or(day));
            let black_friday = month == 11 && weekday == 4 && (23..=29).contains(&dom);
            for region in &REGIONS {
                // Winter peak (gifts and parkas) in the north, shifted half a year in the south.
                let phase = if region.southern { 0.5 } else { 0.0 };
                let season = 1.0
                    + 0.28 * (2.0 * std::f64::consts::PI * (doy / 365.25 + phase)).cos()
                    + if month == 12 && !region.southern {
                        0.25
                    } else {
                        0.0
                    };
                let trend = (1.0 + region.growth).powf(years);
                let mut expected = ORDERS_SCALE * region.base * weekly * season * trend;
                if black_friday {
                    expected *= 3.2;
                }
                // A warehouse outage: Europe loses three weeks in March 2024.
                if region.slug == "europe"
                    && date.as_str() >= "2024-03-04"
                    && date.as_str() <= "2024-03-24"
                {
                    expected *= 0.35;
                }
                let orders = (expected * (0.8 + 0.4 * rng.next_f64())).round() as u32;
                for _ in 0..orders {
                    let product = pick(&mut rng, product_total, PRODUCTS.iter().map(|p| p.weight))
                        .map_or(&PRODUCTS[0], |i| &PRODUCTS[i]);
                    let channel = pick(&mut rng, channel_total, CHANNELS.iter().map(|c| c.1))
                        .map_or(CHANNELS[0].0, |i| CHANNELS[i].0);
                    let units = 1 + (rng.next_f64().powi(3) * 4.0) as u32;
                    let discount = if rng.next_f64() < 0.2 { 0.15 } else { 0.0 };
                    let revenue = round2(f64::from(units) * product.price * (1.0 - discount));
                    let shipping = if channel == "online" { 7.5 } else { 0.0 };
                    let profit = round2(revenue * (product.margin - discount) - shipping);
                    insert.execute(params![
                        date,
                        region.slug,
                        product.name,
                        product.category,
                        channel,
                        units,
                        revenue,
                        profit
                    ])?;
                    rows += 1;
                }
            }
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('version', ?1), ('rows', ?2)",
        params![GENERATOR_VERSION, rows.to_string()],
    )?;
    tx.commit()?;
    Ok(rows)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A weighted choice: the index of the item whose weight interval holds a
/// random point.
fn pick(rng: &mut SplitMix64, total: u32, weights: impl Iterator<Item = u32>) -> Option<usize> {
    let mut point = (rng.next_f64() * f64::from(total)) as u32;
    for (i, w) in weights.enumerate() {
        if point < w {
            return Some(i);
        }
        point -= w;
    }
    None
}

/// A tiny deterministic PRNG (SplitMix64), so the data set is the same on
/// every machine without a dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, or `None` if it is not one.
pub fn parse_day(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let y: i32 = text[..4].parse().ok()?;
    let m: u32 = text[5..7].parse().ok()?;
    let d: u32 = text[8..].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The `YYYY-MM-DD` text of a day number (days since 1970-01-01).
pub fn format_day(days: i32) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A short label such as `Mar 4` or `Mar 2024`.
pub fn short_day(days: i32, with_year: bool) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days(days);
    let month = MONTHS[(m - 1) as usize];
    if with_year {
        format!("{month} {y}")
    } else {
        format!("{month} {d}")
    }
}

/// The last day of the month holding `days`.
pub fn month_end(days: i32) -> i32 {
    let (y, m, _) = civil_from_days(days);
    days_from_civil(y, m, days_in_month(y, m))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        for day in [-1000, 0, 19_000, parse_day(LAST_DAY).unwrap()] {
            assert_eq!(parse_day(&format_day(day)), Some(day));
        }
        assert_eq!(parse_day("2024-02-30"), None);
        assert_eq!(parse_day("2024-2-3"), None);
        assert_eq!(short_day(parse_day("2024-03-04").unwrap(), false), "Mar 4");
    }
}
