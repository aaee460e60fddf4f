//! `callsim serve [DIR] [--bind ADDR]`: the live what-if dashboard (`crate::serve`). Parses the
//! flags, starts a tokio runtime for the server only, and returns when a signal stopped it.

use super::CliError;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  callsim serve                       # scenarios/ on http://127.0.0.1:8080/
  callsim serve my-scenarios --bind 127.0.0.1:9000
  callsim serve scenarios --bind 0.0.0.0:8080   # reachable from other machines: say so on purpose")]
pub struct ServeArgs {
    /// Folder of scenario files; only files under it are read.
    #[arg(default_value = "scenarios")]
    pub dir: PathBuf,
    /// Address and port to listen on. The default is loopback only.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Simulations running at once.
    #[arg(long, default_value_t = 2)]
    pub max_running: usize,
    /// Simulations waiting for a slot; more are refused with 503 and Retry-After.
    #[arg(long, default_value_t = 4)]
    pub max_queued: usize,
    /// Most replications one request may ask for.
    #[arg(long, default_value_t = 64)]
    pub max_replications: u32,
    /// Most events one replication may take (the resource budget of a dashboard run).
    #[arg(long, default_value_t = 2.0e8)]
    pub max_events: f64,
    /// Worker threads per run (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(a: ServeArgs) -> Result<(), CliError> {
    let mut cfg = crate::serve::Config::new(a.dir).map_err(CliError::input)?;
    if a.max_running == 0 || a.max_replications == 0 || a.max_events <= 0.0 {
        return Err(CliError::input(
            "--max-running, --max-replications and --max-events must be > 0",
        ));
    }
    cfg.max_running = a.max_running;
    cfg.max_queued = a.max_queued;
    cfg.max_replications = a.max_replications;
    cfg.max_events = a.max_events;
    if a.threads > 0 {
        cfg.threads = a.threads;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the server runtime: {e}")))?;
    rt.block_on(crate::serve::serve(cfg, a.bind))
        .map_err(CliError::failure)
}
