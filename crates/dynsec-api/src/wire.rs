//! Reading Akeyless-shaped request bodies leniently: booleans may arrive as
//! `"true"`/`"false"`, numbers as strings, lists as comma-separated strings, and
//! unknown keys are ignored. Errors name the offending field.

use crate::ApiError;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// Deserializes a request body into `T`, naming the field on failure.
pub fn parse<T: DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|err| {
        let field = err.path().to_string();
        let reason = err.inner().to_string();
        if field.is_empty() || field == "." {
            ApiError::bad_request(format!("invalid request: {reason}"))
        } else {
            ApiError::bad_request(format!("invalid {field}: {reason}"))
        }
    })
}

/// A required string field: present and not blank.
pub fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::bad_request(format!(
            "missing required field '{field}'"
        ))),
    }
}

/// `true`, `"true"`, `"yes"`, `1` → true; `false`, `"false"`, `""`, `0`, null → false.
pub fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(n)) => Some(n.as_f64().unwrap_or(0.0) != 0.0),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            other => return Err(de::Error::custom(format!("'{other}' is not true or false"))),
        },
        Some(other) => return Err(de::Error::custom(format!("{other} is not a boolean"))),
    })
}

/// A non-negative integer given as a number or a numeric string.
pub fn flex_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| de::Error::custom(format!("{n} is not a non-negative integer")))?,
        ),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            s.trim()
                .parse()
                .map_err(|_| de::Error::custom(format!("'{s}' is not a non-negative integer")))?,
        ),
        Some(other) => return Err(de::Error::custom(format!("{other} is not a number"))),
    })
}

/// A list of strings given as a JSON list or one comma-separated string.
pub fn flex_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => dynsec_core::spec::split_list(&s),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(de::Error::custom(format!("{other} is not a string"))),
            })
            .filter(|r| !matches!(r, Ok(s) if s.is_empty()))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(de::Error::custom(format!(
                "{other} is not a list of strings"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "kebab-case")]
    struct Sample {
        #[serde(default, deserialize_with = "flex_bool")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "flex_u64")]
        count: Option<u64>,
        #[serde(default, deserialize_with = "flex_list")]
        items: Vec<String>,
    }

    #[test]
    fn accepts_akeyless_shapes() {
        let s: Sample =
            parse(&json!({"flag": "true", "count": "20", "items": "a, b", "other": 1})).unwrap();
        assert_eq!(
            (s.flag, s.count, s.items),
            (Some(true), Some(20), vec!["a".into(), "b".into()])
        );
        let s: Sample = parse(&json!({"flag": false, "count": 3, "items": ["x"]})).unwrap();
        assert_eq!(
            (s.flag, s.count, s.items),
            (Some(false), Some(3), vec!["x".into()])
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse::<Sample>(&json!({"count": "many"})).unwrap_err();
        assert!(err.message.contains("count"), "{}", err.message);
        let err = parse::<Sample>(&json!({"flag": "maybe"})).unwrap_err();
        assert!(err.message.contains("flag"), "{}", err.message);
    }
}
