//! Two dashboard processes on one Redis (`--redis`): they share sessions and
//! cached query results, and a clear in one clears the other.
//!
//! Each instance must be its own process (the in-memory cache is
//! process-wide), so the test runs this test binary twice more as children:
//! the ignored test `child_instance` serves the dashboard when
//! `DASHBOARD_CHILD=1` is set.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use examples::dashboard::{Config, serve};
use test_support::{RedisServer, free_port};

/// A child dashboard process, killed when dropped.
struct Instance {
    child: Child,
    port: u16,
}

impl Instance {
    fn start(redis: &str, cache_dir: &Path) -> Self {
        let port = free_port();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "child_instance",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DASHBOARD_CHILD", "1")
            .env("DASHBOARD_ADDR", format!("127.0.0.1:{port}"))
            .env("DASHBOARD_REDIS_URL", redis)
            .env("DASHBOARD_DB", root.join(".cache").join("dashboard.sqlite"))
            .env("DASHBOARD_CACHE_DIR", cache_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a dashboard instance");
        let mut instance = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(90);
        while get(instance.port, "/healthz", None).is_err() {
            assert!(
                instance.child.try_wait().ok().flatten().is_none(),
                "a dashboard instance exited while starting"
            );
            assert!(
                Instant::now() < deadline,
                "a dashboard instance did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        instance
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    cookie: Option<String>,
    body: String,
}

/// A minimal HTTP/1.1 exchange (`Connection: close`), enough for these pages.
fn request(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &str,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        ));
    }
    stream.write_all(format!("{head}\r\n{form}").as_bytes())?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cookie = headers
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap_or_default().to_owned())
        .find(|c| c.starts_with("session="));
    Ok(Response {
        status,
        cookie,
        body: body.to_owned(),
    })
}

fn get(port: u16, path: &str, cookie: Option<&str>) -> std::io::Result<Response> {
    request(port, "GET", path, cookie, "")
}

/// `data-cache` and `data-tier` of the load status line.
fn outcome(body: &str) -> (String, String) {
    let attr = |name: &str| {
        let key = format!("{name}=\"");
        let at = body.find(&key).map(|i| i + key.len());
        at.map(|i| body[i..].split('"').next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    (attr("data-cache"), attr("data-tier"))
}

fn visits(body: &str) -> Option<u64> {
    let rest = &body[body.find(r#"id="visits">"#)? + r#"id="visits">"#.len()..];
    rest.split('<').next()?.parse().ok()
}

#[test]
fn two_instances_share_sessions_and_cache() {
    let redis = RedisServer::start();
    let cache_dir =
        std::env::temp_dir().join(format!("dashboard-redis-cache-{}", std::process::id()));
    let (a, b) = (
        Instance::start(&redis.url(), &cache_dir),
        Instance::start(&redis.url(), &cache_dir),
    );
    let view = "/?region=middle-east&region=oceania&from=2023-03-01&to=2023-09-30&metric=profit";

    // A computes the view; B gets it from Redis, in the same session.
    let first = get(a.port, view, None).unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(outcome(&first.body).0, "miss");
    let cookie = first.cookie.expect("a session cookie");
    let second = get(b.port, view, Some(&cookie)).unwrap();
    assert_eq!(
        outcome(&second.body),
        ("hit".to_owned(), "redis".to_owned()),
        "the second instance should read the first one's result from Redis"
    );
    assert_eq!(
        visits(&second.body),
        Some(2),
        "the session should be shared"
    );

    // Notes written through B are read through A.
    let marker = r#"name="csrf" value=""#;
    let at = first.body.find(marker).expect("a CSRF token") + marker.len();
    let token = &first.body[at..at + first.body[at..].find('"').unwrap()];
    let back = format!(
        "back={}&csrf={token}",
        view.replace('?', "%3F").replace('&', "%26")
    );
    let saved = request(
        b.port,
        "POST",
        "/notes",
        Some(&cookie),
        &format!("notes=shared+note&{back}"),
    )
    .unwrap();
    assert_eq!(saved.status, 303);
    assert!(
        get(a.port, view, Some(&cookie))
            .unwrap()
            .body
            .contains("shared note</textarea>")
    );

    // "Clear all caches" on A: B's next load of the view is a miss.
    let cleared = request(a.port, "POST", "/cache/clear-all", Some(&cookie), &back).unwrap();
    assert_eq!(cleared.status, 303);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = get(b.port, view, Some(&cookie)).unwrap();
        if outcome(&page.body).0 == "miss" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B kept serving the cleared view from its cache: {:?}",
            outcome(&page.body)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    drop((a, b));
    let _ = std::fs::remove_dir_all(PathBuf::from(&cache_dir));
}

/// Serves the dashboard from the `DASHBOARD_*` environment when run as a
/// child of [`two_instances_share_sessions_and_cache`]; otherwise does nothing.
#[test]
#[ignore = "a child process of two_instances_share_sessions_and_cache"]
fn child_instance() {
    if std::env::var_os("DASHBOARD_CHILD").is_none() {
        return;
    }
    let config = Config::parse(Vec::new(), |k| std::env::var(k).ok()).expect("configuration");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.addr)
            .await
            .expect("bind");
        serve(config, listener).await.expect("serve");
    });
}
