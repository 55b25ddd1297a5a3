//! `tracing`: each computation is a `cache.compute` span, nested as the
//! calls are, and each hit a TRACE `cache.hit` event. In a binary of its own:
//! tracing caches each callsite's interest process-wide, which other tests
//! computing at the same time on threads without a subscriber disturb.

use cache_runtime::cache_data;

mod spans {
    use std::sync::{Arc, Mutex};

    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Subscriber, field};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    /// Serializes the tests that install a thread's subscriber: tracing
    /// caches each callsite's interest process-wide, and two scoped
    /// subscribers coming and going at once can leave it stale.
    pub(super) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        static ONE: Mutex<()> = Mutex::new(());
        ONE.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A span as (name, function, parent's function, outcome).
    pub(super) type SeenSpan = (String, String, Option<String>, Option<String>);

    /// What the layer saw: spans, and events as (level, message, function).
    #[derive(Clone, Default)]
    pub(super) struct Seen {
        pub(super) spans: Arc<Mutex<Vec<SeenSpan>>>,
        pub(super) events: Arc<Mutex<Vec<(tracing::Level, String, String)>>>,
    }

    #[derive(Default)]
    struct Fields {
        function: String,
        message: String,
        outcome: Option<String>,
    }

    impl field::Visit for Fields {
        fn record_str(&mut self, field: &field::Field, value: &str) {
            match field.name() {
                "function" => self.function = value.to_owned(),
                "outcome" => self.outcome = Some(value.to_owned()),
                _ => {}
            }
        }
        fn record_debug(&mut self, field: &field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.message = format!("{value:?}");
            }
        }
    }

    /// The span's index in `Seen::spans`.
    struct Index(usize);

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            let parent = ctx
                .span(id)
                .and_then(|span| span.parent())
                .and_then(|parent| {
                    let spans = self.spans.lock().unwrap();
                    parent
                        .extensions()
                        .get::<Index>()
                        .map(|index| spans[index.0].1.clone())
                });
            let mut spans = self.spans.lock().unwrap();
            spans.push((
                attrs.metadata().name().to_owned(),
                fields.function,
                parent,
                None,
            ));
            ctx.span(id)
                .unwrap()
                .extensions_mut()
                .insert(Index(spans.len() - 1));
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            values.record(&mut fields);
            if let Some(outcome) = fields.outcome {
                let span = ctx.span(id).unwrap();
                let index = span.extensions().get::<Index>().unwrap().0;
                self.spans.lock().unwrap()[index].3 = Some(outcome);
            }
        }

        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            self.events.lock().unwrap().push((
                *event.metadata().level(),
                fields.message,
                fields.function,
            ));
        }
    }
}

#[test]
fn each_miss_is_a_span_that_nests_and_each_hit_a_trace_event() {
    use tracing_subscriber::layer::SubscriberExt;

    #[cache_data]
    fn leaf(n: u32) -> Result<u32, String> {
        if n == 0 { Err("zero".into()) } else { Ok(n) }
    }
    #[cache_data]
    fn branch(n: u32) -> u32 {
        leaf(n).unwrap_or(0) + 1
    }
    let _one = spans::one_at_a_time();
    let seen = spans::Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        branch(1);
        branch(1);
        let _ = leaf(0);
    });
    let spans = seen.spans.lock().unwrap().clone();
    let short = |name: &str| name.rsplit("::").next().unwrap().to_owned();
    let spans: Vec<_> = spans
        .into_iter()
        .map(|(name, function, parent, outcome)| {
            (name, short(&function), parent.map(|p| short(&p)), outcome)
        })
        .collect();
    assert_eq!(
        spans,
        [
            (
                "cache.compute".into(),
                "branch".into(),
                None,
                Some("ok".into())
            ),
            (
                "cache.compute".into(),
                "leaf".into(),
                Some("branch".into()),
                Some("ok".into())
            ),
            (
                "cache.compute".into(),
                "leaf".into(),
                None,
                Some("error".into())
            ),
        ]
    );
    let hits: Vec<_> = seen
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, message, _)| message == "cache.hit")
        .map(|(level, _, function)| (*level, short(function)))
        .collect();
    assert_eq!(hits, [(tracing::Level::TRACE, "branch".to_owned())]);
}

#[test]
fn an_async_miss_is_a_span_too() {
    use tracing_subscriber::layer::SubscriberExt;

    #[cache_data]
    async fn fetched(n: u32) -> u32 {
        tokio::task::yield_now().await;
        n
    }
    let _one = spans::one_at_a_time();
    let seen = spans::Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        runtime.block_on(fetched(1))
    });
    let spans = seen.spans.lock().unwrap().clone();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].1.ends_with("::fetched"));
    assert_eq!(spans[0].3.as_deref(), Some("ok"));
}
