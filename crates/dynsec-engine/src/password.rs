//! Console passwords that satisfy the requested character classes.

use dynsec_core::{PasswordPolicy, SecretString};
use rand::seq::SliceRandom;
use rand::Rng;

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
/// Symbols IAM's password policy counts as non-alphanumeric.
const SYMBOLS: &[u8] = b"!@#$%^&*()_+-=[]{}|";

/// A password of `policy.length` characters with at least one from every
/// enabled class, drawn from the OS RNG and shuffled.
pub fn generate(policy: &PasswordPolicy) -> SecretString {
    let classes: Vec<&[u8]> = [
        (policy.upper, UPPER),
        (policy.lower, LOWER),
        (policy.digits, DIGITS),
        (policy.symbols, SYMBOLS),
    ]
    .into_iter()
    .filter_map(|(on, set)| on.then_some(set))
    .collect();
    let all: Vec<u8> = classes.concat();
    let mut rng = rand::rngs::OsRng;
    let length = usize::try_from(policy.length)
        .unwrap_or(20)
        .max(classes.len());
    let mut chars: Vec<u8> = classes
        .iter()
        .map(|set| set[rng.gen_range(0..set.len())])
        .collect();
    while chars.len() < length {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    let password = SecretString::new(String::from_utf8_lossy(&chars).into_owned());
    zeroize::Zeroize::zeroize(&mut chars);
    password
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_length_and_classes() {
        let policy = PasswordPolicy {
            length: 12,
            upper: true,
            lower: false,
            digits: true,
            symbols: false,
        };
        for _ in 0..50 {
            let p = generate(&policy);
            let p = p.expose();
            assert_eq!(p.len(), 12);
            assert!(p.bytes().any(|c| c.is_ascii_uppercase()));
            assert!(p.bytes().any(|c| c.is_ascii_digit()));
            assert!(!p
                .bytes()
                .any(|c| c.is_ascii_lowercase() || SYMBOLS.contains(&c)));
        }
        let all = generate(&PasswordPolicy::default());
        assert!(all.expose().bytes().any(|c| SYMBOLS.contains(&c)));
    }
}
