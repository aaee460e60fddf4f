//! Thin entry point: parse arguments, run, print the error, exit with its code.

use clap::Parser;

fn main() {
    let cli = callsim::cli::Cli::parse();
    if let Err(e) = callsim::cli::main_with(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.code);
    }
}
