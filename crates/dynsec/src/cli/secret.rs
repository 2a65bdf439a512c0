//! Secret flag values, kept off the command line: `-` reads standard input, `@path` reads a
//! file, and a secret flag given no value prompts on the terminal without echo. A value typed
//! on the command line still works (the Akeyless CLI's habit) but earns a warning: other users
//! see it in `ps`, and the shell keeps it in its history.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::error::UsageError;
use super::output::note;
use super::parse::{Invocation, SecretSource};

/// Where secrets are read from; tests substitute their own.
pub trait SecretInput {
    fn stdin(&mut self) -> std::io::Result<String>;
    fn file(&mut self, path: &Path) -> std::io::Result<String>;
    /// Whether a person can be prompted (stdin is a terminal).
    fn is_terminal(&self) -> bool;
    fn prompt(&mut self, prompt: &str) -> std::io::Result<String>;
    fn warn(&mut self, message: &str);
}

/// The process's stdin, files and terminal.
pub struct Console;

impl SecretInput for Console {
    fn stdin(&mut self) -> std::io::Result<String> {
        let mut text = String::new();
        std::io::stdin().lock().read_to_string(&mut text)?;
        Ok(text)
    }

    fn file(&mut self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn is_terminal(&self) -> bool {
        use std::io::IsTerminal;
        std::io::stdin().is_terminal()
    }

    fn prompt(&mut self, prompt: &str) -> std::io::Result<String> {
        rpassword::prompt_password(prompt)
    }

    fn warn(&mut self, message: &str) {
        note(message);
    }
}

/// Reads every secret of `inv` and puts it where its flag says.
pub fn resolve(inv: &mut Invocation, input: &mut dyn SecretInput) -> Result<()> {
    for (flag, source) in std::mem::take(&mut inv.secrets) {
        let value = match source {
            SecretSource::Literal(value) => {
                input.warn(&format!(
                    "warning: a secret given on the command line (--{0}) is visible to other \
                     users and kept in your shell history; use --{0} - (stdin), --{0} @FILE, \
                     or --{0} alone to be prompted",
                    flag.name
                ));
                value
            }
            SecretSource::Stdin => {
                let text = input
                    .stdin()
                    .with_context(|| format!("--{}: cannot read stdin", flag.name))?;
                one_value(flag.name, "stdin", &text)?
            }
            SecretSource::File(path) => {
                let text = input
                    .file(&path)
                    .with_context(|| format!("--{}: cannot read {}", flag.name, path.display()))?;
                one_value(flag.name, &path.display().to_string(), &text)?
            }
            SecretSource::Prompt => {
                if !input.is_terminal() {
                    return Err(UsageError::new(format!(
                        "--{0} needs a value: give --{0} - to read it from stdin, --{0} @FILE \
                         to read a file, or run on a terminal to be prompted",
                        flag.name
                    ))
                    .into());
                }
                let label = flag.name.replace('-', " ");
                let text = input
                    .prompt(&format!("{label}: "))
                    .with_context(|| format!("--{}: cannot read from the terminal", flag.name))?;
                one_value(flag.name, "the prompt", &text)?
            }
        };
        inv.set(flag, Value::String(value));
    }
    Ok(())
}

/// The text without its final line break; empty is refused.
fn one_value(flag: &str, from: &str, text: &str) -> Result<String, UsageError> {
    let value = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    if value.is_empty() {
        return Err(UsageError::new(format!(
            "--{flag}: {from} gave an empty value"
        )));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse::tests::run;
    use std::collections::HashMap;
    use std::path::PathBuf;

    #[derive(Default)]
    struct Fake {
        stdin: String,
        files: HashMap<PathBuf, String>,
        terminal: bool,
        typed: String,
        prompts: Vec<String>,
        warnings: Vec<String>,
    }

    impl SecretInput for Fake {
        fn stdin(&mut self) -> std::io::Result<String> {
            Ok(std::mem::take(&mut self.stdin))
        }
        fn file(&mut self, path: &Path) -> std::io::Result<String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
        fn is_terminal(&self) -> bool {
            self.terminal
        }
        fn prompt(&mut self, prompt: &str) -> std::io::Result<String> {
            self.prompts.push(prompt.to_owned());
            Ok(self.typed.clone())
        }
        fn warn(&mut self, message: &str) {
            self.warnings.push(message.to_owned());
        }
    }

    #[test]
    fn stdin_file_and_prompt() {
        let mut fake = Fake {
            stdin: "from-stdin\n".into(),
            files: HashMap::from([(PathBuf::from("/k"), "from-file\r\n".into())]),
            ..Fake::default()
        };
        let mut inv = run(&[
            "create-aws-target",
            "-n",
            "/t",
            "--access-key",
            "-",
            "--session-token",
            "@/k",
        ]);
        resolve(&mut inv, &mut fake).unwrap();
        assert_eq!(inv.body_str("access-key"), Some("from-stdin"));
        assert_eq!(inv.body_str("session-token"), Some("from-file"));
        assert!(fake.warnings.is_empty(), "{:?}", fake.warnings);

        let mut fake = Fake {
            terminal: true,
            typed: "typed".into(),
            ..Fake::default()
        };
        let mut inv = run(&["configure", "--access-id", "p-1", "--access-key"]);
        resolve(&mut inv, &mut fake).unwrap();
        assert_eq!(inv.local("access-key"), Some("typed"));
        assert_eq!(fake.prompts, ["access key: "]);
    }

    #[test]
    fn no_terminal_no_prompt() {
        let mut inv = run(&["auth", "--access-id", "p-1", "--access-key"]);
        let err = resolve(&mut inv, &mut Fake::default()).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        let message = err.to_string();
        assert!(message.contains("--access-key -"), "{message}");
    }

    #[test]
    fn literal_values_work_with_a_warning_that_does_not_repeat_them() {
        let mut fake = Fake::default();
        let mut inv = run(&["auth", "--access-id", "p-1", "--access-key", "k3y"]);
        resolve(&mut inv, &mut fake).unwrap();
        assert_eq!(inv.body_str("access-key"), Some("k3y"));
        assert_eq!(fake.warnings.len(), 1);
        assert!(fake.warnings[0].contains("--access-key"));
        assert!(!fake.warnings[0].contains("k3y"));
    }

    #[test]
    fn empty_and_missing_sources_are_refused() {
        let mut fake = Fake {
            stdin: "\n".into(),
            ..Fake::default()
        };
        let mut inv = run(&["auth", "--access-key", "-"]);
        let err = resolve(&mut inv, &mut fake).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let mut inv = run(&["auth", "--access-key", "@/nope"]);
        let err = resolve(&mut inv, &mut Fake::default()).unwrap_err();
        assert!(format!("{err:#}").contains("/nope"), "{err:#}");
    }
}
