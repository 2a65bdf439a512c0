//! End-to-end tests of the `dynsec` CLI binary against a real gateway and moto:
//! the seed document's `akeyless ...` commands, run verbatim as `dynsec ...`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, World, GROUP_NAME, TARGET};
use dynsec_testkit::{Gateway, TempDir, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

/// Environment variables the CLI reads; removed from every child unless a test sets them.
const CLI_ENV: &[&str] = &[
    "DYNSEC_GATEWAY_URL",
    "DYNSEC_ACCESS_ID",
    "DYNSEC_ACCESS_KEY",
    "DYNSEC_PROFILE",
    "DYNSEC_CA_FILE",
];

/// A CLI user: its own `DYNSEC_HOME` and chosen environment.
struct Cli {
    home: TempDir,
    env: Vec<(String, String)>,
}

/// What one CLI run produced.
struct Run {
    line: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "`dynsec {}` exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.line, self.code, self.stdout, self.stderr
        )
    }

    /// Asserts success with JSON on stdout and returns it.
    fn json(&self) -> Value {
        assert_eq!(self.code, Some(0), "{}", self.describe());
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.describe()))
    }

    /// Asserts failure with nothing on stdout; returns stderr.
    fn failure(&self) -> &str {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "expected a failure: {}",
            self.describe()
        );
        assert!(
            self.stdout.trim().is_empty(),
            "nothing may be printed on stdout on failure: {}",
            self.describe()
        );
        assert!(
            !self.stderr.trim().is_empty(),
            "a failure must say why: {}",
            self.describe()
        );
        &self.stderr
    }
}

impl Cli {
    fn new() -> Cli {
        Cli {
            home: TempDir::new("dynsec-cli-home"),
            env: Vec::new(),
        }
    }

