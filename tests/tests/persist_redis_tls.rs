//! Secured Redis: a TLS-only `redis-server` (certificates made by the test
//! with `openssl`) with the default user off and an ACL user. The cache tier
//! (`rediss://user:password@host/`, trusting the test CA through
//! `SSL_CERT_FILE`) and the session store both work over it; a wrong
//! password is one clear error in the log, and every call computes locally.

use std::time::Duration;

use integration_tests::probe::run_once_logged;
use integration_tests::{RedisServer, TLS_USER};

const PROBE: &str = env!("CARGO_BIN_EXE_persist_probe");

fn env(redis: &RedisServer, url: String) -> Vec<(&'static str, String)> {
    vec![
        ("CACHE_RUNTIME_REDIS_URL", url),
        (
            "SSL_CERT_FILE",
            redis.ca_file().to_string_lossy().into_owned(),
        ),
        (
            "CACHE_RUNTIME_DIR",
            std::env::temp_dir()
                .join("cache-runtime-redis-tls-test")
                .to_string_lossy()
                .into_owned(),
        ),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn the_cache_tier_works_over_tls_with_an_acl_user() {
    let redis = RedisServer::start_tls();
    let env = env(&redis, redis.url());
    let env = borrowed(&env);
    let (answers, log) = run_once_logged(PROBE, &env, "redis 7, redis 7");
    assert_eq!(
        answers,
        [
            "redis 7 = shared-21 (computed)",
            "redis 7 = shared-21 (memory)"
        ],
        "{log}"
    );
    let (answers, log) = run_once_logged(PROBE, &env, "redis 7, stats-redis");
    assert_eq!(
        answers[0], "redis 7 = shared-21 (redis)",
        "shared through the TLS server: {log}"
    );
    assert!(answers[1].contains("persist_errors=0"), "{}", answers[1]);
}

#[test]
fn a_wrong_password_is_one_clear_error_and_a_local_computation() {
    let redis = RedisServer::start_tls();
    let url = redis.url().replace(TLS_USER.1, "wrong-password");
    let env = env(&redis, url);
    let env = borrowed(&env);
    let (answers, log) = run_once_logged(PROBE, &env, "redis 7, redis 8, redis 9, stats-redis");
    assert_eq!(
        answers[..3],
        [
            "redis 7 = shared-21 (computed)",
            "redis 8 = shared-24 (computed)",
            "redis 9 = shared-27 (computed)"
        ],
        "{log}"
    );
    assert!(
        !answers[3].contains("persist_errors=0"),
        "counted: {}",
        answers[3]
    );
    assert_eq!(
        log.matches("refused the credentials").count(),
        1,
        "one clear error, not one per call:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn the_session_store_works_over_tls_with_an_acl_user() {
    let redis = RedisServer::start_tls();
    let ca = std::fs::read(redis.ca_file()).unwrap();
    let client = redis::Client::build_with_tls(
        redis.url(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca),
        },
    )
    .unwrap();
    let store = state::RedisStore::new(client)
        .await
        .expect("connect over TLS with the ACL user")
        .with_idle_timeout(Duration::from_secs(60));
    let id = state::SessionId::random();
    use state::SessionStore as _;
    store
        .set(id, "visits", "3".to_owned(), 1 << 20)
        .await
        .unwrap();
    let record = store.load(id).await.unwrap().expect("stored");
    assert_eq!(record.get("visits").map(String::as_str), Some("3"));
}
