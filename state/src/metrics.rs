//! `/metrics` for an axum app: every cached function's metrics
//! ([`cache_runtime::metrics`]) and this process's sessions, in one
//! OpenMetrics text, for Prometheus to scrape.
//!
//! ```
//! use axum::{routing::get, Router};
//!
//! let app: Router = Router::new().route("/metrics", get(state::metrics::handler));
//! ```
//!
//! The session families (every [`SessionLayer`](crate::SessionLayer) of the
//! process together; with a shared Redis store each replica counts what it
//! saw):
//!
//! | family | type | labels |
//! |---|---|---|
//! | `session_starts` | counter | |
//! | `session_ends` | counter | `reason`: `ended`, `expired`, `evicted` |
//! | `sessions_active` | gauge | (started and not ended yet) |

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::response::IntoResponse;
use cache_runtime::metrics::Format;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::session::session_counts;

/// The `prometheus-client` collector of the session families: register it
/// in your own registry, next to [`cache_runtime::metrics::Caches`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Sessions;

impl Collector for Sessions {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let counts = session_counts();
        let family = encoder.encode_descriptor(
            "session_starts",
            "Browser sessions created.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(counts.starts).encode(family)?;
        let mut family = encoder.encode_descriptor(
            "session_ends",
            "Browser sessions ended, by reason.",
            None,
            MetricType::Counter,
        )?;
        for (reason, value) in [
            ("ended", counts.ended),
            ("expired", counts.expired),
            ("evicted", counts.evicted),
        ] {
            ConstCounter::new(value).encode(family.encode_family(&[("reason", reason)])?)?;
        }
        let family = encoder.encode_descriptor(
            "sessions_active",
            "Browser sessions started and not ended yet.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::try_from(counts.active()).unwrap_or(i64::MAX)).encode(family)
    }
}

/// The metrics of every cached function and of the sessions, in `format`.
pub fn render(format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(cache_runtime::metrics::Caches));
    registry.register_collector(Box::new(Sessions));
    cache_runtime::metrics::encode(&registry, format)
}

/// An axum handler serving [`render`]:
/// `.route("/metrics", get(state::metrics::handler))`. OpenMetrics when the
/// request's `Accept` asks for it (Prometheus does), else Prometheus's text
/// format.
pub async fn handler(headers: HeaderMap) -> impl IntoResponse {
    let accept = headers.get(ACCEPT).and_then(|value| value.to_str().ok());
    let format = Format::from_accept(accept);
    ([(CONTENT_TYPE, format.content_type())], render(format))
}
