//! Printing answers, for people and for scripts: pretty JSON (the default), `--format table`,
//! `--format env` (`export NAME='value'` lines; AWS's variable names for credentials),
//! `--format credential-process` (the AWS CLI's `credential_process` JSON), `--field NAME`
//! (one field, unquoted) and `--jq-expression` (strings unquoted, like `jq -r`).
//!
//! Everything reaches stdout through [`emit`], which ends quietly when the reader has gone
//! (`dynsec ... | head`).

use std::io::{ErrorKind, Write};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::error::UsageError;
use super::jq;
use super::parse::Invocation;
use super::spec::Behaviour;
use super::tabulate;

/// How an answer is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Table,
    Env,
    CredentialProcess,
}

/// The output flags of one invocation, checked before anything is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// `None`: the command's default ([`Format::Json`] for gateway operations).
    pub format: Option<Format>,
    pub field: Option<String>,
    pub jq: Option<String>,
}

impl OutputOptions {
    pub fn from_invocation(inv: &Invocation) -> Result<Self, UsageError> {
        let format = match inv.local("format") {
            None => None,
            Some("json") => Some(Format::Json),
            Some("table") => Some(Format::Table),
            Some("env") => Some(Format::Env),
            Some("credential-process") => {
                if inv.op.behaviour != Behaviour::IssueCredentials {
                    return Err(UsageError::new(format!(
                        "--format credential-process prints AWS credentials; '{}' issues none \
                         (use it with get-dynamic-secret-value)",
                        inv.name
                    )));
                }
                Some(Format::CredentialProcess)
            }
            Some(other) => return Err(UsageError::new(format!("unknown --format {other}"))),
        };
        let jq = inv.local("jq-expression").map(str::to_owned);
        if let Some(code) = &jq {
            jq::check(code)?;
        }
        Ok(OutputOptions {
            format,
            field: inv.local("field").map(str::to_owned),
            jq,
        })
    }
}

/// The text to print for `answer`, ending with a newline.
pub fn render(answer: &Value, options: &OutputOptions, default: Format) -> Result<String> {
    if let Some(code) = &options.jq {
        let outputs = jq::run(code, answer)?;
        return Ok(outputs.iter().map(unquoted).collect());
    }
    if let Some(name) = &options.field {
        return field(answer, name).map(|value| unquoted(&value));
    }
    match options.format.unwrap_or(default) {
        Format::Json => pretty(answer),
        Format::Table => Ok(tabulate::render(answer)),
        Format::Env => env(answer),
        Format::CredentialProcess => pretty(&credential_process(answer)?),
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) ends the output quietly.
pub fn emit(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// Writes a line to stderr, whatever becomes of it (a closed stderr must not stop us).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn pretty(value: &Value) -> Result<String> {
    let text = serde_json::to_string_pretty(value).context("cannot format the answer")?;
    Ok(text + "\n")
}

/// A string as its text, anything else as JSON; one line (or block) per value.
fn unquoted(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text}\n"),
        other => serde_json::to_string_pretty(other).unwrap_or_default() + "\n",
    }
}

fn field(answer: &Value, name: &str) -> Result<Value> {
    let Value::Object(map) = answer else {
        bail!("--field {name}: the answer is not an object; use --jq-expression");
    };
    map.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = map.keys().map(String::as_str).collect();
        anyhow!(
            "--field {name}: the answer has no such field (it has: {})",
            known.join(", ")
        )
    })
}

/// Access key, secret and (for sessions) token of an answer that carries AWS credentials.
struct AwsCredentials<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: Option<&'a str>,
    expiration: Option<&'a str>,
}

fn aws_credentials(answer: &Value) -> Option<AwsCredentials<'_>> {
    let text = |key: &str| {
        answer
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    Some(AwsCredentials {
        access_key_id: text("access_key_id")?,
        secret_access_key: text("secret_access_key")?,
        session_token: text("session_token"),
        expiration: text("expiration"),
    })
}

/// The AWS CLI's `credential_process` output (version 1).
fn credential_process(answer: &Value) -> Result<Value> {
    let creds = aws_credentials(answer).ok_or_else(|| {
        anyhow!(
            "the answer holds no access key (is programmatic access off for this dynamic secret?); \
             credential-process needs one"
        )
    })?;
    let mut out = json!({
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
    });
    if let Some(token) = creds.session_token {
        out["SessionToken"] = json!(token);
    }
    if let Some(expiration) = creds.expiration {
        out["Expiration"] = json!(expiration);
    }
    Ok(out)
}

