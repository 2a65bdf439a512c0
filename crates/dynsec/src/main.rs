//! The `dynsec` binary: `dynsec gateway` runs the server; every other command is a
//! CLI client operation spoken to a gateway over the Akeyless-compatible API.

mod cli;
mod gateway;
mod keyfile;
mod shutdown;
mod startup;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // AWS SDK futures are large; joined teardown steps need more than tokio's
    // default 2 MiB worker stack in unoptimized builds.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("Error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    if args.get(1).map(String::as_str) == Some("gateway") {
        runtime.block_on(gateway::main(&args[1..]))
    } else {
        runtime.block_on(cli::run(args))
    }
}
