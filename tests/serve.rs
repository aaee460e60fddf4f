//! `callsim serve`: every endpoint through the router (`tower::ServiceExt::oneshot`), the
//! safety limits (path traversal, symlinks out, files named by a scenario, oversize bodies,
//! busy server, unknown scenario, bad values with the CLI's message), the event stream, the
//! cache, cancellation of a superseded run, a load test of 50 concurrent requests on a
//! loopback port and a graceful stop. No timing assertions: every wait is for an event.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use callsim::serve::{router, AppState, Config, Shared};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// Makes the slow scenario slower still: runs that must be going when the test acts.
const SLOWER: &str = "sources.callers.rate_scale=5";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scenario folder: the small CLI fixture, and a slow one (hours of arrivals) for runs that
/// must still be going when the test acts.
fn folder() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let small = std::fs::read_to_string(root().join("tests/fixtures/cli-small.toml")).unwrap();
    std::fs::write(dir.path().join("small.toml"), &small).unwrap();
    let slow = small
        .replace("end = \"09:10\"", "end = \"23:00\"")
        .replace("name = \"cli-small\"", "name = \"slow\"");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/slow.toml"), slow).unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "start = \"09:00\"\nend = 5\n",
    )
    .unwrap();
    dir
}

fn state(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Shared {
    let mut cfg = Config::new(dir.to_path_buf()).unwrap();
    cfg.threads = 2;
    tweak(&mut cfg);
    AppState::new(cfg)
}

async fn call(st: &Shared, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = router(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

async fn get(st: &Shared, uri: &str) -> (StatusCode, String) {
    let (s, _, b) = call(st, Request::get(uri).body(Body::empty()).unwrap()).await;
    (s, b)
}

fn post_req(body: &Value) -> Request<Body> {
    Request::post("/api/run")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn post(st: &Shared, body: &Value) -> (StatusCode, axum::http::HeaderMap, String) {
    call(st, post_req(body)).await
}

fn error_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["error"].as_str().unwrap_or_default().to_string()
}

/// The `data:` of the last event named `name` in an event-stream body.
fn last_event(body: &str, name: &str) -> Option<Value> {
    body.split("\n\n")
        .filter(|chunk| chunk.lines().any(|l| l == format!("event: {name}")))
        .filter_map(|chunk| chunk.lines().find_map(|l| l.strip_prefix("data: ")))
        .filter_map(|d| serde_json::from_str(d).ok())
        .last()
}

#[tokio::test]
async fn the_page_lists_and_describes_scenarios() {
    let dir = folder();
    let st = state(dir.path(), |_| {});
    let (s, page) = get(&st, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("callsim what-if") && page.contains("Copy as command"));
    // Works offline: no script or style from elsewhere.
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "the page loads something from the network"
    );

    let (s, list) = get(&st, "/api/scenarios").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_str(&list).unwrap();
    let files: Vec<&str> = v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["broken.toml", "small.toml", "sub/slow.toml"]);
    assert_eq!(v["scenarios"][1]["variants"], json!(["base", "faster"]));
    assert!(v["scenarios"][0]["error"]
        .as_str()
        .unwrap()
        .contains("broken.toml:2: key `end`"));

    let (s, lv) = get(&st, "/api/levers?file=small.toml&variant=faster").await;
    assert_eq!(s, StatusCode::OK, "{lv}");
    let v: Value = serde_json::from_str(&lv).unwrap();
    let keys: Vec<&str> = v["levers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "carriers.main.rate",
            "carriers.main.burst",
            "sources.callers.patience.mean",
            "sources.callers.rate_scale",
            "backup.policy"
        ]
    );
    // The variant's value, and the registry's words and meanings.
    assert_eq!(v["levers"][0]["value"], json!(4.0));
    assert_eq!(v["levers"][4]["choices"], json!(["off", "manual", "auto"]));
    assert!(!v["levers"][0]["meaning"].as_str().unwrap().is_empty());

    let (s, schema) = get(&st, "/api/schema").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&schema).unwrap(),
        callsim::scenario::schema::json_schema()
    );
    let (s, status) = get(&st, "/api/status").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&status).unwrap()["running"],
        json!(0)
    );
    let (s, body) = get(&st, "/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body), "no such page");
}

