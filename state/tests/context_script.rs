//! The shipped browser script, run in Node.js against a fake DOM when `node`
//! is installed (skipped, with a note, otherwise).

use std::io::Write;
use std::process::{Command, Stdio};

use state::context::SCRIPT;

/// Runs the script (read from stdin) five times and prints one JSON line per
/// run: a first visit, a second visit, blocked cookies, and a custom cookie
/// name with reloads turned off (a first visit, then a second).
const HARNESS: &str = r#"
const src = require("fs").readFileSync(0, "utf8");
const vm = require("vm");
function run(initial, opts) {
  let jar = initial, reloads = 0, marked = null;
  const document = {
    documentElement: { setAttribute: (name, value) => { marked = name + "=" + value; } },
    currentScript: { dataset: opts.dataset || {} },
    get cookie() { return jar; },
    set cookie(v) {
      if (opts.blocked) return;
      const pair = v.split(";")[0];
      const name = pair.slice(0, pair.indexOf("="));
      const kept = jar ? jar.split("; ").filter(p => !p.startsWith(name + "=")) : [];
      kept.push(pair);
      jar = kept.join("; ");
    },
  };
  const window = {
    matchMedia: q => ({ matches: q.includes("dark") }),
    location: { protocol: "https:", reload: () => reloads++ },
  };
  vm.runInNewContext(src, { document, window, navigator: { language: "fr-FR" }, Intl, Date, isFinite, encodeURIComponent });
  return { jar, reloads, marked };
}
const first = run("other=1", {});
console.log(JSON.stringify(first));
console.log(JSON.stringify(run(first.jar, {})));
console.log(JSON.stringify(run("", { blocked: true })));
const quiet = run("", { dataset: { cookie: "ctx", reload: "false" } });
console.log(JSON.stringify(quiet));
console.log(JSON.stringify(run(quiet.jar, { dataset: { cookie: "ctx", reload: "false" } })));
"#;

#[test]
fn script_sets_the_cookie_and_reloads_once() {
    let child = Command::new("node")
        .arg("-e")
        .arg(HARNESS)
        .env("TZ", "Asia/Tokyo") // no DST: a fixed offset
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("note: `node` not found, the browser script test is skipped");
        return;
    };
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(SCRIPT.as_bytes())
        .expect("write the script");
    let output = child.wait_with_output().expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node failed: {stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let cookie = "st_ctx=tz=Asia%2FTokyo&tzo=-540&theme=dark&lang=fr-FR";
    // A first visit stores the fields next to existing cookies and reloads once.
    assert_eq!(lines[0]["jar"], format!("other=1; {cookie}"));
    assert_eq!(lines[0]["reloads"], 1);
    // The next page load finds the same value: no reload.
    assert_eq!(lines[1]["reloads"], 0);
    // Blocked cookies never cause a reload loop.
    assert_eq!(lines[2]["jar"], "");
    assert_eq!(lines[2]["reloads"], 0);
    // `data-cookie` and `data-reload="false"` are honoured.
    assert_eq!(
        lines[3]["jar"],
        "ctx=tz=Asia%2FTokyo&tzo=-540&theme=dark&lang=fr-FR"
    );
    assert_eq!(lines[3]["reloads"], 0);
    // Without the reload, the first page is marked for the page's script;
    // a page that already had the cookie is not.
    assert_eq!(lines[3]["marked"], "data-st-context=updated");
    assert_eq!(lines[4]["reloads"], 0);
    assert_eq!(lines[4]["marked"], serde_json::Value::Null);
    // Reloading pages are never marked.
    assert_eq!(lines[0]["marked"], serde_json::Value::Null);

    // And the server reads exactly what the script wrote.
    let (parts, ()) = http::Request::builder()
        .header("Cookie", format!("other=1; {cookie}"))
        .body(())
        .unwrap()
        .into_parts();
    let ctx = state::Context::from_parts(&parts, &state::ContextConfig::default());
    assert_eq!(ctx.timezone(), Some("Asia/Tokyo"));
    assert_eq!(ctx.timezone_offset(), Some(-540));
    assert_eq!(ctx.locale(), Some("fr-FR"));
}
