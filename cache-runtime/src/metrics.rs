//! Every cached function's counters in the OpenMetrics text exposition, with
//! Streamlit's families and labels (its `/_stcore/metrics`), encoded by the
//! Prometheus project's `prometheus-client`:
//!
//! | family | type | labels |
//! |---|---|---|
//! | `cache_lookups` | counter | `result`: `hit`, `miss`, and our tiers `disk`, `redis` |
//! | `cache_compute_duration_seconds` | histogram (5 ms to 300 s) | `trigger`: `miss`, `refresh` |
//! | `cache_evictions` | counter | `reason`: `ttl`, `max_entries`, `max_size`, `budget`, `validate` |
//! | `cache_background_refreshes` | counter | `result`: `success`, `error`, `skipped` |
//! | `cache_memory_bytes` | gauge | (functions whose entries are weighed: `max_size`, or under the memory budget) |
//! | `cache_persist_errors` | counter | `tier`: `disk`, `redis` (functions with `persist`) |
//! | `cache_redis_events_subscribed` | gauge, no labels | 1 while this process hears the Redis events channel, 0 during an outage (once the Redis tier is in use) |
//!
//! Every family but the last also has the labels `cache_type` (`cache_data`
//! or `cache_resource`) and `cache` (the function's full name).
//! `cache_persist_errors` counts the tier operations that failed (the tier
//! unreachable or timing out, a record refused): each such call computed
//! instead; with `cache_redis_events_subscribed`, it shows an outage. Serve it with
//! the state crate's `state::metrics::handler` (`/metrics`, one line in an
//! axum router), or add [`Caches`] to your own `prometheus-client` registry.
//!
//! ```
//! use cache_runtime::cache_data;
//!
//! #[cache_data]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! square(2);
//! square(2);
//! let text = cache_runtime::metrics::render();
//! // cache_lookups_total{cache_type="cache_data",cache="my_app::square",result="hit"} 1
//! assert!(text.lines().any(|line| line.starts_with("cache_lookups_total{")
//!     && line.ends_with(r#"::square",result="hit"} 1"#)));
//! assert!(text.ends_with("# EOF\n"));
//! ```

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::config::{Kind, Persist};
use crate::registry::{self, Registered};
use crate::stats::{COMPUTE_BUCKETS, ComputeTimes, Stats};

/// The `prometheus-client` collector of every cached function's metrics:
/// register it in your registry
/// (`registry.register_collector(Box::new(Caches))`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Caches;

/// The OpenMetrics text of every cached function (see the module docs),
/// ending with `# EOF`.
pub fn render() -> String {
    render_as(Format::OpenMetrics)
}

/// [`render`] in the format a scraper asked for.
pub fn render_as(format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Caches));
    encode(&registry, format)
}

/// The `Content-Type` of OpenMetrics text ([`render`]).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition formats a `/metrics` endpoint serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// OpenMetrics 1.0, which Prometheus asks for first.
    OpenMetrics,
    /// Prometheus's older text format 0.0.4, for scrapers and tools that do
    /// not accept OpenMetrics (`curl`, `promtool check metrics`).
    Text,
}

impl Format {
    /// The format an HTTP `Accept` header asks for: OpenMetrics when it
    /// names it, else the text format (as Prometheus's own client libraries
    /// negotiate).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => CONTENT_TYPE,
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Encodes `registry` in `format`. `prometheus-client` writes OpenMetrics;
/// the text format differs from it only in naming a counter family by its
/// samples' name (`x_total`) and in having no `# EOF`.
pub fn encode(registry: &Registry, format: Format) -> String {
    let mut text = String::new();
    // Writing into a `String` cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    match format {
        Format::OpenMetrics => text,
        Format::Text => openmetrics_to_text(&text),
    }
}

fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        text.push_str(renamed.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}

/// One function's numbers, read once per scrape.
struct Sample {
    cache_type: &'static str,
    name: &'static str,
    stats: Stats,
    memory: Option<u64>,
    /// Its persistent tier's label, if it has one.
    tier: Option<&'static str>,
}

