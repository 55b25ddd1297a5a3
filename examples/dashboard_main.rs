//! The sales dashboard: `cargo run --example dashboard`, then open
//! <http://127.0.0.1:8501/>.
//!
//! Flags (or environment variables): `--addr` (`DASHBOARD_ADDR`, default
//! `127.0.0.1:8501`), `--db` (`DASHBOARD_DB`, default
//! `.cache/dashboard.sqlite`), `--cache-dir` (`DASHBOARD_CACHE_DIR`, default
//! `.cache/dashboard-cache`), `--redis URL` (`DASHBOARD_REDIS_URL`) to share
//! sessions and cached results between several instances, `--admin-token`
//! (`DASHBOARD_ADMIN_TOKEN`) for "Clear all caches"; `--help` lists them.

use examples::dashboard::Config;
use examples::dashboard::app::{prepare, serve_router};

#[tokio::main]
async fn main() {
    // `--help` prints on stdout and exits with 0; a bad flag, on stderr with 2.
    let config = Config::parse(std::env::args().skip(1), |k| std::env::var(k).ok())
        .unwrap_or_else(|error| error.exit());
    // Colours for a terminal only: plain log lines into a file or a pipe.
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_max_level(tracing::Level::INFO)
        .init();
    let listener = match tokio::net::TcpListener::bind(&config.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "cannot listen on {}: {e} (use --addr HOST:PORT)",
                config.addr
            );
            std::process::exit(1);
        }
    };
    let app = match prepare(&config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("dashboard cannot start: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .map_or(config.addr.clone(), |a| a.to_string());
    println!("\n  Sales dashboard: http://{addr}/\n");
    if config.redis_url.is_some() {
        println!("  sessions and cached results are shared through Redis\n");
    }
    if let Err(e) = serve_router(app, listener).await {
        eprintln!("dashboard stopped: {e}");
        std::process::exit(1);
    }
}
