//! `dynsec gateway create-customer-fragment`: prints a new customer fragment.

use dynsec_crypto::KeyFragment;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// `dynsec gateway create-customer-fragment [--description TEXT]`: prints a
/// new customer fragment as a customer fragments document. The fragment exists
/// nowhere else: keep it (e.g. in the file given to `--customer-fragments`,
/// mode 0600) — keys split with it are lost without it.
pub fn create_customer_fragment_main(args: &[String]) -> ExitCode {
    let mut description = String::new();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--description" => match rest.next() {
                Some(value) => description = value.clone(),
                None => return usage("--description needs a value"),
            },
            "-h" | "--help" => {
                println!(
                    "Usage: dynsec gateway create-customer-fragment [--description TEXT]\n\n\
                     Prints a new customer fragment for split protection keys as JSON. Merge it into\n\
                     the file given to `dynsec gateway --customer-fragments` (keep that file 0600 and\n\
                     backed up: keys split with a lost fragment cannot be recovered)."
                );
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unexpected argument '{other}'")),
        }
    }
    let id = format!("cf-{}", dynsec_crypto::random_id(16));
    let fragment = KeyFragment::generate();
    // Built by hand into a zeroized buffer: a JSON value would keep a copy.
    let value = fragment.to_text();
    let id_json = serde_json::Value::from(id).to_string();
    let description_json = serde_json::Value::from(description).to_string();
    let parts = [
        "{\n  \"customer_fragments\": [\n    {\n      \"id\": ",
        &id_json,
        ",\n      \"value\": \"",
        &value,
        "\",\n      \"description\": ",
        &description_json,
        "\n    }\n  ]\n}",
    ];
    // Sized exactly, so no reallocation leaves a copy of the fragment behind.
    let mut text = Zeroizing::new(String::with_capacity(parts.iter().map(|p| p.len()).sum()));
    for part in parts {
        text.push_str(part);
    }
    println!("{}", text.as_str());
    ExitCode::SUCCESS
}

fn usage(message: &str) -> ExitCode {
    eprintln!(
        "Error: {message}\nUsage: dynsec gateway create-customer-fragment [--description TEXT]"
    );
    ExitCode::from(2)
}
