//! The OpenAPI document, end to end: the gateway binary serves it at
//! `GET /api/v2/openapi.json` with a path for every operation it serves, and
//! schemathesis, fuzzing every operation from that document against the
//! gateway (moto behind it, with a target and a dynamic secret to find),
//! gets no 5xx and only `{"error": "..."}` JSON errors.
//!
//! schemathesis is found through `$DYNSEC_SCHEMATHESIS` (scripts/test.sh
//! installs it from tests/schemathesis/requirements.txt), else on `PATH`.
//! `DYNSEC_SCHEMATHESIS_EXAMPLES` (default 10 per operation) and
//! `DYNSEC_SCHEMATHESIS_SEED` (default fixed, so a run is repeatable) tune it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::World;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_documented_and_fuzzing_finds_no_5xx_and_only_json_errors() {
    let world = World::start().await;
    world.iam_user_secret("/fuzz/iam", json!({})).await;
    let gw = world.gw();

    let document: Value = reqwest::get(format!("{}/api/v2/openapi.json", gw.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{document}"
    );
    for name in dynsec_api::SERVED_OPERATIONS {
        assert!(
            document["paths"][format!("/api/v2/{name}")]["post"].is_object(),
            "{name} has no path in the document"
        );
    }

    let program = std::env::var("DYNSEC_SCHEMATHESIS")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "schemathesis".into());
    let examples = std::env::var("DYNSEC_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "10".into());
    let seed = std::env::var("DYNSEC_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261202".into());
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/schemathesis");
    let token = gw.token().await;
    let mut command = tokio::process::Command::new(&program);
    command
        .arg("run")
        .arg(format!("{}/api/v2/openapi.json", gw.url))
        .args([
            "--checks",
            // No 5xx; every status and content type is one the document
            // names; every error matches its `{"error": string}` schema.
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            &examples,
            "--seed",
            &seed,
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
        ])
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &hooks)
        .env("DYNSEC_TOKEN", &token)
        // Nothing it writes lands in the checkout.
        .current_dir(world.dir.path())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(600), command.output())
        .await
        .expect("schemathesis finished within 10 minutes")
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): install it from tests/schemathesis/requirements.txt \
                 and set DYNSEC_SCHEMATHESIS to its path (scripts/test.sh does)"
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}\n--- gateway log ---\n{}",
        gw.log()
    );
    let tested = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse::<usize>().ok());
    assert_eq!(
        tested,
        Some(dynsec_api::SERVED_OPERATIONS.len()),
        "every operation was fuzzed:\n{stdout}"
    );
    assert!(
        !gw.log().contains("panicked"),
        "no handler panicked:\n{}",
        gw.log()
    );
}
