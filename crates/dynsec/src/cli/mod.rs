//! The CLI client: `dynsec <operation> --flag value ...`, wire-compatible with the Akeyless
//! CLI's commands for targets, AWS dynamic secrets, their values and temporary credentials.
//!
//! One table-driven mechanism serves every operation: [`table`] lists the operations and their
//! flags (typed, with wire keys), [`parse`] turns a command line into a JSON body, [`request`]
//! resolves the gateway and credentials ([`settings`], [`profile`]), authenticates and posts
//! it ([`client`]), and the answer is printed as pretty JSON on stdout.
//!
//! Exit codes: 0 success, 1 failure (gateway error, connection, files), 2 usage error.

mod client;
mod configure;
mod error;
mod help;
mod parse;
mod profile;
mod request;
mod settings;
mod spec;
mod table;
mod url;

use std::process::ExitCode;

use anyhow::{Context, Result};

use error::UsageError;
use parse::Command;
use settings::Env;
use spec::Mode;

/// Runs the CLI on the full argument list (program name first).
pub async fn run(args: Vec<String>) -> ExitCode {
    let env = Env::from_process();
    match execute(args.get(1..).unwrap_or_default(), &env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn execute(args: &[String], env: &Env) -> Result<()> {
    match parse::parse(args)? {
        Command::Help(None) => print!("{}", help::general()),
        Command::Help(Some(op)) => print!("{}", help::operation(op)),
        Command::Version => println!("dynsec {}", env!("CARGO_PKG_VERSION")),
        Command::Run(invocation) => match invocation.op.mode {
            Mode::Configure => {
                let message =
                    configure::configure(&invocation, env.home()?, env.profile.as_deref())?;
                println!("{message}");
            }
            Mode::Auth | Mode::Authenticated => {
                let answer = request::send(invocation, env).await?;
                let text =
                    serde_json::to_string_pretty(&answer).context("cannot format the answer")?;
                println!("{text}");
            }
        },
    }
    Ok(())
}
