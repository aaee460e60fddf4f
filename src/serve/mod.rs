//! `callsim serve`: a live what-if dashboard over the scenarios of one folder, on tokio + axum.
//! The simulation stays synchronous: every run goes to blocking threads (`spawn_blocking`, then
//! a rayon pool per run), never onto the async runtime, which only moves bytes.
//!
//! Endpoints: `GET /` (the page, self-contained: plain JS, no CDN), `GET /api/scenarios`,
//! `GET /api/levers?file=&variant=`, `GET /api/schema`, `GET /api/status`, and
//! `POST /api/run` (JSON body) answering with server-sent events: `progress`, `partial` (charts
//! of the replications done so far), then `done` or `error`.
//!
//! Safe by default: loopback unless `--bind` says otherwise; only `.toml` files under the folder
//! (no `..`, symlinks out refused, named trace files checked too); request bodies of at most
//! `max_body` bytes; at most `max_running` runs at once and `max_queued` waiting, then 503 with
//! Retry-After; every run within the resource budget (`budget.rs`); a new run of the same page
//! cancels its previous one, and so does a closed connection; results are cached in memory by
//! (scenario hash, variant, sets, seed, replications). The server writes no file.

pub mod files;
pub mod levers;
pub mod sim;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sim::{Msg, Prepared, RunRequest};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tokio_stream::StreamExt;

/// Settings of a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// The folder as the user named it (shown in commands and errors).
    pub dir: PathBuf,
    /// Its canonical path: every file read must lie under it.
    pub root: PathBuf,
    /// Simulations running at once.
    pub max_running: usize,
    /// Simulations waiting for a slot; more are refused with 503.
    pub max_queued: usize,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Most replications one request may ask for.
    pub max_replications: u32,
    /// Most events one replication may take.
    pub max_events: f64,
    /// Worker threads of one run.
    pub threads: usize,
    /// Results kept in the cache.
    pub cache_entries: usize,
    /// Replications when the request does not say (the scenario's own count is not used: the
    /// dashboard wants an answer in about a second).
    pub default_replications: u32,
}

impl Config {
    /// Defaults for folder `dir` (which must exist).
    pub fn new(dir: PathBuf) -> Result<Config, String> {
        let root = dir
            .canonicalize()
            .map_err(|e| format!("cannot open the scenario folder {}: {e}", dir.display()))?;
        if !root.is_dir() {
            return Err(format!("{} is not a folder", dir.display()));
        }
        let cores = std::thread::available_parallelism().map_or(1, |p| p.get());
        Ok(Config {
            dir,
            root,
            max_running: 2,
            max_queued: 4,
            max_body: 16 * 1024,
            max_replications: 64,
            max_events: 2.0e8,
            threads: cores,
            cache_entries: 64,
            default_replications: 8,
        })
    }
}

/// A bounded cache, oldest entry out first.
#[derive(Default)]
struct Cache {
    map: HashMap<String, Arc<Value>>,
    order: VecDeque<String>,
}

/// The server's shared state.
pub struct AppState {
    cfg: Config,
    slots: Arc<Semaphore>,
    /// Runs admitted (running or waiting for a slot).
    admitted: AtomicUsize,
    running: AtomicUsize,
    cache: Mutex<Cache>,
    /// The cancel flag of each page's current run.
    clients: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Set on SIGINT/SIGTERM: every run stops.
    pub shutdown: Arc<AtomicBool>,
    runs_started: AtomicU64,
    cache_hits: AtomicU64,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(cfg: Config) -> Shared {
        Arc::new(AppState {
            slots: Arc::new(Semaphore::new(cfg.max_running.max(1))),
            cfg,
            admitted: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            cache: Mutex::new(Cache::default()),
            clients: Mutex::new(HashMap::new()),
            shutdown: Arc::new(AtomicBool::new(false)),
            runs_started: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        })
    }
}

/// The routes, over `state`.
pub fn router(state: Shared) -> Router {
    let limit = state.cfg.max_body;
    Router::new()
        .route("/", get(index))
        .route("/api/scenarios", get(scenarios))
        .route("/api/levers", get(levers_of))
        .route("/api/schema", get(schema))
        .route("/api/status", get(status))
        .route("/api/run", post(run))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page".into()) })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn index() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:"),
    );
    r
}

