//! `callsim schema`: prints the JSON Schema of scenario files (from `scenario::schema`, the
//! registry the loader checks its keys against) for editors such as taplo / Even Better TOML.

use super::{say, CliError};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  callsim schema > callsim-scenario.schema.json
  # then, first line of a scenario file (taplo / Even Better TOML):
  #:schema ./callsim-scenario.schema.json")]
pub struct SchemaArgs {}

pub fn run(_args: SchemaArgs) -> Result<(), CliError> {
    let schema = crate::scenario::schema::json_schema();
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| CliError::failure(format!("cannot render the schema: {e}")))?;
    say(&format!("{text}\n"));
    Ok(())
}
