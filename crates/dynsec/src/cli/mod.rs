//! The CLI client: `dynsec <operation> --flag value ...`, wire-compatible with the Akeyless
//! CLI's commands for targets, AWS dynamic secrets, their values and temporary credentials.
//!
//! One table-driven mechanism serves every operation: [`table`] lists the operations and their
//! flags (typed, with wire keys), [`command`] builds the clap command from it (help,
//! suggestions, completions), [`parse`] turns the matches into a JSON body, [`secret`] reads
//! secret values from stdin, files or a prompt, [`request`] resolves the gateway and
//! credentials ([`settings`], [`profile`]), authenticates and posts it ([`client`]) — reading
//! the current item first for partial updates ([`update`]) and describing revocations
//! ([`effects`]) — and [`output`] prints the answer.
//!
//! Exit codes per failure class: see [`error`].

mod client;
mod command;
mod configure;
mod effects;
mod error;
mod jq;
mod output;
mod pages;
mod parse;
mod profile;
mod request;
mod secret;
mod settings;
mod spec;
mod status;
mod table;
mod tabulate;
mod update;
mod url;

use std::process::ExitCode;

use anyhow::{Context, Result};

use error::{classify, UsageError};
use output::{emit, note, render, Format};
use parse::Command;
use settings::Env;
use spec::Mode;

/// Runs the CLI on the full argument list (program name first).
pub async fn run(args: Vec<String>) -> ExitCode {
    let env = Env::from_process();
    match execute(args.get(1..).unwrap_or_default(), &env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<UsageError>() {
                // clap's rendering says "error: ..." and how to get help.
                Some(rendered @ UsageError::Rendered(_)) => note(&rendered.to_string()),
                _ => note(&format!("error: {err:#}")),
            }
            ExitCode::from(classify(&err).exit_code())
        }
    }
}

async fn execute(args: &[String], env: &Env) -> Result<()> {
    match parse::parse(args)? {
        Command::Print(text) => emit(&text),
        Command::Completion(shell) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command::command(), "dynsec", &mut script);
            emit(&String::from_utf8(script).context("the completion script is not UTF-8")?)
        }
        Command::Run(mut invocation) => {
            secret::resolve(&mut invocation, &mut secret::Console)?;
            match invocation.op.mode {
                Mode::Configure => {
                    let message = configure::configure(&invocation, env).await?;
                    emit(&format!("{message}\n"))
                }
                Mode::Status => {
                    let answer = status::status(&invocation, env).await?;
                    emit(&render(&answer, &invocation.output, Format::Table)?)
                }
                Mode::Auth | Mode::Authenticated => {
                    let answer = request::send(&invocation, env).await?;
                    emit(&render(&answer, &invocation.output, Format::Json)?)
                }
            }
        }
    }
}