const PAGE: &str = include_str!("page.html");

async fn schema() -> Json<Value> {
    Json(crate::scenario::schema::json_schema())
}

async fn status(State(st): State<Shared>) -> Json<Value> {
    let cache = st.cache.lock().expect("lock").map.len();
    Json(json!({
        "running": st.running.load(Ordering::SeqCst),
        "admitted": st.admitted.load(Ordering::SeqCst),
        "max_running": st.cfg.max_running,
        "max_queued": st.cfg.max_queued,
        "cache_entries": cache,
        "runs_started": st.runs_started.load(Ordering::SeqCst),
        "cache_hits": st.cache_hits.load(Ordering::SeqCst),
    }))
}

/// The folder's scenarios with their names and variants (a file that does not load is listed
/// with its error).
async fn scenarios(State(st): State<Shared>) -> Response {
    let st2 = st.clone();
    let list = tokio::task::spawn_blocking(move || {
        files::list(&st2.cfg.root)
            .into_iter()
            .map(|f| match load(&st2.cfg, &f, None, &[]) {
                Ok((sc, _)) => json!({"file": f, "name": sc.name, "description": sc.description, "variants": sc.variants}),
                Err((_, e)) => json!({"file": f, "error": e}),
            })
            .collect::<Vec<_>>()
    })
    .await;
    match list {
        Ok(l) => {
            Json(json!({ "dir": st.cfg.dir.display().to_string(), "scenarios": l })).into_response()
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("listing failed: {e}"),
        ),
    }
}

#[derive(serde::Deserialize)]
struct LeverQuery {
    file: String,
    variant: Option<String>,
}

async fn levers_of(
    State(st): State<Shared>,
    q: Result<Query<LeverQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected ?file=NAME.toml[&variant=V]".into(),
        );
    };
    let variant = q.variant.filter(|v| !v.is_empty());
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || {
        load_text(&st2.cfg, &q.file, variant.as_deref(), &[]).map(|(sc, display, text)| {
            json!({"file": q.file, "name": sc.name, "description": sc.description,
                   "variants": sc.variants, "variant": variant, "path": display,
                   "default_replications": st2.cfg.default_replications,
                   "max_replications": st2.cfg.max_replications,
                   "seed": sc.seed, "levers": levers::levers(&sc, &text, variant.as_deref())})
        })
    })
    .await;
    match r {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err((s, e))) => error(s, e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("loading failed: {e}"),
        ),
    }
}

/// Reads and validates scenario `file` (a name under the folder) with `variant` and `sets`,
/// as `callsim run DIR/file --variant .. --set ..` would. Returns it and its displayed path.
fn load(
    cfg: &Config,
    file: &str,
    variant: Option<&str>,
    sets: &[String],
) -> Result<(crate::scenario::Scenario, String), (StatusCode, String)> {
    let (sc, display, _) = load_text(cfg, file, variant, sets)?;
    Ok((sc, display))
}

fn load_text(
    cfg: &Config,
    file: &str,
    variant: Option<&str>,
    sets: &[String],
) -> Result<(crate::scenario::Scenario, String, String), (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let real = files::resolve(&cfg.root, file).map_err(|r| match r {
        files::Refused::Bad(m) => bad(m),
        files::Refused::NotFound(m) => (StatusCode::NOT_FOUND, m),
    })?;
    let size = std::fs::metadata(&real).map(|m| m.len()).unwrap_or(0);
    if size > files::MAX_FILE_BYTES {
        return Err(bad(format!(
            "{file} is larger than {} bytes",
            files::MAX_FILE_BYTES
        )));
    }
    let text = std::fs::read_to_string(&real)
        .map_err(|e| (StatusCode::NOT_FOUND, format!("cannot read {file}: {e}")))?;
    // Files the scenario names (traces, empirical distributions), in the file or in a --set,
    // must lie under the folder too.
    let mut named = Vec::new();
    if let Ok(doc) = toml::from_str::<toml::Table>(&text) {
        files::named_files(&toml::Value::Table(doc), &mut named);
    }
    for s in sets {
        if let Ok((_, t)) = crate::scenario::parse_set(s) {
            files::named_files(&toml::Value::Table(t), &mut named);
        }
        if s.split('=')
            .next()
            .is_some_and(|k| k.trim().ends_with("file"))
        {
            let v = s
                .split_once('=')
                .map(|x| x.1.trim().trim_matches('"'))
                .unwrap_or("");
            named.push(v.to_string());
        }
    }
    let dir = real.parent().map(PathBuf::from).unwrap_or_default();
    for f in &named {
        files::inside(&cfg.root, &dir, f).map_err(bad)?;
    }
    let display = cfg.dir.join(file).display().to_string();
    let sc = crate::scenario::load_str(std::path::Path::new(&display), &text, variant, sets)
        .map_err(|e| bad(e.to_string()))?;
    Ok((sc, display, text))
}

