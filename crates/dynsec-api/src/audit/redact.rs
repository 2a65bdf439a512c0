//! Redaction of error messages: a wrongly typed field's value can be echoed
//! by a parse error, so every value of a secret-looking body field is
//! blanked out of the message before the audit writes it.

use serde_json::Value;

/// Whether a body field (any nesting level) may hold a secret: tokens, access
/// keys, secret keys, passwords, key fragments. Ids and names are not.
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "-");
    if name.ends_with("-id") || name.ends_with("-name") || name == "name" {
        return false;
    }
    [
        "token",
        "key",
        "secret",
        "password",
        "fragment",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `message` with every value of a secret-looking body field blanked out.
pub(super) fn redact(message: &str, body: Option<&Value>) -> String {
    let mut secrets = Vec::new();
    if let Some(body) = body {
        collect_secrets(body, false, &mut secrets);
    }
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut message = message.to_string();
    for secret in secrets {
        if message.contains(&secret) {
            message = message.replace(&secret, "[redacted]");
        }
    }
    message
}

fn collect_secrets(value: &Value, secret: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                collect_secrets(value, secret || is_secret_field(key), out);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_secrets(item, secret, out)),
        // Very short values would blank out ordinary words of the message and
        // are no secret worth hiding.
        Value::String(s) if secret && s.chars().count() >= 4 => out.push(s.clone()),
        Value::Number(n) if secret && n.to_string().len() >= 4 => out.push(n.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_field_names() {
        for name in [
            "token",
            "uid-token",
            "access-key",
            "access_key",
            "aws-access-secret-key",
            "password",
            "customer-fragment",
            "secret-access-key",
        ] {
            assert!(is_secret_field(name), "{name}");
        }
        for name in [
            "access-id",
            "access-key-id",
            "name",
            "target-name",
            "user-ttl",
            "producer-encryption-key-name",
        ] {
            assert!(!is_secret_field(name), "{name}");
        }
    }

    #[test]
    fn secret_values_are_blanked_longest_first_at_any_depth() {
        let body = json!({"access-key": "wJalrXUtnFEMI", "name": "/a",
            "nested": {"session-token": "sess-xyz"}, "aws-access-secret-key": "wJalr"});
        assert_eq!(
            redact(
                "bad 'wJalrXUtnFEMI', 'sess-xyz', 'wJalr' at /a",
                Some(&body)
            ),
            "bad '[redacted]', '[redacted]', '[redacted]' at /a"
        );
        assert_eq!(redact("no body", None), "no body");
    }
}