impl Collector for Caches {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let charged = crate::budget::charged_by_owner();
        let samples: Vec<Sample> = registry::caches()
            .into_iter()
            .map(|cache: &dyn Registered| {
                let info = cache.info();
                Sample {
                    cache_type: match info.kind {
                        Kind::Data => "cache_data",
                        Kind::Resource => "cache_resource",
                    },
                    name: info.name,
                    stats: info.stats,
                    memory: cache.memory_bytes(&charged),
                    tier: info.persist.map(|tier| match tier {
                        Persist::Disk => "disk",
                        #[cfg(feature = "redis")]
                        Persist::Redis => "redis",
                    }),
                }
            })
            .collect();

        counter_family(
            &mut encoder,
            "cache_lookups",
            "Calls of cached functions, by where their value came from.",
            &samples,
            "result",
            |s| {
                vec![
                    ("hit", s.hits),
                    ("miss", s.misses),
                    ("disk", s.disk_hits),
                    ("redis", s.redis_hits),
                ]
            },
        )?;

        let mut family = encoder.encode_descriptor(
            "cache_compute_duration_seconds",
            "Time spent computing values, on a miss or in a background refresh.",
            None,
            MetricType::Histogram,
        )?;
        for sample in &samples {
            for (trigger, times) in [
                ("miss", &sample.stats.miss_times),
                ("refresh", &sample.stats.refresh_times),
            ] {
                let labels = [
                    ("cache_type", sample.cache_type),
                    ("cache", sample.name),
                    ("trigger", trigger),
                ];
                let mut metric = family.encode_family(&labels)?;
                let buckets = histogram_buckets(times);
                metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    times.total.as_secs_f64(),
                    times.count(),
                    &buckets,
                    None,
                )?;
            }
        }

        counter_family(
            &mut encoder,
            "cache_evictions",
            "Entries that left memory on their own, by reason.",
            &samples,
            "reason",
            |s| {
                let e = &s.evicted;
                vec![
                    ("ttl", e.ttl),
                    ("max_entries", e.max_entries),
                    ("max_size", e.max_size),
                    ("budget", e.budget),
                    ("validate", e.validate),
                ]
            },
        )?;

        counter_family(
            &mut encoder,
            "cache_background_refreshes",
            "Background refreshes (refresh_mode = \"background\"), by how they ended.",
            &samples,
            "result",
            |s| {
                let r = &s.refreshes;
                vec![
                    ("success", r.succeeded),
                    ("error", r.failed),
                    ("skipped", r.skipped),
                ]
            },
        )?;

        let mut family = encoder.encode_descriptor(
            "cache_memory_bytes",
            "Bytes of values held in memory, for functions whose values are weighed.",
            None,
            MetricType::Gauge,
        )?;
        for sample in &samples {
            if let Some(bytes) = sample.memory {
                let labels = [("cache_type", sample.cache_type), ("cache", sample.name)];
                let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
                ConstGauge::new(bytes).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "cache_persist_errors",
            "Persistent-tier operations that failed (unreachable, timed out, or a record refused); the call computed instead.",
            None,
            MetricType::Counter,
        )?;
        for sample in &samples {
            if let Some(tier) = sample.tier {
                let labels = [
                    ("cache_type", sample.cache_type),
                    ("cache", sample.name),
                    ("tier", tier),
                ];
                ConstCounter::new(sample.stats.persist_errors)
                    .encode(family.encode_family(&labels)?)?;
            }
        }

        if let Some(subscribed) = crate::persist::redis_events_heard() {
            let metric = encoder.encode_descriptor(
                "cache_redis_events_subscribed",
                "1 while this process hears the Redis events channel (other processes' clears), 0 during an outage.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::from(subscribed)).encode(metric)?;
        }
        Ok(())
    }
}

/// A counter family: for each function, one sample per `(value of label
/// `label`, count)` that `counts` reads from its stats.
fn counter_family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: &[Sample],
    label: &'static str,
    counts: impl Fn(&Stats) -> Vec<(&'static str, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for sample in samples {
        for (value, count) in counts(&sample.stats) {
            let labels = [
                ("cache_type", sample.cache_type),
                ("cache", sample.name),
                (label, value),
            ];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// The histogram's buckets as `prometheus-client` takes them: each bound with
/// its own count, the last one unbounded.
fn histogram_buckets(times: &ComputeTimes) -> Vec<(f64, u64)> {
    COMPUTE_BUCKETS
        .iter()
        .copied()
        .chain([f64::MAX])
        .zip(times.buckets)
        .collect()
}