/// Loads, checks the budget and builds the cache key of a run request.
fn prepare(cfg: &Config, req: &RunRequest) -> Result<Prepared, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    if req.sets.len() > 64 {
        return Err(bad("at most 64 --set values per run".into()));
    }
    let reps = req.replications.unwrap_or(cfg.default_replications);
    if reps == 0 || reps > cfg.max_replications {
        return Err(bad(format!(
            "replications must be between 1 and {} (the server's --max-replications), found {reps}",
            cfg.max_replications
        )));
    }
    let variant = req.variant.as_deref().filter(|v| !v.is_empty());
    let (mut sc, display, text) = load_text(cfg, &req.file, variant, &req.sets)?;
    let seed = req.seed.unwrap_or(sc.seed);
    let budget = sim::budget(cfg.threads, cfg.max_running);
    let budget = crate::budget::Budget {
        max_events: cfg.max_events,
        ..budget
    };
    crate::budget::check_budget(&sc.model, &budget).map_err(|m| bad(format!("{display}: {m}")))?;
    sc.limits = budget.limits();
    let hash = format!("{:x}", Sha256::digest(text.as_bytes()));
    let cache_key =
        serde_json::to_string(&json!([hash, variant, req.sets, seed, reps])).unwrap_or_default();
    let norm = RunRequest {
        variant: variant.map(str::to_string),
        ..req.clone()
    };
    Ok(Prepared {
        command: sim::command_line(&display, &norm, seed, reps),
        sc,
        seed,
        replications: reps,
        cache_key,
    })
}

/// Keeps the admission count right however the run ends.
struct Admitted(Shared);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

fn sse_event(msg: Msg) -> Result<Event, std::convert::Infallible> {
    Ok(match msg {
        Msg::Progress(f) => Event::default()
            .event("progress")
            .data(format!("{{\"done\":{f:.3}}}")),
        Msg::Partial(v) => Event::default().event("partial").data(v.to_string()),
        Msg::Done(v) => Event::default().event("done").data(v.to_string()),
        Msg::Error(e) => Event::default()
            .event("error")
            .data(json!({"error": e}).to_string()),
    })
}

