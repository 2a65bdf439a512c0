//! From a command line to what to do: clap parses it with [`super::command`], and the matches
//! of an operation become the JSON request body (wire keys), the client-side settings (local
//! flags), the secret values still to read, and the output options — all checked before
//! anything is sent.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::ArgMatches;
use serde_json::{Map, Value};

use super::command::{command, COMPLETION, PROMPT_FOR_VALUE};
use super::error::UsageError;
use super::output::OutputOptions;
use super::spec::{Dest, Flag, Kind, Operation};
use super::table;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Text to print on stdout as it is (help, version).
    Print(String),
    /// `dynsec completion <shell>`.
    Completion(clap_complete::Shell),
    Run(Invocation),
}

/// Where a secret flag's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Typed on the command line (visible to other users; warned about).
    Literal(String),
    /// `-`: read standard input.
    Stdin,
    /// `@path`: read the file.
    File(PathBuf),
    /// No value: prompt on the terminal without echo.
    Prompt,
}

impl SecretSource {
    fn of(flag: &Flag, raw: &str) -> Result<Self, UsageError> {
        Ok(match raw {
            PROMPT_FOR_VALUE => SecretSource::Prompt,
            "-" => SecretSource::Stdin,
            _ => match raw.strip_prefix('@') {
                Some("") => {
                    return Err(UsageError::new(format!(
                        "--{}: '@' needs a file name, e.g. --{} @key.txt",
                        flag.name, flag.name
                    )))
                }
                Some(path) => SecretSource::File(PathBuf::from(path)),
                None => SecretSource::Literal(raw.to_owned()),
            },
        })
    }
}

/// An operation with its parsed flags.
#[derive(Debug)]
pub struct Invocation {
    pub op: &'static Operation,
    /// The name it was invoked by; also the endpoint it posts to.
    pub name: &'static str,
    /// The JSON request body, keyed by wire keys.
    pub body: Map<String, Value>,
    /// Client-side settings (`gateway-url`, `profile`, ...), keyed by flag name.
    pub local: BTreeMap<&'static str, String>,
    /// Secret flags whose values are still to be read ([`super::secret::resolve`]).
    pub secrets: Vec<(&'static Flag, SecretSource)>,
    pub output: OutputOptions,
}

impl Invocation {
    /// A client-side setting, if given.
    pub fn local(&self, name: &str) -> Option<&str> {
        self.local.get(name).map(String::as_str)
    }

    /// A string value of the request body, if given.
    pub fn body_str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// Whether a local boolean flag was given as true.
    pub fn local_flag(&self, name: &str) -> bool {
        self.local(name) == Some("true")
    }

    /// Stores a flag's value where the flag says.
    pub fn set(&mut self, flag: &'static Flag, value: Value) {
        match flag.dest {
            Dest::Local => {
                let text = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                self.local.insert(flag.key(), text);
            }
            Dest::Wire(_) => {
                self.body.insert(flag.key().to_owned(), value);
            }
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let argv = std::iter::once("dynsec").chain(args.iter().map(String::as_str));
    let matches = match command().try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(err) => {
            return match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Command::Print(err.render().to_string()))
                }
                _ => Err(UsageError::Rendered(err.render().to_string())),
            }
        }
    };
    let Some((name, sub)) = matches.subcommand() else {
        // `dynsec` alone: the general help.
        return Ok(Command::Print(command().render_help().to_string()));
    };
    if name == COMPLETION {
        let shell = sub
            .get_one::<clap_complete::Shell>("shell")
            .copied()
            .ok_or_else(|| UsageError::new("completion needs a shell: bash, zsh, fish, ..."))?;
        return Ok(Command::Completion(shell));
    }
    let (op, name) = table::find(name)
        .and_then(|op| op.names.iter().find(|n| **n == name).map(|n| (op, *n)))
        .ok_or_else(|| {
            // `gateway` is dispatched before the CLI; nothing else can get here.
            UsageError::new(format!("'{name}' cannot be run from here"))
        })?;
    invocation(op, name, sub).map(Command::Run)
}

