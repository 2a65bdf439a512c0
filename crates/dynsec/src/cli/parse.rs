//! Command-line parsing driven by the operation table: `dynsec <operation> --flag value ...`
//! becomes the JSON request body (wire keys) plus the client-side settings (local flags).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::UsageError;
use super::spec::{Dest, Flag, Kind, Operation};
use super::table;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// General help, or one operation's help.
    Help(Option<&'static Operation>),
    Version,
    Run(Invocation),
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
    /// Which flag filled each key, to report duplicates and conflicting aliases.
    given: BTreeMap<&'static str, &'static str>,
}

impl Invocation {
    fn new(op: &'static Operation, name: &'static str) -> Self {
        Invocation {
            op,
            name,
            body: Map::new(),
            local: BTreeMap::new(),
            given: BTreeMap::new(),
        }
    }

    /// A client-side setting, if given.
    pub fn local(&self, name: &str) -> Option<&str> {
        self.local.get(name).map(String::as_str)
    }

    /// A string value of the request body, if given.
    pub fn body_str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    fn set(&mut self, flag: &'static Flag, raw: &str) -> Result<(), UsageError> {
        let key = flag.key();
        if flag.kind != Kind::List {
            if let Some(previous) = self.given.insert(key, flag.name) {
                return Err(UsageError::new(if previous == flag.name {
                    format!("--{} given more than once", flag.name)
                } else {
                    format!(
                        "--{} and --{} both set '{key}'; give one",
                        previous, flag.name
                    )
                }));
            }
        }
        let value = typed_value(flag, raw)?;
        match flag.dest {
            Dest::Local => {
                let text = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                self.local.insert(key, text);
            }
            Dest::Wire(_) if flag.kind == Kind::List => {
                let entry = self
                    .body
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    items.push(value);
                }
            }
            Dest::Wire(_) => {
                self.body.insert(key.to_owned(), value);
            }
        }
        Ok(())
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some(first) = args.first() else {
        return Err(UsageError::new(
            "no operation given. Run 'dynsec --help' to list operations.",
        ));
    };
    match first.as_str() {
        "-h" | "--help" => return Ok(Command::Help(None)),
        "help" => {
            return match args.get(1) {
                None => Ok(Command::Help(None)),
                Some(name) => Ok(Command::Help(Some(find_operation(name)?.0))),
            };
        }
        "-V" | "--version" | "version" => return Ok(Command::Version),
        _ => {}
    }
    let (op, name) = find_operation(first)?;
    parse_flags(op, name, &args[1..])
}

fn find_operation(name: &str) -> Result<(&'static Operation, &'static str), UsageError> {
    let found = table::find(name).and_then(|op| {
        op.names
            .iter()
            .find(|known| **known == name)
            .map(|known| (op, *known))
    });
    found.ok_or_else(|| {
        if name.starts_with('-') {
            UsageError::new(format!(
                "expected an operation before {name}. Run 'dynsec --help' to list operations."
            ))
        } else {
            UsageError::new(format!(
                "unknown operation '{name}'. Run 'dynsec --help' to list operations."
            ))
        }
    })
}

fn parse_flags(
    op: &'static Operation,
    name: &'static str,
    rest: &[String],
) -> Result<Command, UsageError> {
    let mut invocation = Invocation::new(op, name);
    let mut tokens = rest.iter().peekable();
    let mut previous: Option<&str> = None;
    let mut position = 0;
    while let Some(arg) = tokens.next() {
        position += 1;
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help(Some(op)));
        }
        let Some(spec) = arg.strip_prefix("--").filter(|spec| !spec.is_empty()) else {
            let after = previous
                .map(|flag| format!(" after --{flag}"))
                .unwrap_or_default();
            return Err(UsageError::new(format!(
                "unexpected argument #{position}{after}: flags take the form --flag value. \
                 Run 'dynsec {name} --help' to list its flags."
            )));
        };
        let (flag_name, inline) = match spec.split_once('=') {
            Some((flag_name, value)) => (flag_name, Some(value)),
            None => (spec, None),
        };
        let flag = op
            .flag(flag_name)
            .ok_or_else(|| unknown_flag(op, name, flag_name))?;
        previous = Some(flag.name);
        let raw = match inline {
            Some(value) => value,
            None if flag.kind.is_bool() => match tokens.peek() {
                Some(next) if parse_bool(next).is_some() => {
                    position += 1;
                    tokens.next().map_or("true", String::as_str)
                }
                _ => "true",
            },
            None => match tokens.peek() {
                Some(next) if !next.starts_with("--") => {
                    position += 1;
                    tokens.next().map_or("", String::as_str)
                }
                _ => {
                    return Err(UsageError::new(format!(
                        "--{} needs a value (use --{}=VALUE for a value starting with --)",
                        flag.name, flag.name
                    )))
                }
            },
        };
        invocation.set(flag, raw)?;
    }
    if let Some(missing) = op
        .flags()
        .find(|flag| flag.required && !invocation.given.contains_key(flag.key()))
    {
        return Err(UsageError::new(format!(
            "'{name}' needs --{}. Run 'dynsec {name} --help' to list its flags.",
            missing.name
        )));
    }
    Ok(Command::Run(invocation))
}