async fn run(State(st): State<Shared>, body: Result<Json<RunRequest>, JsonRejection>) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(rej) => return error(rej.status(), rej.body_text()),
    };
    if st.shutdown.load(Ordering::SeqCst) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down".into(),
        );
    }
    // Admission: running + waiting at most max_running + max_queued.
    let cap = st.cfg.max_running + st.cfg.max_queued;
    if st.admitted.fetch_add(1, Ordering::SeqCst) >= cap {
        st.admitted.fetch_sub(1, Ordering::SeqCst);
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "busy: {} runs at once and {} waiting; try again shortly",
                st.cfg.max_running, st.cfg.max_queued
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        return r;
    }
    let admitted = Admitted(st.clone());
    let cfg = st.cfg.clone();
    let req2 = req.clone();
    let prep = match tokio::task::spawn_blocking(move || prepare(&cfg, &req2)).await {
        Ok(Ok(p)) => p,
        Ok(Err((s, m))) => return error(s, m),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("loading failed: {e}"),
            )
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    if let Some(c) = req
        .client
        .as_ref()
        .filter(|c| !c.is_empty() && c.len() <= 64)
    {
        let mut clients = st.clients.lock().expect("lock");
        if let Some(old) = clients.insert(c.clone(), cancel.clone()) {
            old.store(true, Ordering::SeqCst);
        }
        if clients.len() > 1000 {
            clients.retain(|_, f| Arc::strong_count(f) > 1);
        }
    }
    let cached = st
        .cache
        .lock()
        .expect("lock")
        .map
        .get(&prep.cache_key)
        .cloned();
    let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(64);
    if let Some(v) = cached {
        st.cache_hits.fetch_add(1, Ordering::SeqCst);
        let _ = tx.try_send(Msg::Done(v));
        drop(admitted);
    } else {
        tokio::spawn(drive(st.clone(), prep, cancel, tx, admitted));
    }
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(sse_event);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Waits for a slot, runs on blocking threads, caches and reports the result.
async fn drive(
    st: Shared,
    prep: Prepared,
    cancel: Arc<AtomicBool>,
    tx: tokio::sync::mpsc::Sender<Msg>,
    admitted: Admitted,
) {
    let permit = tokio::select! {
        p = st.slots.clone().acquire_owned() => p,
        _ = tx.closed() => return,
    };
    let Ok(permit) = permit else { return };
    if cancel.load(Ordering::SeqCst) || st.shutdown.load(Ordering::SeqCst) {
        let _ = tx
            .send(Msg::Error(
                "cancelled: a newer run of this page replaced it".into(),
            ))
            .await;
        return;
    }
    st.runs_started.fetch_add(1, Ordering::SeqCst);
    st.running.fetch_add(1, Ordering::SeqCst);
    let st2 = st.clone();
    let tx2 = tx.clone();
    let cancel2 = cancel.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let stop = || cancel2.load(Ordering::SeqCst) || st2.shutdown.load(Ordering::SeqCst);
        let r = sim::run(&prep, st2.cfg.threads, &stop, &tx2);
        (r, prep.cache_key)
    })
    .await;
    st.running.fetch_sub(1, Ordering::SeqCst);
    drop(permit);
    drop(admitted);
    let msg = match joined {
        Ok((Ok(Some(v)), key)) => {
            let v = Arc::new(v);
            let mut c = st.cache.lock().expect("lock");
            if c.map.insert(key.clone(), v.clone()).is_none() {
                c.order.push_back(key);
            }
            while c.order.len() > st.cfg.cache_entries {
                if let Some(old) = c.order.pop_front() {
                    c.map.remove(&old);
                }
            }
            Msg::Done(v)
        }
        Ok((Ok(None), _)) => Msg::Error("cancelled: a newer run of this page replaced it".into()),
        Ok((Err(e), _)) => Msg::Error(e),
        Err(e) => Msg::Error(format!("the run failed: {e}")),
    };
    let _ = tx.send(msg).await;
}

/// Binds `addr`, says where, and serves until SIGINT/SIGTERM; then stops every run, lets open
/// responses finish (at most 10 s) and returns.
pub async fn serve(cfg: Config, addr: std::net::SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scope = if local.ip().is_loopback() {
        "loopback only: other machines cannot connect (use --bind 0.0.0.0:PORT to allow them)"
    } else {
        "reachable from other machines: anyone who can connect can run simulations"
    };
    eprintln!(
        "callsim serve: {} on http://{local}/ ({scope}); Ctrl-C stops it",
        cfg.dir.display()
    );
    run_until(listener, AppState::new(cfg), wait_for_signal()).await
}

/// Serves `state` on `listener` until `stop` completes; then stops every run, lets open
/// responses finish (at most 10 s) and returns.
pub async fn run_until(
    listener: tokio::net::TcpListener,
    state: Shared,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let shutdown = state.shutdown.clone();
    let app = router(state);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        stop.await;
        eprintln!("callsim serve: stopping (runs cancelled, open responses closing)");
        shutdown.store(true, Ordering::SeqCst);
        let _ = stop_tx.send(true);
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    tokio::select! {
        r = server => r.map_err(|e| format!("server error: {e}"))?,
        _ = async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        } => eprintln!("callsim serve: open responses did not close within 10 s; stopping anyway"),
    }
    eprintln!("callsim serve: stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