fn invocation(
    op: &'static Operation,
    name: &'static str,
    matches: &ArgMatches,
) -> Result<Invocation, UsageError> {
    let mut inv = Invocation {
        op,
        name,
        body: Map::new(),
        local: BTreeMap::new(),
        secrets: Vec::new(),
        output: OutputOptions::default(),
    };
    for flag in op.flags() {
        let Some(value) = typed_value(flag, matches) else {
            continue;
        };
        if let Some(not_yet) = flag.not_yet {
            let text = match &value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            if !not_yet.accepts(&text) {
                return Err(UsageError::new(format!("--{}: {}", flag.name, not_yet.why)));
            }
            // A default asks for nothing: not sent.
            continue;
        }
        if flag.secret {
            let raw = value.as_str().unwrap_or_default();
            inv.secrets.push((flag, SecretSource::of(flag, raw)?));
            continue;
        }
        inv.set(flag, value);
    }
    let from_stdin: Vec<&str> = inv
        .secrets
        .iter()
        .filter(|(_, source)| *source == SecretSource::Stdin)
        .map(|(flag, _)| flag.name)
        .collect();
    if from_stdin.len() > 1 {
        return Err(UsageError::new(format!(
            "only one secret can be read from stdin, but --{} all are '-'; use @FILE for the others",
            from_stdin.join(", --")
        )));
    }
    inv.output = OutputOptions::from_invocation(&inv)?;
    Ok(inv)
}