    fn env(mut self, key: &str, value: &str) -> Cli {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// A user whose default profile holds the preset admin and the gateway URL.
    async fn configured(gateway: &Gateway) -> Cli {
        let cli = Cli::new();
        cli.run(&[
            "configure",
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
            ADMIN_ACCESS_KEY,
            "--gateway-url",
            &gateway.url,
        ])
        .await
        .assert_ok();
        cli
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(bin());
        command
            .args(args)
            .env("DYNSEC_HOME", self.home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in CLI_ENV {
            command.env_remove(key);
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let line = args.join(" ");
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .unwrap_or_else(|_| panic!("`dynsec {line}` did not finish within 120 s"))
            .unwrap_or_else(|e| panic!("cannot run `dynsec {line}`: {e}"));
        Run {
            line,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    fn assert_ok(&self) -> &Run {
        assert_eq!(self.code, Some(0), "{}", self.describe());
        self
    }
}

/// The seed's `https:\\host:port` spelling, with http (the test gateway has no TLS).
fn backslash_url(gateway: &Gateway) -> String {
    let host_port = gateway
        .url
        .strip_prefix("http://")
        .expect("test gateway URL is http://");
    format!("http:\\\\{host_port}")
}

/// The ARN the credential in `value` acts as, according to moto.
async fn caller_arn(world: &World, value: &Value) -> String {
    let me = world
        .sts_as(value)
        .get_caller_identity()
        .send()
        .await
        .unwrap_or_else(|e| panic!("issued credential rejected by moto: {e:?}"));
    me.arn().unwrap_or_default().to_string()
}

/// A port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn configure_then_seed_create_with_target_and_fetch_value() {
    let world = World::start().await;
    let cli = Cli::new();

    let saved = cli
        .run(&[
            "configure",
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
            ADMIN_ACCESS_KEY,
            "--gateway-url",
            &world.gw().url,
        ])
        .await;
    saved.assert_ok();
    assert!(
        !saved.stdout.contains(ADMIN_ACCESS_KEY) && !saved.stderr.contains(ADMIN_ACCESS_KEY),
        "configure must not echo the access key: {}",
        saved.describe()
    );
    // The profile lives under DYNSEC_HOME, readable only by its owner.
    let mut profiles = Vec::new();
    let mut dirs = vec![cli.home.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                profiles.push(path);
            }
        }
    }
    assert_eq!(profiles.len(), 1, "one profile file expected: {profiles:?}");
    let profile = &profiles[0];
    assert!(
        saved.stdout.contains(&profile.display().to_string()),
        "configure names the file it wrote: {}",
        saved.describe()
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(profile).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", profile.display());
    }
    let text = std::fs::read_to_string(profile).unwrap();
    assert!(text.contains(ADMIN_ACCESS_ID), "{text}");

    // The seed's first command, verbatim.
    let name = "/cli-t1/aws/dev-creds";
    let created = cli
        .run(&[
            "gateway-create-producer-aws",
            "--name",
            name,
            "--target-name",
            TARGET,
            "--gateway-url",
            &backslash_url(world.gw()),
            "--aws-access-mode",
            "iam_user",
            "--aws-user-policies",
            &world.policy_arn,
            "--aws-user-groups",
            GROUP_NAME,
            "--aws-role-arns",
            &world.role_arn,
        ])
        .await
        .json();
    assert!(
        created.to_string().contains(name),
        "the answer names the secret: {created}"
    );

    // The seed's fetch command, verbatim (gateway and credentials from the profile).
    let value = cli
        .run(&["get-dynamic-secret-value", "--name", name])
        .await
        .json();
    assert!(
        value["access_key_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{value}"
    );
    assert!(
        value["secret_access_key"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{value}"
    );
    let arn = caller_arn(&world, &value).await;
    assert!(arn.contains("user/dynsec/tmp."), "{arn}");
}

#[tokio::test]
async fn seed_create_with_inline_connection_then_fetch_value() {
    let world = World::start().await;
    // Inline connections carry no endpoint: this gateway reaches moto through AWS_ENDPOINT_URL.
    let dir = TempDir::new("dynsec-cli-inline");
    let gateway = Gateway::start(
        &bin(),
        &dir.path().join("data"),
        &[("AWS_ENDPOINT_URL", &world.moto.endpoint)],
    )
    .await;
    let cli = Cli::configured(&gateway).await;

    let name = "/cli-t2/inline-creds";
    cli.run(&[
        "gateway-create-producer-aws",
        "--name",
        name,
        "--gateway-url",
        &backslash_url(&gateway),
        "--aws-access-mode",
        "iam_user",
        "--aws-user-policies",
        &world.policy_arn,
        "--aws-user-groups",
        GROUP_NAME,
        "--aws-role-arns",
        &world.role_arn,
        "--aws-access-key-id",
        &world.admin.access_key_id,
        "--aws-access-secret-key",
        &world.admin.secret_access_key,
        "--aws-region",
        "us-east-1",
    ])
    .await
    .json();

    let value = cli
        .run(&["get-dynamic-secret-value", "--name", name])
        .await
        .json();
    let arn = caller_arn(&world, &value).await;
    assert!(arn.contains("user/dynsec/tmp."), "{arn}");
    // The admin secret never comes back.
    let shown = cli.run(&["gateway-get-producer", "--name", name]).await;
    assert!(
        !shown.stdout.contains(&world.admin.secret_access_key),
        "{}",
        shown.describe()
    );
}

#[tokio::test]
async fn assumed_role_with_role_arn_argument() {
    let world = World::start().await;
    let cli = Cli::configured(world.gw()).await;
    let name = "/cli-t3/roles";
    let roles = format!("{},{}", world.role_arn, world.second_role_arn);
    cli.run(&[
        "gateway-create-producer-aws",
        "--name",
        name,
        "--target-name",
        TARGET,
        "--aws-access-mode",
        "assumed_role",
        "--aws-role-arns",
        &roles,
        "--user-ttl",
        "15m",
    ])
    .await
    .json();

    let role_arg = format!("role-arn={}", world.second_role_arn);
    let value = cli
        .run(&[
            "get-dynamic-secret-value",
            "--name",
            name,
            "--args",
            &role_arg,
        ])
        .await
        .json();
    assert!(
        value["session_token"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{value}"
    );
    let arn = caller_arn(&world, &value).await;
    assert!(
        arn.contains(&format!("assumed-role/{}/", common::SECOND_ROLE_NAME)),
        "{arn}"
    );
}

#[tokio::test]
async fn environment_works_alone_and_beats_the_profile() {
    let world = World::start().await;
    let url = &world.gw().url;

    // No profile at all: the environment is enough.
    let env_only = Cli::new()
        .env("DYNSEC_GATEWAY_URL", url)
        .env("DYNSEC_ACCESS_ID", ADMIN_ACCESS_ID)
        .env("DYNSEC_ACCESS_KEY", ADMIN_ACCESS_KEY);
    let targets = env_only.run(&["list-targets"]).await.json();
    assert!(targets.to_string().contains(TARGET), "{targets}");

    // A profile with a wrong key fails on its own...
    let profiled = Cli::new();
    profiled
        .run(&[
            "configure",
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
            "wrong-key-from-the-profile",
            "--gateway-url",
            url,
        ])
        .await
        .assert_ok();
    profiled.run(&["list-targets"]).await.failure();
    // ...and succeeds once the environment supplies the right key.
    let overridden = Cli {
        home: profiled.home,
        env: Vec::new(),
    }
    .env("DYNSEC_ACCESS_KEY", ADMIN_ACCESS_KEY);
    let targets = overridden.run(&["list-targets"]).await.json();
    assert!(targets.to_string().contains(TARGET), "{targets}");

    // The environment's gateway URL beats the profile's too.
    let moved = Cli::new();
    moved
        .run(&[
            "configure",
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
            ADMIN_ACCESS_KEY,
            "--gateway-url",
            &format!("http://127.0.0.1:{}", closed_port()),
        ])
        .await
        .assert_ok();
    let moved = moved.env("DYNSEC_GATEWAY_URL", url);
    moved.run(&["list-targets"]).await.json();
}

#[tokio::test]
async fn tmp_creds_listing_revocation_items_and_delete_protection() {
    let world = World::start().await;
    let cli = Cli::configured(world.gw()).await;
    let name = "/cli-t5/team/protected";
    cli.run(&[
        "gateway-create-producer-aws",
        "--name",
        name,
        "--target-name",
        TARGET,
        "--aws-access-mode",
        "iam_user",
        "--aws-user-policies",
        &world.policy_arn,
        "--delete_protection",
        "true",
    ])
    .await
    .json();
    let value = cli
        .run(&["get-dynamic-secret-value", "--name", name])
        .await
        .json();
    let key_id = value["access_key_id"].as_str().unwrap().to_string();
    caller_arn(&world, &value).await;

    // The lease is listed with the issued key.
    let leases = cli
        .run(&["gateway-get-producer-tmp-creds", "--name", name])
        .await
        .json();
    let lease = leases
        .as_array()
        .and_then(|all| all.iter().find(|l| l["access_id"] == key_id.as_str()))
        .unwrap_or_else(|| panic!("no lease for {key_id}: {leases}"))
        .clone();
    let lease_id = lease["id"].as_str().unwrap().to_string();
    assert_eq!(
        value["id"].as_str(),
        Some(lease_id.as_str()),
        "{value} vs {lease}"
    );

    // Revoking it makes moto reject the key.
    cli.run(&[
        "gateway-revoke-producer-tmp-creds",
        "--name",
        name,
        "--tmp-creds-id",
        &lease_id,
    ])
    .await
    .json();
    let rejected = world.sts_as(&value).get_caller_identity().send().await;
    assert!(rejected.is_err(), "revoked key still works: {rejected:?}");

    // Folders are listed like directories.
    let root = cli.run(&["list-items", "--path", "/cli-t5"]).await.json();
    let folders: Vec<&str> = root["folders"]
        .as_array()
        .unwrap_or_else(|| panic!("no folders: {root}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(folders, ["/cli-t5/team"], "{root}");
    let team = cli
        .run(&["list-items", "--path", "/cli-t5/team"])
        .await
        .json();
    assert!(
        team["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["item_name"] == name)),
        "{team}"
    );

    // Delete protection refuses the deletion, and says so.
    let refused = cli.run(&["delete-item", "--name", name]).await;
    let stderr = refused.failure().to_ascii_lowercase();
    assert!(
        stderr.contains("delete protection"),
        "{}",
        refused.describe()
    );
    // The item is still there.
    cli.run(&["describe-item", "--name", name]).await.json();
}

#[tokio::test]
async fn failures_exit_non_zero_with_a_readable_message() {
    let world = World::start().await;
    let url = world.gw().url.clone();
    let cli = Cli::configured(world.gw()).await;

    // Unknown access mode: the gateway refuses, naming the field.
    let run = cli
        .run(&[
            "gateway-create-producer-aws",
            "--name",
            "/cli-t6/bad-mode",
            "--target-name",
            TARGET,
            "--aws-access-mode",
            "root_user",
        ])
        .await;
    assert!(run.failure().contains("access-mode"), "{}", run.describe());

    // Unknown flag: a usage error naming the flag.
    let run = cli
        .run(&[
            "get-dynamic-secret-value",
            "--name",
            "/x",
            "--no-such-flag",
            "1",
        ])
        .await;
    assert!(
        run.failure().contains("--no-such-flag"),
        "{}",
        run.describe()
    );
    assert_eq!(run.code, Some(2), "usage errors exit 2: {}", run.describe());

    // Wrong access key: refused, with a message a person can read.
    let run = Cli::new()
        .env("DYNSEC_GATEWAY_URL", &url)
        .env("DYNSEC_ACCESS_ID", ADMIN_ACCESS_ID)
        .env("DYNSEC_ACCESS_KEY", "not-the-key")
        .run(&["list-targets"])
        .await;
    let stderr = run.failure().to_ascii_lowercase();
    assert!(
        stderr.contains("authentication failed") || stderr.contains("access denied"),
        "{}",
        run.describe()
    );
    assert!(
        !stderr.contains('{'),
        "raw JSON in the message: {}",
        run.describe()
    );

    // No gateway on that port: the message names the URL.
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let run = cli
        .run(&[
            "get-dynamic-secret-value",
            "--name",
            "/x",
            "--gateway-url",
            &dead,
        ])
        .await;
    assert!(run.failure().contains(&dead), "{}", run.describe());
}
