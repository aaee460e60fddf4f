//! Thin entry point: parse arguments, run, print the error, exit with its code.

use clap::Parser;

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = callsim::cli::Cli::parse_from(&argv);
    // `serve` shuts down gracefully on SIGINT/SIGTERM itself (tokio::signal); every other
    // command removes its temporary files and exits 130/143.
    if !matches!(cli.command, callsim::cli::Command::Serve(_)) {
        callsim::export::install_signal_cleanup();
    }
    if let Err(e) = callsim::cli::main_with(cli, &argv) {
        eprintln!("error: {e}");
        std::process::exit(e.code());
    }
}