/// The flag's value as it goes on the wire, if given.
fn typed_value(flag: &Flag, matches: &ArgMatches) -> Option<Value> {
    match flag.kind {
        Kind::Str | Kind::Choice(_) => matches
            .get_one::<String>(flag.name)
            .map(|text| Value::String(text.clone())),
        Kind::Bool | Kind::BoolText => matches.get_one::<String>(flag.name).map(|text| {
            let value = text.eq_ignore_ascii_case("true");
            if flag.kind == Kind::Bool {
                Value::Bool(value)
            } else {
                Value::String(value.to_string())
            }
        }),
        Kind::Int => matches.get_one::<i64>(flag.name).map(|n| Value::from(*n)),
        Kind::List => matches
            .get_many::<String>(flag.name)
            .map(|items| Value::Array(items.map(|item| Value::String(item.clone())).collect())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn args(line: &[&str]) -> Vec<String> {
        line.iter().map(|arg| (*arg).to_owned()).collect()
    }

    pub(crate) fn run(line: &[&str]) -> Invocation {
        match parse(&args(line)) {
            Ok(Command::Run(invocation)) => invocation,
            other => panic!("expected an invocation, got {other:?}"),
        }
    }

    pub(crate) fn usage_error(line: &[&str]) -> String {
        match parse(&args(line)) {
            Err(err) => err.to_string(),
            Ok(other) => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn seed_create_with_target() {
        let inv = run(&[
            "gateway-create-producer-aws",
            "--name",
            "/prod/aws/dev",
            "--target-name",
            "aws-admin",
            "--gateway-url",
            "https:\\\\gw.example.com:8000",
            "--aws-access-mode",
            "iam_user",
            "--aws-user-policies",
            "arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::aws:policy/IAMReadOnlyAccess",
            "--aws-user-groups",
            "dev,ops",
            "--aws-role-arns",
            "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b",
        ]);
        assert_eq!(inv.name, "gateway-create-producer-aws");
        assert_eq!(
            Value::Object(inv.body.clone()),
            json!({
                "name": "/prod/aws/dev",
                "target-name": "aws-admin",
                "access-mode": "iam_user",
                "aws-user-policies":
                    "arn:aws:iam::aws:policy/ReadOnlyAccess,arn:aws:iam::aws:policy/IAMReadOnlyAccess",
                "aws-user-groups": "dev,ops",
                "aws-role-arns":
                    "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b",
            })
        );
        assert_eq!(
            inv.local("gateway-url"),
            Some("https:\\\\gw.example.com:8000")
        );
    }

    #[test]
    fn seed_create_with_inline_target() {
        let inv = run(&[
            "gateway-create-producer-aws",
            "--name",
            "dev",
            "--gateway-url",
            "https:\\\\gw:8000",
            "--aws-access-mode",
            "assumed_role",
            "--aws-user-policies",
            "p1",
            "--aws-user-groups",
            "g1",
            "--aws-role-arns",
            "r1,r2",
            "--aws-access-key-id",
            "AKIDEXAMPLE",
            "--aws-access-secret-key",
            "SECRETEXAMPLE",
            "--aws-region",
            "eu-west-1",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({
                "name": "dev",
                "access-mode": "assumed_role",
                "aws-user-policies": "p1",
                "aws-user-groups": "g1",
                "aws-role-arns": "r1,r2",
                "aws-access-key-id": "AKIDEXAMPLE",
                "region": "eu-west-1",
            })
        );
        // The secret is read (here: taken literally) before sending.
        assert_eq!(inv.secrets.len(), 1);
        assert_eq!(inv.secrets[0].0.name, "aws-access-secret-key");
        assert_eq!(
            inv.secrets[0].1,
            SecretSource::Literal("SECRETEXAMPLE".into())
        );
    }

    #[test]
    fn seed_get_value_and_the_short_name() {
        for line in [
            ["get-dynamic-secret-value", "--name", "/prod/aws/dev"],
            ["get-dynamic-secret-value", "-n", "/prod/aws/dev"],
        ] {
            let inv = run(&line);
            assert_eq!(inv.name, "get-dynamic-secret-value");
            assert_eq!(Value::Object(inv.body), json!({"name": "/prod/aws/dev"}));
            assert!(inv.local.is_empty());
        }
        let inv = run(&["assoc-role-am", "-r", "ops", "-a", "/ci"]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"role-name": "ops", "am-name": "/ci"})
        );
    }

    #[test]
    fn optional_bool_values_lists_ints_and_equals_syntax() {
        let inv = run(&[
            "dynamic-secret-create-aws",
            "--name=x",
            "--aws-user-console-access",
            "--aws-user-programmatic-access",
            "false",
            "--delete_protection",
            "--use-numbers=FALSE",
            "--use-capital-letters",
            "true",
            "--tag",
            "a",
            "--tag=b",
            "--password-length",
            "20",
            "--user-ttl",
            "15m",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({
                "name": "x",
                "aws-user-console-access": true,
                "aws-user-programmatic-access": false,
                "delete_protection": "true",
                "use-numbers": "false",
                "use-capital-letters": "true",
                "tags": ["a", "b"],
                "password-length": "20",
                "user-ttl": "15m",
            })
        );
        let inv = run(&["delete-item", "--name=x", "--delete-in-days", "7"]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"name": "x", "delete-in-days": 7})
        );
    }

    #[test]
    fn get_value_args_and_list_items_types() {
        let inv = run(&[
            "dynamic-secret-get-value",
            "--name",
            "x",
            "--args",
            "role-arn=arn:aws:iam::1:role/a",
            "--args=k=v",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"name": "x", "args": ["role-arn=arn:aws:iam::1:role/a", "k=v"]})
        );
        let inv = run(&[
            "list-items",
            "--type",
            "dynamic-secret",
            "--type",
            "target",
            "--path=/p",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"type": ["dynamic-secret", "target"], "path": "/p"})
        );
    }

    #[test]
    fn local_flags_are_not_sent() {
        let inv = run(&[
            "list-targets",
            "--profile",
            "ops",
            "--json",
            "--ca-file=/tmp/ca.pem",
            "--token",
            "@/run/token",
        ]);
        assert!(inv.body.is_empty(), "{:?}", inv.body);
        assert_eq!(inv.local("profile"), Some("ops"));
        assert_eq!(inv.local("json"), Some("true"));
        assert_eq!(inv.local("ca-file"), Some("/tmp/ca.pem"));
        assert_eq!(
            inv.secrets[0].1,
            SecretSource::File(PathBuf::from("/run/token"))
        );
    }

    #[test]
    fn secret_sources() {
        let inv = run(&["auth", "--access-id", "p-1", "--access-key", "-"]);
        assert_eq!(inv.secrets[0].1, SecretSource::Stdin);
        let inv = run(&["auth", "--access-key", "--access-id", "p-1"]);
        assert_eq!(inv.secrets[0].1, SecretSource::Prompt);
        assert!(inv.body_str("access-key").is_none());
        let inv = run(&["configure", "--access-key=@/tmp/k"]);
        assert_eq!(inv.secrets[0].1, SecretSource::File("/tmp/k".into()));
        assert!(usage_error(&["configure", "--access-key", "@"]).contains("needs a file name"));
        let message = usage_error(&[
            "create-aws-target",
            "--name=t",
            "--access-key",
            "-",
            "--session-token",
            "-",
        ]);
        assert!(message.contains("only one secret"), "{message}");
    }

    #[test]
    fn typos_get_suggestions() {
        let message = usage_error(&["get-dynamic-secret-value", "--nmae", "x"]);
        assert!(message.contains("--nmae"), "{message}");
        assert!(
            message.contains("similar argument exists: '--name'"),
            "{message}"
        );
        let message = usage_error(&["get-dynamic-secret-vale", "--name", "x"]);
        assert!(
            message.contains("similar subcommand")
                && message.contains("'get-dynamic-secret-value'"),
            "{message}"
        );
        let message = usage_error(&["gateway-create-producer-aws", "--delete-protection"]);
        assert!(message.contains("'--delete_protection'"), "{message}");
    }

    #[test]
    fn other_usage_errors() {
        assert!(usage_error(&["frobnicate"]).contains("frobnicate"));
        assert!(usage_error(&["get-target"]).contains("--name"));
        assert!(usage_error(&["get-target", "--name"]).contains("a value is required"));
        assert!(usage_error(&["get-target", "--name", "--show-versions"])
            .contains("a value is required"));
        assert!(usage_error(&["get-target", "--name", "a", "--name", "b"])
            .contains("cannot be used multiple times"));
        let message = usage_error(&[
            "dynamic-secret-create-aws",
            "--name=x",
            "--region=a",
            "--aws-region=b",
        ]);
        assert!(
            message.contains("--region") && message.contains("--aws-region"),
            "{message}"
        );
        assert!(
            usage_error(&["delete-item", "--name=x", "--delete-in-days", "soon"])
                .contains("invalid value 'soon'")
        );
        assert!(
            usage_error(&["delete-item", "--name=x", "--delete-immediately=yes"])
                .contains("possible values: true, false")
        );
        assert!(usage_error(&["list-targets", "--format", "yaml"]).contains("yaml"));
        assert!(
            usage_error(&["list-targets", "--field", "a", "--jq-expression", ".a"])
                .contains("cannot be used with")
        );
    }

    #[test]
    fn flags_not_implemented_yet_are_refused_unless_default() {
        for (line, flag) in [
            (
                vec!["get-dynamic-secret-value", "-n", "x", "--timeout", "30"],
                "--timeout",
            ),
            (
                vec!["get-dynamic-secret-value", "-n", "x", "--target", "/t"],
                "--target",
            ),
        ] {
            let message = usage_error(&line);
            assert!(message.contains(flag), "{message}");
            assert!(message.contains("not supported yet"), "{message}");
        }
        // Defaults ask for nothing, so scripts written for the Akeyless CLI keep working.
        let inv = run(&["get-dynamic-secret-value", "-n", "x", "--timeout", "15"]);
        assert_eq!(Value::Object(inv.body), json!({"name": "x"}));
        // Implemented since: sent as given.
        let inv = run(&[
            "gateway-create-producer-aws",
            "-n",
            "x",
            "--enable-admin-rotation",
            "--admin-rotation-interval-days",
            "30",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"name": "x", "enable-admin-rotation": true, "admin-rotation-interval-days": 30})
        );
        let inv = run(&["create-aws-target", "-n", "x", "--use-gw-cloud-identity"]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"name": "x", "use-gw-cloud-identity": true})
        );
    }

    #[test]
    fn soft_delete_is_offered_and_sent() {
        let inv = run(&[
            "gateway-revoke-producer-tmp-creds",
            "-n",
            "x",
            "--tmp-creds-id",
            "l-1",
            "--soft-delete",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"name": "x", "tmp-creds-id": "l-1", "soft-delete": true})
        );
    }

    #[test]
    fn iam_surface_flags_and_incident_operations_reach_the_wire() {
        let inv = run(&[
            "gateway-create-producer-aws",
            "-n",
            "x",
            "--custom-username-template",
            "ci-{{name}}",
            "--permissions-boundary-arn",
            "arn:aws:iam::1:policy/b",
            "--aws-user-tags",
            "team=a",
            "--max-ttl",
            "8h",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"name": "x", "custom-username-template": "ci-{{name}}",
                   "permissions-boundary-arn": "arn:aws:iam::1:policy/b",
                   "aws-user-tags": "team=a", "max-ttl": "8h"})
        );
        let inv = run(&["revoke-leases", "--path", "/prod"]);
        assert_eq!(Value::Object(inv.body), json!({"path": "/prod"}));
        let inv = run(&["list-leases", "--path", "/prod", "--limit", "5"]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"path": "/prod", "limit": 5})
        );
        assert!(usage_error(&["revoke-leases"]).contains("--path"));
    }

    #[test]
    fn help_version_and_nothing() {
        for line in [
            vec!["--help"],
            vec!["get-target", "--help"],
            vec!["help", "auth"],
            vec!["--version"],
            vec![],
        ] {
            match parse(&args(&line)) {
                Ok(Command::Print(text)) => assert!(!text.is_empty()),
                other => panic!("{line:?}: {other:?}"),
            }
        }
        let Ok(Command::Print(text)) = parse(&[]) else {
            panic!("dynsec alone prints help")
        };
        assert!(text.contains("get-dynamic-secret-value"), "{text}");
        assert!(matches!(
            parse(&args(&["completion", "bash"])),
            Ok(Command::Completion(clap_complete::Shell::Bash))
        ));
    }
}
