//! Help text, generated from the operation table.

use std::fmt::Write;

use super::spec::{Dest, Operation};
use super::table::OPERATIONS;
use super::url::DEFAULT_GATEWAY_URL;

/// `dynsec --help`: every operation.
pub fn general() -> String {
    let mut out = String::from(
        "dynsec: client for a dynsec gateway (Akeyless v2 API compatible)\n\n\
         Usage: dynsec <operation> [--flag value]...\n       \
         dynsec <operation> --help     flags of one operation\n       \
         dynsec gateway ...            run the gateway server\n\nOperations:\n",
    );
    let width = OPERATIONS
        .iter()
        .filter_map(|op| op.names.first().map(|name| name.len()))
        .max()
        .unwrap_or(0);
    for op in OPERATIONS {
        let (name, aliases) = op.names.split_first().unwrap_or((&"", &[]));
        let _ = write!(out, "  {name:<width$}  {}", op.summary);
        if !aliases.is_empty() {
            let _ = write!(out, " (also: {})", aliases.join(", "));
        }
        out.push('\n');
    }
    let _ = write!(
        out,
        "\nConnection and credentials, each taken from the flag, else the environment, else the profile:\n  \
         --gateway-url    DYNSEC_GATEWAY_URL   (default {DEFAULT_GATEWAY_URL})\n  \
         access id        DYNSEC_ACCESS_ID\n  \
         access key       DYNSEC_ACCESS_KEY\n  \
         --profile        DYNSEC_PROFILE       (default \"default\"; saved by 'dynsec configure')\n  \
         --ca-file        DYNSEC_CA_FILE       (PEM CA for an HTTPS gateway)\n  \
         profiles live in $DYNSEC_HOME/profiles (default ~/.dynsec/profiles)\n\n\
         Every operation except auth and configure authenticates first unless --token is given.\n\
         The gateway's JSON answer is printed on stdout.\n"
    );
    out
}

/// `dynsec <operation> --help`: the operation's flags.
pub fn operation(op: &Operation) -> String {
    let name = op.names.first().copied().unwrap_or_default();
    let mut out = format!("dynsec {name}: {}\n", op.summary);
    if op.names.len() > 1 {
        let _ = writeln!(out, "Also available as: {}", op.names[1..].join(", "));
    }
    let required: String = op
        .flags()
        .filter(|flag| flag.required)
        .map(|flag| format!(" --{} {}", flag.name, flag.kind.placeholder()))
        .collect();
    let _ = writeln!(out, "\nUsage: dynsec {name}{required} [flags]\n\nFlags:");
    let mut rows: Vec<(String, String)> = op
        .flags()
        .map(|flag| {
            let mut help = flag.help.to_owned();
            if flag.required {
                help.insert_str(0, "(required) ");
            }
            if let Dest::Wire(Some(key)) = flag.dest {
                let _ = write!(help, " [sent as {key}]");
            }
            (format!("--{} {}", flag.name, flag.kind.placeholder()), help)
        })
        .collect();
    rows.push(("--help".to_owned(), "this text".to_owned()));
    let width = rows.iter().map(|(left, _)| left.len()).max().unwrap_or(0);
    for (left, help) in rows {
        let _ = writeln!(out, "  {left:<width$}  {help}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::table::find;

    #[test]
    fn general_help_lists_every_operation() {
        let text = general();
        for name in OPERATIONS.iter().flat_map(|op| op.names.iter()) {
            assert!(text.contains(name), "{name} missing");
        }
    }

    #[test]
    fn operation_help_lists_flags_and_renames() {
        let op = find("gateway-create-producer-aws").unwrap();
        let text = operation(op);
        assert!(text.contains("--aws-access-mode"));
        assert!(text.contains("[sent as access-mode]"));
        assert!(text.contains("--delete_protection"));
        assert!(text.contains("Usage: dynsec gateway-create-producer-aws --name <string>"));
        assert!(text.contains("dynamic-secret-create-aws"));
    }
}