#[tokio::test]
async fn names_outside_the_folder_are_refused() {
    let dir = folder();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.toml"), "name = \"secret\"").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        outside.path().join("secret.toml"),
        dir.path().join("link.toml"),
    )
    .unwrap();
    let st = state(dir.path(), |_| {});
    for (uri, want) in [
        ("/api/levers?file=../Cargo.toml", StatusCode::BAD_REQUEST),
        (
            "/api/levers?file=..%2F..%2Fetc%2Fpasswd.toml",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/levers?file=%2Fetc%2Fpasswd.toml",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/levers?file=sub%2F..%2Fsmall.toml",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/levers?file=small.txt", StatusCode::BAD_REQUEST),
        ("/api/levers?file=link.toml", StatusCode::NOT_FOUND),
        ("/api/levers?file=nope.toml", StatusCode::NOT_FOUND),
        ("/api/levers", StatusCode::BAD_REQUEST),
    ] {
        let (s, body) = get(&st, uri).await;
        assert_eq!(s, want, "{uri}: {body}");
        assert!(!body.contains("secret"), "{uri} leaked the file: {body}");
    }
    let (s, list) = get(&st, "/api/scenarios").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !list.contains("link.toml"),
        "a symlink out of the folder is listed: {list}"
    );
    for file in [
        "../Cargo.toml",
        "/etc/passwd.toml",
        "link.toml",
        "unknown.toml",
    ] {
        let (s, _, body) = post(&st, &json!({"file": file})).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND,
            "{file}: {s} {body}"
        );
    }
    // A trace named by a --set must lie under the folder too.
    let (s, _, body) = post(
        &st,
        &json!({"file": "small.toml", "sets": ["sources.callers.trace.file=/etc/passwd"]}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        error_of(&body).contains("outside the scenario folder"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let dir = folder();
    let st = state(dir.path(), |c| c.max_body = 1024);
    // Oversize body: refused before it is read whole.
    let big = json!({"file": "small.toml", "sets": vec!["x=1".repeat(50); 20]});
    let (s, _, _) = post(&st, &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, _, body) = call(
        &st,
        Request::post("/api/run")
            .header("content-type", "application/json")
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, _, _) = post(&st, &json!({"file": "small.toml", "bogus": 1})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for reps in [0, 65] {
        let (s, _, body) = post(&st, &json!({"file": "small.toml", "replications": reps})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            error_of(&body).contains("replications must be between 1 and 64"),
            "{body}"
        );
    }
    let (s, _, body) = post(&st, &json!({"file": "small.toml", "variant": "nope"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        error_of(&body).contains("no variant named `nope`"),
        "{body}"
    );
    // Over the budget: refused before it runs.
    let (s, _, body) = post(
        &st,
        &json!({"file": "small.toml", "sets": ["sources.callers.rate_scale=100000"]}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("over the budget"), "{body}");
}

#[tokio::test]
async fn bad_values_show_the_cli_message() {
    let dir = folder();
    let st = state(dir.path(), |_| {});
    let file = dir.path().join("small.toml");
    for set in [
        "carriers.main.rate=30",
        "carriers.main.burstt=3",
        "backup.policy=sometimes",
        "sources.callers.patience.mean=-4s",
    ] {
        let (s, _, body) = post(&st, &json!({"file": "small.toml", "sets": [set]})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{set}: {body}");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_callsim"))
            .args(["check", file.to_str().unwrap(), "--set", set])
            .output()
            .unwrap();
        let cli = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(format!("error: {}\n", error_of(&body)), cli, "{set}");
    }
}

#[tokio::test]
async fn a_run_streams_partial_charts_then_is_cached() {
    let dir = folder();
    let st = state(dir.path(), |_| {});
    let req = json!({"file": "small.toml", "variant": "faster", "sets": ["carriers.main.burst=3"], "seed": 11, "replications": 4});
    let (s, h, body) = post(&st, &req).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(h["content-type"], "text/event-stream");
    let done = last_event(&body, "done").unwrap_or_else(|| panic!("no done event: {body}"));
    assert_eq!(done["complete"], json!(true));
    assert_eq!(done["replications_done"], json!(4));
    let file = dir.path().join("small.toml");
    let want = format!(
        "callsim run {} --variant faster --set carriers.main.burst=3 --seed 11 -n 4",
        file.display()
    );
    assert_eq!(done["command"], json!(want));
    let charts = done["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 3);
    for c in charts {
        assert!(c["svg"].as_str().unwrap().starts_with("<svg"), "{c}");
        assert!(c["points"].as_u64().unwrap() > 3);
    }
    let partial = last_event(&body, "partial").expect("partial results before the end");
    assert_eq!(partial["complete"], json!(false));
    assert!(partial["replications_done"].as_u64().unwrap() < 4);

    // The same request again: served from the cache, no new run.
    let (s, _, again) = post(&st, &req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(last_event(&again, "done").unwrap(), done);
    let status: Value = serde_json::from_str(&get(&st, "/api/status").await.1).unwrap();
    assert_eq!(
        (
            status["runs_started"].as_u64(),
            status["cache_hits"].as_u64()
        ),
        (Some(1), Some(1))
    );
    // Another seed is another run, with other numbers.
    let (_, _, other) = post(&st, &json!({"file": "small.toml", "variant": "faster", "sets": ["carriers.main.burst=3"], "seed": 12, "replications": 4})).await;
    assert_ne!(
        last_event(&other, "done").unwrap()["charts"],
        done["charts"]
    );
}

#[tokio::test]
async fn a_newer_run_of_the_same_page_cancels_the_older_and_busy_means_503() {
    let dir = folder();
    let st = state(dir.path(), |c| {
        c.max_running = 1;
        c.max_queued = 1;
    });
    let slow =
        json!({"file": "sub/slow.toml", "replications": 64, "client": "page-1", "sets": [SLOWER]});
    let first = router(st.clone()).oneshot(post_req(&slow)).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // One running (or about to), one more may wait, the third is refused.
    let waiting = router(st.clone())
        .oneshot(post_req(
            &json!({"file": "sub/slow.toml", "seed": 5, "replications": 64, "sets": [SLOWER]}),
        ))
        .await
        .unwrap();
    assert_eq!(waiting.status(), StatusCode::OK);
    let (s, h, body) = post(&st, &json!({"file": "small.toml", "seed": 99})).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(h["retry-after"], "2");
    assert!(error_of(&body).contains("busy"));
    // Closing the waiting request's stream gives its place back.
    drop(waiting);
    // The same page asks again: the first run is cancelled and says so. (The waiting request's
    // place comes back once its task sees the closed stream: ask until admitted.)
    let second = loop {
        let r = router(st.clone())
            .oneshot(post_req(
                &json!({"file": "small.toml", "client": "page-1", "replications": 2}),
            ))
            .await
            .unwrap();
        if r.status() != StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(second.status(), StatusCode::OK);
    let first_body = axum::body::to_bytes(first.into_body(), 64 << 20)
        .await
        .unwrap();
    let first_body = String::from_utf8_lossy(&first_body);
    let err =
        last_event(&first_body, "error").unwrap_or_else(|| panic!("no error event: {first_body}"));
    assert!(
        err["error"].as_str().unwrap().contains("cancelled"),
        "{err}"
    );
    assert!(last_event(&first_body, "done").is_none());
    let second_body = axum::body::to_bytes(second.into_body(), 64 << 20)
        .await
        .unwrap();
    assert!(last_event(&String::from_utf8_lossy(&second_body), "done").is_some());
    // Once shutting down, new runs are refused.
    st.shutdown.store(true, std::sync::atomic::Ordering::SeqCst);
    let (s, _, _) = post(&st, &json!({"file": "small.toml", "seed": 3})).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
}

/// One HTTP/1.1 request over a fresh loopback connection; (status, body).
async fn http(addr: std::net::SocketAddr, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /api/run HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_on_loopback_are_answered_or_refused() {
    let dir = folder();
    let st = state(dir.path(), |c| {
        c.max_running = 2;
        c.max_queued = 4;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(callsim::serve::run_until(listener, st.clone(), async {
        let _ = stop_rx.await;
    }));
    let rss_before = peak_rss_kb();
    let mut tasks = Vec::new();
    for i in 0..50 {
        // Every request differs (no cache), a few ask for a bad value.
        let body = if i % 10 == 9 {
            json!({"file": "small.toml", "sets": ["carriers.main.rate=0/s"]})
        } else {
            json!({"file": "small.toml", "seed": 1000 + i, "replications": 4})
        };
        let body = body.to_string();
        tasks.push(tokio::spawn(async move { http(addr, &body).await }));
    }
    let (mut ok, mut busy, mut bad) = (0, 0, 0);
    for t in tasks {
        let (code, text) = t.await.unwrap();
        match code {
            200 => {
                assert!(
                    text.contains("event: done"),
                    "a 200 without a result: {text}"
                );
                ok += 1;
            }
            503 => {
                assert!(
                    text.to_ascii_lowercase().contains("retry-after: 2"),
                    "{text}"
                );
                busy += 1;
            }
            400 => bad += 1,
            other => panic!("unexpected answer {other}: {text}"),
        }
    }
    assert_eq!(ok + busy + bad, 50);
    assert!(ok >= 1, "no request was served ({busy} busy, {bad} bad)");
    let status: Value = {
        let (s, b) = get(&st, "/api/status").await;
        assert_eq!(s, StatusCode::OK);
        serde_json::from_str(&b).unwrap()
    };
    assert_eq!(status["admitted"], json!(0), "admissions leaked: {status}");
    assert!(status["runs_started"].as_u64().unwrap() <= 45);
    // Memory bounded: the 50 requests do not add more than 200 MB to the peak.
    let grown_mb = peak_rss_kb().saturating_sub(rss_before) / 1024;
    assert!(grown_mb < 200, "peak memory grew by {grown_mb} MB");
    eprintln!("load test: {ok} served, {busy} refused with 503, {bad} bad values; peak RSS grew {grown_mb} MB");
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_cancels_runs_and_the_server_returns() {
    let dir = folder();
    let st = state(dir.path(), |_| {});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(callsim::serve::run_until(listener, st.clone(), async {
        let _ = stop_rx.await;
    }));
    let slow = json!({"file": "sub/slow.toml", "replications": 64, "sets": [SLOWER]}).to_string();
    let client = tokio::spawn(async move { http(addr, &slow).await });
    // Wait until the run is going, then stop.
    loop {
        let (_, b) = get(&st, "/api/status").await;
        if serde_json::from_str::<Value>(&b).unwrap()["running"] == json!(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    let (code, text) = client.await.unwrap();
    assert_eq!(code, 200);
    assert!(
        text.contains("event: error") && text.contains("cancelled"),
        "{text}"
    );
}

/// A source with a backup policy of its own gets its own control, and moving it changes the
/// run: one customer's backup routing, switched off, leaves more callers abandoning.
#[tokio::test]
async fn a_source_with_its_own_backup_policy_gets_a_control() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("two.toml"),
        "start = \"09:00\"\nend = \"09:30\"\ndrain = \"30m\"\ntimeline_interval = \"1m\"\n\
         [carriers.main]\nrate = \"2/s\"\nburst = 2\n\
         [sources.groups]\nrate = \"0.9/s\"\npatience = { dist = \"exponential\", mean = \"20s\" }\n\
         flow = { legs = 3, destinations = [ { time_to_answer = \"5s\" } ] }\n\
         [sources.single]\nrate = \"0.3/s\"\npatience = { dist = \"exponential\", mean = \"20s\" }\n\
         [backup.sources.groups]\npolicy = \"manual\"\nwindows = [[\"09:05\", \"09:30\"]]\n",
    )
    .unwrap();
    let st = state(dir.path(), |_| {});
    let (s, lv) = get(&st, "/api/levers?file=two.toml").await;
    assert_eq!(s, StatusCode::OK, "{lv}");
    let v: Value = serde_json::from_str(&lv).unwrap();
    let lever = v["levers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == json!("backup.sources.groups.policy"))
        .unwrap_or_else(|| panic!("no per-source backup control: {lv}"))
        .clone();
    assert_eq!(lever["value"], json!("manual"));
    assert_eq!(lever["choices"], json!(["off", "manual", "auto"]));
    assert!(!lever["meaning"].as_str().unwrap().is_empty());
    // Only the source with a table of its own has one.
    assert!(!lv.contains("backup.sources.single"), "{lv}");
    let abandon = |sets: Value| {
        let st = st.clone();
        async move {
            let req = json!({"file": "two.toml", "sets": sets, "seed": 3, "replications": 4});
            let (s, _, body) = post(&st, &req).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            let done = last_event(&body, "done").unwrap_or_else(|| panic!("no done: {body}"));
            done["summary"]["abandon_ratio"]["mean"].as_f64().unwrap()
        }
    };
    let on = abandon(json!([])).await;
    let off = abandon(json!(["backup.sources.groups.policy=off"])).await;
    assert!(
        off > on + 0.05,
        "abandon ratio with the source's backup {on}, without {off}"
    );
}
