//! `--jq-expression`: the answer filtered through a jq program, run by jaq (a jq
//! implementation in Rust) with jq's standard library.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;
use serde_json::Value;

use super::error::UsageError;

/// Checks that `code` is a valid jq program, before anything is sent.
pub fn check(code: &str) -> Result<(), UsageError> {
    run(code, &Value::Null)
        .map(|_| ())
        .or_else(|err| match err {
            JqError::Invalid(message) => Err(UsageError::new(message)),
            // Running on `null` may fail where the real answer will not.
            JqError::Failed(_) => Ok(()),
        })
}

/// Why a jq program gave no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum JqError {
    /// It does not parse or names something undefined.
    Invalid(String),
    /// It failed on this input (`.a.b` on a string, `error(...)`, ...).
    Failed(String),
}

impl std::fmt::Display for JqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JqError::Invalid(message) | JqError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for JqError {}

/// Every output of `code` run on `input`.
pub fn run(code: &str, input: &Value) -> Result<Vec<Value>, JqError> {
    let input = jaq_json::read::parse_single(input.to_string().as_bytes())
        .map_err(|err| JqError::Failed(format!("cannot read the answer as JSON: {err}")))?;
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|errors| JqError::Invalid(load_message(code, errors)))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let names: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, undefined)| undefined)
                .map(|(name, kind)| format!("{} '{name}'", kind.as_str()))
                .collect();
            JqError::Invalid(format!(
                "invalid --jq-expression: undefined {}",
                names.join(", ")
            ))
        })?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut outputs = Vec::new();
    for output in filter.id.run((ctx, input)).map(unwrap_valr) {
        let value = output.map_err(|err| JqError::Failed(format!("--jq-expression: {err}")))?;
        // jaq prints JSON; serde reads it back so the rest of the output code sees one type.
        let value = serde_json::from_str(&value.to_string()).map_err(|_| {
            JqError::Failed(format!(
                "--jq-expression produced a value that is not JSON: {value}"
            ))
        })?;
        outputs.push(value);
    }
    Ok(outputs)
}

fn load_message(code: &str, errors: jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error;
    // A position: what follows the place the parser stopped at.
    let at = |rest: &str| {
        let offset = code.len().saturating_sub(rest.len());
        if rest.is_empty() {
            " at the end".to_owned()
        } else {
            format!(
                " at position {offset} ('{}')",
                rest.chars().take(12).collect::<String>()
            )
        }
    };
    let mut reasons = Vec::new();
    for (_, error) in errors {
        match error {
            Error::Io(problems) => reasons.extend(
                problems
                    .into_iter()
                    .map(|(path, why)| format!("{path}: {why}")),
            ),
            Error::Lex(problems) => reasons.extend(problems.into_iter().map(|(expected, rest)| {
                use jaq_core::load::lex::Expect;
                let what = match expected {
                    Expect::Digit => "a digit",
                    Expect::Ident => "an identifier",
                    Expect::Delim("(") => "a closing parenthesis",
                    Expect::Delim("[") => "a closing bracket",
                    Expect::Delim("{") => "a closing brace",
                    Expect::Delim(_) => "a closing delimiter",
                    Expect::Escape => "an escape sequence",
                    Expect::Unicode => "a unicode escape",
                    Expect::Token => "a token",
                    _ => "something else",
                };
                format!("expected {what}{}", at(rest))
            })),
            Error::Parse(problems) => {
                reasons.extend(problems.into_iter().map(|(expected, found)| {
                    format!("expected {}{}", expected.as_str(), at(found))
                }))
            }
        }
    }
    format!("invalid --jq-expression: {}", reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_like_jq() {
        let answer = json!({"access_key_id": "AKIA1", "n": [1, 2], "o": {"k": "v"}});
        assert_eq!(run(".access_key_id", &answer).unwrap(), [json!("AKIA1")]);
        assert_eq!(run(".n[]", &answer).unwrap(), [json!(1), json!(2)]);
        assert_eq!(
            run("keys", &answer).unwrap(),
            [json!(["access_key_id", "n", "o"])]
        );
        assert_eq!(
            run("{id: .access_key_id} | to_entries | map(.key)", &answer).unwrap(),
            [json!(["id"])]
        );
        assert_eq!(run(".n | map(. * 10) | add", &answer).unwrap(), [json!(30)]);
    }

    #[test]
    fn invalid_programs_are_usage_errors_and_failures_are_not() {
        let err = check(".[").unwrap_err().to_string();
        assert!(err.contains("--jq-expression"), "{err}");
        let err = check("nosuchfilter").unwrap_err().to_string();
        assert!(err.contains("undefined filter 'nosuchfilter'"), "{err}");
        check(".a.b").unwrap();
        let failed = run(".o.k.x", &json!({"o": {"k": "v"}})).unwrap_err();
        assert!(matches!(failed, JqError::Failed(_)), "{failed:?}");
    }
}
