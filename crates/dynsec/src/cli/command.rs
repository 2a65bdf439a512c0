//! The clap command built from the operation table: one subcommand per operation name (each is
//! also the endpoint it posts to), one argument per flag. clap gives the help, the suggestions
//! for typos (`--nmae` → `--name`) and the shell completions; [`super::parse`] turns its
//! matches back into a request body.

use clap::builder::PossibleValuesParser;
use clap::{value_parser, Arg, ArgAction, Command};

use super::spec::{Dest, Flag, Kind, Operation};
use super::table::OPERATIONS;
use super::url::DEFAULT_GATEWAY_URL;

/// Stands for "the secret flag was given without a value": argv strings cannot hold a NUL,
/// so no typed value can be mistaken for it.
pub const PROMPT_FOR_VALUE: &str = "\0";

/// The name of the completion command.
pub const COMPLETION: &str = "completion";

/// The whole `dynsec` command line.
pub fn command() -> Command {
    let mut root = Command::new("dynsec")
        .about(
            "Client for a dynsec gateway: short-lived AWS credentials (Akeyless v2 API compatible)",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .after_help(general_notes())
        .subcommand(crate::gateway::command())
        .subcommand(
            Command::new(COMPLETION)
                .about("print a shell completion script (bash, zsh, fish, elvish, powershell)")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(value_parser!(clap_complete::Shell)),
                )
                .after_help(
                    "Examples:\n  bash: source <(dynsec completion bash)\n  \
                     zsh:  dynsec completion zsh > \"${fpath[1]}/_dynsec\"\n  \
                     fish: dynsec completion fish > ~/.config/fish/completions/dynsec.fish",
                ),
        );
    for op in OPERATIONS {
        for name in op.names {
            root = root.subcommand(operation_command(op, name));
        }
    }
    root
}

/// The subcommand `name` of `op`.
fn operation_command(op: &'static Operation, name: &'static str) -> Command {
    let primary = op.primary_name();
    let about = if name == primary {
        op.summary.to_owned()
    } else {
        format!("{} (same as {primary})", op.summary)
    };
    let mut cmd = Command::new(name).about(about);
    let others: Vec<&str> = op.names.iter().copied().filter(|n| *n != name).collect();
    let mut notes = Vec::new();
    if !others.is_empty() {
        notes.push(format!("Also available as: {}", others.join(", ")));
    }
    if matches!(
        op.behaviour,
        super::spec::Behaviour::UpdateProducer | super::spec::Behaviour::UpdateTarget
    ) {
        notes.push(
            "Only the flags given change: the current settings are read first and sent back \
             with them (a list flag replaces the whole list)."
                .to_owned(),
        );
    }
    if op.flags().any(|flag| flag.secret) {
        notes.push(
            "Secret flags: VALUE literally (visible in `ps` and shell history), `-` reads stdin, \
             `@FILE` reads a file, and no value prompts on a terminal without echo."
                .to_owned(),
        );
    }
    if !notes.is_empty() {
        cmd = cmd.after_help(notes.join("\n"));
    }
    for flag in op.flags() {
        cmd = cmd.arg(argument(op, flag));
    }
    cmd
}