/// `export NAME='value'` lines: AWS's names for credentials, else the answer's keys in capitals.
fn env(answer: &Value) -> Result<String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(creds) = aws_credentials(answer) {
        pairs.push(("AWS_ACCESS_KEY_ID".into(), creds.access_key_id.into()));
        pairs.push((
            "AWS_SECRET_ACCESS_KEY".into(),
            creds.secret_access_key.into(),
        ));
        if let Some(token) = creds.session_token {
            pairs.push(("AWS_SESSION_TOKEN".into(), token.into()));
        }
        if let Some(expiration) = creds.expiration {
            pairs.push(("AWS_CREDENTIAL_EXPIRATION".into(), expiration.into()));
        }
    } else {
        let Value::Object(map) = answer else {
            bail!("--format env needs an object; use --format json or --jq-expression");
        };
        for (key, value) in map {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                // Nothing to export (`"creds": {}` of `auth`).
                Value::Array(items) if items.is_empty() => continue,
                Value::Object(inner) if inner.is_empty() => continue,
                _ => bail!(
                    "--format env needs a flat answer, but '{key}' holds a list or an object; \
                     use --format json or --jq-expression"
                ),
            };
            pairs.push((env_name(key), text));
        }
    }
    Ok(pairs
        .iter()
        .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
        .collect())
}

/// `user-ttl` → `USER_TTL`.
fn env_name(key: &str) -> String {
    let name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// Single-quoted for POSIX shells: nothing inside is expanded.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse::tests::{run, usage_error};

    fn options(line: &[&str]) -> OutputOptions {
        run(line).output
    }

    fn value() -> Value {
        json!({
            "id": "l-1",
            "access_key_id": "ASIA1",
            "secret_access_key": "s3cr'et",
            "session_token": "tok",
            "expiration": "2030-01-01T00:00:00Z",
            "ttl_in_minutes": "60",
        })
    }

    #[test]
    fn credential_process_is_the_aws_cli_format() {
        let opts = options(&[
            "get-dynamic-secret-value",
            "-n",
            "/x",
            "--format",
            "credential-process",
        ]);
        let text = render(&value(), &opts, Format::Json).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({
                "Version": 1,
                "AccessKeyId": "ASIA1",
                "SecretAccessKey": "s3cr'et",
                "SessionToken": "tok",
                "Expiration": "2030-01-01T00:00:00Z",
            })
        );
        let console_only = json!({"id": "l-2", "console_password": "p"});
        assert!(render(&console_only, &opts, Format::Json).is_err());
        let message = usage_error(&["list-targets", "--format", "credential-process"]);
        assert!(message.contains("get-dynamic-secret-value"), "{message}");
    }

    #[test]
    fn env_uses_aws_names_and_quotes_for_the_shell() {
        let opts = options(&["get-dynamic-secret-value", "-n", "/x", "--format", "env"]);
        assert_eq!(
            render(&value(), &opts, Format::Json).unwrap(),
            "export AWS_ACCESS_KEY_ID='ASIA1'\n\
             export AWS_SECRET_ACCESS_KEY='s3cr'\\''et'\n\
             export AWS_SESSION_TOKEN='tok'\n\
             export AWS_CREDENTIAL_EXPIRATION='2030-01-01T00:00:00Z'\n"
        );
        let other = json!({"token": "t", "expiration": "e", "ok": true, "creds": {}});
        assert_eq!(
            render(&other, &opts, Format::Json).unwrap(),
            "export TOKEN='t'\nexport EXPIRATION='e'\nexport OK='true'\n"
        );
        assert!(render(&json!({"a": [1]}), &opts, Format::Json).is_err());
    }

    #[test]
    fn field_and_jq_print_strings_unquoted() {
        let opts = options(&[
            "get-dynamic-secret-value",
            "-n",
            "/x",
            "--field",
            "access_key_id",
        ]);
        assert_eq!(render(&value(), &opts, Format::Json).unwrap(), "ASIA1\n");
        let opts = options(&["get-dynamic-secret-value", "-n", "/x", "--field", "nope"]);
        let err = render(&value(), &opts, Format::Json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("access_key_id"), "{err}");
        let opts = options(&[
            "get-dynamic-secret-value",
            "-n",
            "/x",
            "--jq-expression",
            ".access_key_id, {t: .ttl_in_minutes}",
        ]);
        assert_eq!(
            render(&value(), &opts, Format::Json).unwrap(),
            "ASIA1\n{\n  \"t\": \"60\"\n}\n"
        );
        let message = usage_error(&["list-targets", "--jq-expression", ".targets["]);
        assert!(message.contains("invalid --jq-expression"), "{message}");
    }

    #[test]
    fn json_is_the_default_and_json_flag_changes_nothing() {
        let answer = json!({"a": 1});
        for line in [vec!["list-targets"], vec!["list-targets", "--json"]] {
            let opts = options(&line);
            assert_eq!(
                render(&answer, &opts, Format::Json).unwrap(),
                "{\n  \"a\": 1\n}\n"
            );
        }
        let opts = options(&["list-targets", "--format", "table"]);
        assert_eq!(render(&answer, &opts, Format::Json).unwrap(), "a  1\n");
    }
}