fn unknown_flag(op: &Operation, name: &str, flag: &str) -> UsageError {
    let swapped: String = flag
        .chars()
        .map(|c| match c {
            '-' => '_',
            '_' => '-',
            other => other,
        })
        .collect();
    let near = op
        .flags()
        .find(|known| known.name == swapped || known.name.replace('_', "-") == flag);
    let hint = near
        .map(|known| format!(" (did you mean --{}?)", known.name))
        .unwrap_or_default();
    UsageError::new(format!(
        "unknown flag --{flag} for operation '{name}'{hint}. \
         Run 'dynsec {name} --help' to list its flags."
    ))
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn typed_value(flag: &Flag, raw: &str) -> Result<Value, UsageError> {
    match flag.kind {
        Kind::Str | Kind::List => Ok(Value::String(raw.to_owned())),
        Kind::Bool | Kind::BoolText => {
            let value = parse_bool(raw).ok_or_else(|| {
                UsageError::new(format!("--{} takes true or false, not '{raw}'", flag.name))
            })?;
            Ok(if flag.kind == Kind::Bool {
                Value::Bool(value)
            } else {
                Value::String(value.to_string())
            })
        }
        Kind::Int => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| UsageError::new(format!("--{} takes a whole number", flag.name))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(line: &[&str]) -> Vec<String> {
        line.iter().map(|arg| (*arg).to_owned()).collect()
    }

    fn run(line: &[&str]) -> Invocation {
        match parse(&args(line)) {
            Ok(Command::Run(invocation)) => invocation,
            other => panic!("expected an invocation, got {other:?}"),
        }
    }

    fn usage_error(line: &[&str]) -> String {
        match parse(&args(line)) {
            Err(err) => err.0,
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
                "aws-access-secret-key": "SECRETEXAMPLE",
                "region": "eu-west-1",
            })
        );
    }

    #[test]
    fn seed_get_value() {
        let inv = run(&["get-dynamic-secret-value", "--name", "/prod/aws/dev"]);
        assert_eq!(inv.name, "get-dynamic-secret-value");
        assert_eq!(Value::Object(inv.body), json!({"name": "/prod/aws/dev"}));
        assert!(inv.local.is_empty());
    }

    #[test]
    fn bools_lists_ints_and_equals_syntax() {
        let inv = run(&[
            "dynamic-secret-create-aws",
            "--name=x",
            "--aws-user-console-access",
            "--aws-user-programmatic-access",
            "false",
            "--enable-admin-rotation=TRUE",
            "--delete_protection",
            "--use-numbers=false",
            "--tag",
            "a",
            "--tag=b",
            "--admin-rotation-interval-days",
            "30",
            "--user-ttl",
            "15m",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({
                "name": "x",
                "aws-user-console-access": true,
                "aws-user-programmatic-access": false,
                "enable-admin-rotation": true,
                "delete_protection": "true",
                "use-numbers": "false",
                "tags": ["a", "b"],
                "admin-rotation-interval-days": 30,
                "user-ttl": "15m",
            })
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
            "--timeout",
            "30",
        ]);
        assert_eq!(
            Value::Object(inv.body),
            json!({"name": "x", "args": ["role-arn=arn:aws:iam::1:role/a", "k=v"], "timeout": 30})
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
            "t-1",
        ]);
        assert_eq!(Value::Object(inv.body.clone()), json!({"token": "t-1"}));
        assert_eq!(inv.local("profile"), Some("ops"));
        assert_eq!(inv.local("json"), Some("true"));
        assert_eq!(inv.local("ca-file"), Some("/tmp/ca.pem"));
    }

    #[test]
    fn unknown_flag_names_flag_and_operation() {
        let message = usage_error(&["get-target", "--name", "x", "--bogus", "1"]);
        assert!(message.contains("--bogus"), "{message}");
        assert!(message.contains("get-target"), "{message}");
        let message = usage_error(&["gateway-create-producer-aws", "--delete-protection"]);
        assert!(
            message.contains("did you mean --delete_protection"),
            "{message}"
        );
    }

    #[test]
    fn other_usage_errors() {
        assert!(usage_error(&["frobnicate"]).contains("dynsec --help"));
        assert!(usage_error(&[]).contains("dynsec --help"));
        assert!(usage_error(&["get-target"]).contains("needs --name"));
        assert!(usage_error(&["get-target", "--name"]).contains("needs a value"));
        assert!(usage_error(&["get-target", "--name", "--show-versions"]).contains("needs a value"));
        assert!(
            usage_error(&["get-target", "--name", "a", "--name", "b"]).contains("more than once")
        );
        let message = usage_error(&[
            "dynamic-secret-create-aws",
            "--name=x",
            "--region=a",
            "--aws-region=b",
        ]);
        assert!(message.contains("--region and --aws-region"), "{message}");
        assert!(
            usage_error(&["delete-item", "--name=x", "--delete-in-days", "soon"])
                .contains("whole number")
        );
        assert!(
            usage_error(&["delete-item", "--name=x", "--delete-immediately=yes"])
                .contains("true or false")
        );
        let message = usage_error(&["delete-item", "--name=x", "--delete-immediately", "stray"]);
        assert!(message.contains("after --delete-immediately"), "{message}");
        assert!(!message.contains("stray"), "{message}");
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse(&args(&["--help"])), Ok(Command::Help(None))));
        assert!(matches!(
            parse(&args(&["get-target", "--help"])),
            Ok(Command::Help(Some(_)))
        ));
        assert!(matches!(
            parse(&args(&["help", "auth"])),
            Ok(Command::Help(Some(_)))
        ));
        assert!(matches!(parse(&args(&["--version"])), Ok(Command::Version)));
    }
}