/// The clap argument of one flag.
fn argument(op: &Operation, flag: &'static Flag) -> Arg {
    let mut arg = Arg::new(flag.name)
        .long(flag.name)
        .help(help_text(flag))
        .required(flag.required);
    if let Some(c) = flag.short {
        arg = arg.short(c);
    }
    if let Some(heading) = flag.heading {
        arg = arg.help_heading(heading);
    }
    if flag.not_yet.is_some() {
        // Not offered; still parsed so that using it gets a clear refusal.
        arg = arg.hide(true);
    }
    arg = match flag.kind {
        Kind::Str if flag.secret => arg
            .action(ArgAction::Set)
            .num_args(0..=1)
            .default_missing_value(PROMPT_FOR_VALUE),
        Kind::Str => arg.action(ArgAction::Set),
        Kind::Choice(values) => arg
            .action(ArgAction::Set)
            .value_parser(PossibleValuesParser::new(values.iter().copied())),
        Kind::Bool | Kind::BoolText => arg
            .action(ArgAction::Set)
            .num_args(0..=1)
            .default_missing_value("true")
            .value_parser(PossibleValuesParser::new(["true", "false"]))
            .ignore_case(true),
        Kind::Int => arg.action(ArgAction::Set).value_parser(value_parser!(i64)),
        Kind::List => arg.action(ArgAction::Append),
    };
    for other in flag.conflicts {
        arg = arg.conflicts_with(*other);
    }
    // Two flags filling the same key (`--region`, `--aws-region`) cannot both be given.
    if flag.kind != Kind::List {
        for other in op.flags() {
            let both_wire =
                matches!(other.dest, Dest::Wire(_)) == matches!(flag.dest, Dest::Wire(_));
            if other.name != flag.name && other.key() == flag.key() && both_wire {
                arg = arg.conflicts_with(other.name);
            }
        }
    }
    arg
}

fn help_text(flag: &Flag) -> String {
    let mut help = flag.help.to_owned();
    if let Dest::Wire(Some(key)) = flag.dest {
        help.push_str(&format!(" [sent as {key}]"));
    }
    if flag.secret {
        help.push_str(" (secret: -, @FILE, or no value to be prompted)");
    }
    help
}

/// The general help's closing notes: where settings come from, outputs, exit codes.
fn general_notes() -> String {
    format!(
        "Connection and credentials, each from the flag, else the environment, else the profile:\n  \
         --gateway-url    DYNSEC_GATEWAY_URL   (default {DEFAULT_GATEWAY_URL})\n  \
         access id        DYNSEC_ACCESS_ID\n  \
         access key       DYNSEC_ACCESS_KEY\n  \
         --profile        DYNSEC_PROFILE       (default \"default\"; saved by 'dynsec configure')\n  \
         --ca-file        DYNSEC_CA_FILE       (PEM CA for an HTTPS gateway)\n  \
         profiles live in $DYNSEC_HOME/profiles (default ~/.dynsec/profiles)\n\n\
         Every operation except auth, configure and status authenticates first unless --token is given.\n\
         Secrets: a secret flag given `-` reads stdin, `@FILE` reads a file, no value prompts.\n\
         Output: JSON by default; --format table|env|credential-process, --field NAME, --jq-expression EXPR.\n\
         Exit codes: 0 ok, 1 other failure, 2 usage, 3 not found, 4 denied, 5 conflict,\n  \
         6 invalid value, 7 unavailable (unreachable, rate-limited or AWS unavailable: retry later)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_consistent() {
        // clap's own checks: unique ids, valid conflicts, no clashing shorts.
        command().debug_assert();
    }

    #[test]
    fn help_lists_every_operation_and_hides_what_is_not_offered() {
        let help = command().render_long_help().to_string();
        for name in OPERATIONS.iter().flat_map(|op| op.names.iter()) {
            assert!(help.contains(name), "{name} missing from help");
        }
        assert!(help.contains("completion"));
        assert!(help.contains("Exit codes"));
        let mut root = command();
        let create = root
            .find_subcommand_mut("gateway-create-producer-aws")
            .unwrap();
        let text = create.render_help().to_string();
        assert!(text.contains("--aws-access-mode"), "{text}");
        assert!(text.contains("[sent as access-mode]"), "{text}");
        assert!(text.contains("--delete_protection"), "{text}");
        assert!(text.contains("-n, --name"), "{text}");
        assert!(text.contains("dynamic-secret-create-aws"), "{text}");
        assert!(text.contains("--enable-admin-rotation"), "{text}");
        assert!(text.contains("--admin-rotation-interval-days"), "{text}");
        let value = root
            .find_subcommand_mut("get-dynamic-secret-value")
            .unwrap();
        let text = value.render_help().to_string();
        assert!(
            !text.contains("--timeout") && !text.contains("--target"),
            "{text}"
        );
        assert!(text.contains("--format"), "{text}");
    }
}
