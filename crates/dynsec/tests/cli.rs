//! End-to-end tests of the `dynsec` CLI binary against a real gateway and moto:
//! the seed document's `akeyless ...` commands, run verbatim as `dynsec ...`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, World, GROUP_NAME, TARGET};
use dynsec_testkit::{Gateway, TempDir, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
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

    /// The CLI as a child process with this user's home and environment.
    fn command(&self, args: &[&str]) -> tokio::process::Command {
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
        command
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None).await
    }

    /// Runs with `stdin` fed to the child (then closed), or with no stdin at all.
    async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command(args);
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let line = args.join(" ");
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `dynsec {line}`: {e}"));
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            use tokio::io::AsyncWriteExt;
            pipe.write_all(text.as_bytes()).await.unwrap();
        }
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
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

    /// Runs with stdout a pipe whose reader has already gone (`dynsec ... | head` once head
    /// exits); returns the exit code and stderr.
    async fn run_into_closed_pipe(&self, args: &[&str]) -> (Option<i32>, String) {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut command = self.command(args);
        command.stdout(Stdio::from(writer));
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .expect("dynsec did not finish within 120 s")
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
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
async fn early_revocation_and_secure_access_delay_flags() {
    let world = World::start().await;
    let cli = Cli::configured(world.gw()).await;
    let name = "/cli-t3/early";
    let created = cli
        .run(&[
            "dynamic-secret-create-aws",
            "--name",
            name,
            "--target-name",
            TARGET,
            "--aws-access-mode",
            "assumed_role",
            "--aws-role-arns",
            &world.role_arn,
            "--user-ttl",
            "15m",
            "--early-revocation",
            "true",
            "--secure-access-delay",
            "5",
        ])
        .await
        .json();
    assert_eq!(
        created["dynamic_secret_details"]["early_revocation"],
        json!(true),
        "{created}"
    );
    // A partial update keeps both.
    cli.run(&[
        "dynamic-secret-update-aws",
        "--name",
        name,
        "--description",
        "early",
    ])
    .await
    .json();
    let details = cli
        .run(&["dynamic-secret-get", "--name", name])
        .await
        .json();
    assert_eq!(details["early_revocation"], json!(true), "{details}");
    assert_eq!(details["secure_access_delay"], json!(5), "{details}");

    let value = cli
        .run(&["get-dynamic-secret-value", "--name", name])
        .await
        .json();
    assert_eq!(value["seen_working"], json!("true"), "{value}");
    let id = value["id"].as_str().unwrap();
    let revoked = cli
        .run(&[
            "dynamic-secret-tmp-creds-delete",
            "--name",
            name,
            "--tmp-creds-id",
            id,
        ])
        .await
        .json();
    assert_eq!(
        revoked["note"],
        json!("deny written; AWS may take minutes to apply it"),
        "{revoked}"
    );
    let out = cli
        .run(&[
            "dynamic-secret-create-aws",
            "--name",
            "/cli-t3/bad",
            "--target-name",
            TARGET,
            "--aws-access-mode",
            "iam_user",
            "--secure-access-delay",
            "121",
        ])
        .await;
    assert!(
        out.failure().contains("secure-access-delay"),
        "{}",
        out.describe()
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

    // A profile with a wrong key (saved unchecked: configure refuses it otherwise) fails on
    // its own...
    let profiled = Cli::new();
    profiled
        .run(&[
            "configure",
            "--no-verify",
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
            "--no-verify",
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

/// `export NAME='value'` lines (as `--format env` prints them) as a map.
fn exported(stdout: &str) -> std::collections::HashMap<String, String> {
    stdout
        .lines()
        .map(|line| {
            let rest = line
                .strip_prefix("export ")
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            let (name, quoted) = rest.split_once('=').unwrap();
            let value = quoted
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or_else(|| panic!("not single-quoted: {line}"))
                .replace(r"'\''", "'");
            (name.to_string(), value)
        })
        .collect()
}

#[tokio::test]
async fn partial_updates_change_only_the_given_flags() {
    let world = World::start().await;
    let cli = Cli::configured(world.gw()).await;
    let name = "/cli-t7/partial";
    cli.run(&[
        "gateway-create-producer-aws",
        "-n",
        name,
        "--target-name",
        TARGET,
        "--aws-access-mode",
        "iam_user",
        "--aws-user-policies",
        &world.policy_arn,
        "--aws-user-groups",
        GROUP_NAME,
        "--tag",
        "team:a",
        "--description",
        "dev creds",
    ])
    .await
    .json();

    // The issue's example: changing the TTL used to empty the policies and groups.
    cli.run(&[
        "gateway-update-producer-aws",
        "--name",
        name,
        "--user-ttl",
        "30m",
    ])
    .await
    .json();
    cli.run(&[
        "dynamic-secret-update-aws",
        "-n",
        name,
        "--delete_protection",
    ])
    .await
    .json();
    let shown = cli
        .run(&["gateway-get-producer", "--name", name])
        .await
        .json();
    assert_eq!(shown["user_ttl"], "30m", "{shown}");
    assert_eq!(
        shown["aws_user_policies"],
        world.policy_arn.as_str(),
        "{shown}"
    );
    assert_eq!(shown["aws_user_groups"], GROUP_NAME, "{shown}");
    assert_eq!(shown["tags"], serde_json::json!(["team:a"]), "{shown}");
    assert_eq!(shown["description"], "dev creds", "{shown}");
    assert_eq!(shown["delete_protection"], true, "{shown}");
    assert_eq!(
        shown["item_targets_assoc"][0]["target_name"], TARGET,
        "{shown}"
    );

    // A target's description changes without its access key (it used to be demanded); its
    // secret and endpoints stay, so issuing through it still works.
    cli.run(&[
        "update-aws-target",
        "--name",
        TARGET,
        "--description",
        "moto admin",
    ])
    .await
    .json();
    let target = cli.run(&["get-target", "--name", TARGET]).await.json();
    assert_eq!(target["comment"], "moto admin", "{target}");
    assert_eq!(
        target["aws_access_key_id"],
        world.admin.access_key_id.as_str(),
        "{target}"
    );
    let value = cli
        .run(&["get-dynamic-secret-value", "--name", name])
        .await
        .json();
    assert!(caller_arn(&world, &value)
        .await
        .contains("user/dynsec/tmp."));

    // An inline connection keeps its secret (from a file here) and endpoints across updates.
    let secret_file = world.dir.path().join("admin-secret");
    std::fs::write(&secret_file, format!("{}\n", world.admin.secret_access_key)).unwrap();
    let inline = "/cli-t7/inline";
    cli.run(&[
        "gateway-create-producer-aws",
        "-n",
        inline,
        "--aws-access-mode",
        "iam_user",
        "--aws-user-policies",
        &world.policy_arn,
        "--aws-access-key-id",
        &world.admin.access_key_id,
        "--aws-access-secret-key",
        &format!("@{}", secret_file.display()),
        "--aws-region",
        "us-east-1",
        "--iam-endpoint",
        &world.moto.endpoint,
        "--sts-endpoint",
        &world.moto.endpoint,
    ])
    .await
    .json();
    cli.run(&[
        "gateway-update-producer-aws",
        "-n",
        inline,
        "--aws-user-groups",
        GROUP_NAME,
    ])
    .await
    .json();
    let shown = cli
        .run(&["gateway-get-producer", "-n", inline])
        .await
        .json();
    assert_eq!(shown["aws_user_groups"], GROUP_NAME, "{shown}");
    assert_eq!(
        shown["aws_user_policies"],
        world.policy_arn.as_str(),
        "{shown}"
    );
    let value = cli
        .run(&["get-dynamic-secret-value", "-n", inline])
        .await
        .json();
    assert!(caller_arn(&world, &value)
        .await
        .contains("user/dynsec/tmp."));

    // A setting of an inline connection on a target-based secret is a mistake, said so.
    let run = cli
        .run(&[
            "gateway-update-producer-aws",
            "-n",
            name,
            "--aws-region",
            "eu-west-1",
        ])
        .await;
    assert!(run.failure().contains(TARGET), "{}", run.describe());
    assert_eq!(run.code, Some(2), "{}", run.describe());
}

#[tokio::test]
async fn flags_that_do_nothing_are_refused_by_the_cli_and_the_gateway() {
    let world = World::start().await;
    let cli = Cli::configured(world.gw()).await;
    let name = "/cli-t8/refusals";
    world.iam_user_secret(name, serde_json::json!({})).await;

    for (args, flag) in [
        (
            vec!["get-dynamic-secret-value", "-n", name, "--timeout", "30"],
            "--timeout",
        ),
        (
            vec!["get-dynamic-secret-value", "-n", name, "--target", TARGET],
            "--target",
        ),
    ] {
        let run = cli.run(&args).await;
        assert!(run.failure().contains(flag), "{}", run.describe());
        assert!(
            run.stderr.contains("not supported yet"),
            "{}",
            run.describe()
        );
        assert_eq!(run.code, Some(2), "{}", run.describe());
    }

    // The gateway refuses them too (400 naming the field), and keeps accepting the defaults
    // the SDKs always send.
    let gw = world.gw();
    for (op, body, field) in [
        (
            "get-dynamic-secret-value",
            serde_json::json!({"name": name, "timeout": 30}),
            "timeout",
        ),
        (
            "get-dynamic-secret-value",
            serde_json::json!({"name": name, "target": "/aws/other"}),
            "target",
        ),
    ] {
        let (status, answer) = gw.call(op, body).await;
        assert_eq!(status, 400, "{op}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{op}: {answer}");
        assert!(message.contains("not supported yet"), "{op}: {answer}");
    }
    let (status, value) = gw
        .call(
            "get-dynamic-secret-value",
            serde_json::json!({"name": name, "timeout": 15, "json": false}),
        )
        .await;
    assert_eq!(status, 200, "{value}");
    let (status, created) = gw
        .call(
            "gateway-create-producer-aws",
            serde_json::json!({
                "name": "/cli-t8/sdk-defaults", "target-name": TARGET, "access-mode": "iam_user",
                "enable-admin-rotation": false, "admin-rotation-interval-days": 0,
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test]
async fn secrets_come_from_stdin_a_file_or_a_prompt() {
    let world = World::start().await;
    let cli = Cli::configured(world.gw()).await;

    // `-`: the target's secret from stdin (the trailing newline is not part of it).
    let run = cli
        .run_with_stdin(
            &[
                "create-aws-target",
                "-n",
                "/aws/from-stdin",
                "--access-key-id",
                &world.admin.access_key_id,
                "--access-key",
                "-",
                "--region",
                "us-east-1",
                "--iam-endpoint",
                &world.moto.endpoint,
                "--sts-endpoint",
                &world.moto.endpoint,
            ],
            Some(&format!("{}\n", world.admin.secret_access_key)),
        )
        .await;
    run.json();
    assert!(!run.stderr.contains("warning"), "{}", run.describe());
    let name = "/cli-t9/via-stdin-target";
    cli.run(&[
        "gateway-create-producer-aws",
        "-n",
        name,
        "--target-name",
        "/aws/from-stdin",
        "--aws-access-mode",
        "iam_user",
        "--aws-user-policies",
        &world.policy_arn,
    ])
    .await
    .json();
    // moto checks the admin key the gateway signs with: the secret arrived intact.
    let value = cli
        .run(&["get-dynamic-secret-value", "-n", name])
        .await
        .json();
    assert!(caller_arn(&world, &value)
        .await
        .contains("user/dynsec/tmp."));

    // A literal secret still works, with a warning that does not repeat it.
    let run = Cli::new()
        .run(&[
            "auth",
            "--gateway-url",
            &world.gw().url,
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
            ADMIN_ACCESS_KEY,
        ])
        .await;
    run.json();
    assert!(run.stderr.contains("--access-key -"), "{}", run.describe());
    assert!(!run.stderr.contains(ADMIN_ACCESS_KEY), "{}", run.describe());

    // No value and no terminal: a usage error that says how to give it.
    let run = Cli::new()
        .run(&[
            "auth",
            "--gateway-url",
            &world.gw().url,
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
        ])
        .await;
    assert!(
        run.failure().contains("--access-key -"),
        "{}",
        run.describe()
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());

    // No value on a terminal: a prompt, and what is typed is not echoed.
    let prompted = Cli::new();
    // `tty` first names the terminal, so the test can see when echo is off.
    let line = format!(
        "tty; exec {} configure --access-id {ADMIN_ACCESS_ID} --access-key --gateway-url {}",
        bin().display(),
        world.gw().url
    );
    let mut script = tokio::process::Command::new("script");
    script
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("DYNSEC_HOME", prompted.home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for key in CLI_ENV {
        script.env_remove(key);
    }
    let mut child = script
        .spawn()
        .expect("script(1) from util-linux runs a pty");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let prompt_seen = tokio::time::timeout(Duration::from_secs(60), async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("access key: ") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(
        prompt_seen.is_ok(),
        "no prompt: {}",
        String::from_utf8_lossy(&seen)
    );
    // The prompt is printed just before echo goes off; a person types later than that, the
    // test waits for it.
    let tty = String::from_utf8_lossy(&seen)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(tty.starts_with("/dev/"), "no terminal name: {tty}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let modes = std::process::Command::new("stty")
            .args(["-F", &tty, "-a"])
            .output()
            .unwrap();
        let modes = String::from_utf8_lossy(&modes.stdout).into_owned();
        if modes.split_whitespace().any(|mode| mode == "-echo") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "echo never went off: {modes}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stdin
            .write_all(format!("{ADMIN_ACCESS_KEY}\r").as_bytes())
            .await
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("configure finished")
            .unwrap();
        stdout.read_to_end(&mut seen).await.unwrap();
        let screen = String::from_utf8_lossy(&seen).into_owned();
        assert!(status.success(), "{screen}");
        assert!(screen.contains("saved to"), "{screen}");
        assert!(
            !screen.contains(ADMIN_ACCESS_KEY),
            "the key was echoed: {screen}"
        );
    }
    drop(stdin);
    // The prompted key was saved (and checked): the profile works.
    let targets = prompted.run(&["list-targets"]).await.json();
    assert!(targets.to_string().contains(TARGET), "{targets}");
}

#[tokio::test]
async fn output_for_people_and_scripts() {
    let world = World::start().await;
    let cli = Cli::configured(world.gw()).await;
    let name = "/cli-t10/out";
    world.iam_user_secret(name, serde_json::json!({})).await;

    // env: AWS's variable names, quoted for the shell; the credentials work.
    let run = cli
        .run(&["get-dynamic-secret-value", "-n", name, "--format", "env"])
        .await;
    run.assert_ok();
    let vars = exported(&run.stdout);
    let value = serde_json::json!({
        "access_key_id": vars["AWS_ACCESS_KEY_ID"],
        "secret_access_key": vars["AWS_SECRET_ACCESS_KEY"],
    });
    assert!(
        vars.contains_key("AWS_CREDENTIAL_EXPIRATION"),
        "{}",
        run.stdout
    );
    assert!(caller_arn(&world, &value)
        .await
        .contains("user/dynsec/tmp."));

    // credential-process: the AWS CLI's JSON, version 1, with working credentials.
    let process = cli
        .run(&[
            "get-dynamic-secret-value",
            "-n",
            name,
            "--format",
            "credential-process",
        ])
        .await
        .json();
    assert_eq!(process["Version"], 1, "{process}");
    let expiration = process["Expiration"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(expiration).is_ok(),
        "{process}"
    );
    let value = serde_json::json!({
        "access_key_id": process["AccessKeyId"],
        "secret_access_key": process["SecretAccessKey"],
    });
    assert!(caller_arn(&world, &value)
        .await
        .contains("user/dynsec/tmp."));

    // --field and --jq-expression print strings as they are.
    let run = cli
        .run(&[
            "get-dynamic-secret-value",
            "-n",
            name,
            "--field",
            "user_name",
        ])
        .await;
    run.assert_ok();
    assert!(
        run.stdout.starts_with("tmp.") && run.stdout.ends_with('\n'),
        "{}",
        run.stdout
    );
    let run = cli
        .run(&["list-targets", "--jq-expression", ".targets[].target_name"])
        .await;
    run.assert_ok();
    assert_eq!(run.stdout, format!("{TARGET}\n"));
    // A broken expression is refused before anything is issued.
    let run = cli
        .run(&[
            "get-dynamic-secret-value",
            "-n",
            name,
            "--jq-expression",
            ".[",
        ])
        .await;
    assert_eq!(run.code, Some(2), "{}", run.describe());

    // table: columns for people.
    let run = cli.run(&["list-targets", "--format", "table"]).await;
    run.assert_ok();
    let header = run.stdout.lines().next().unwrap_or_default();
    assert!(header.contains("TARGET_NAME"), "{}", run.stdout);
    assert!(run.stdout.contains(TARGET), "{}", run.stdout);

    // Lifetime changes and revocations say what they did.
    let value = cli
        .run(&["get-dynamic-secret-value", "-n", name])
        .await
        .json();
    let id = value["id"].as_str().unwrap();
    let retimed = cli
        .run(&[
            "gateway-update-producer-tmp-creds",
            "-n",
            name,
            "--tmp-creds-id",
            id,
            "--new-ttl-min",
            "30",
        ])
        .await
        .json();
    let expires = chrono::DateTime::parse_from_rfc3339(retimed["expiration"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {retimed}"));
    let minutes = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((28..=30).contains(&minutes), "{retimed}");
    assert!(
        retimed["message"].as_str().unwrap().contains(id),
        "{retimed}"
    );
    let revoked = cli
        .run(&[
            "gateway-revoke-producer-tmp-creds",
            "-n",
            name,
            "--tmp-creds-id",
            id,
        ])
        .await
        .json();
    assert_eq!(revoked["revoked"], serde_json::json!([id]), "{revoked}");
    assert!(
        revoked["message"].as_str().unwrap().contains("Revoked"),
        "{revoked}"
    );
    let leases = cli
        .run(&["gateway-get-producer-tmp-creds", "-n", name])
        .await
        .json();
    let live = leases.as_array().map(Vec::len).unwrap_or_default();
    let all = cli
        .run(&[
            "gateway-revoke-producer-tmp-creds",
            "-n",
            name,
            "--revoke-all",
        ])
        .await
        .json();
    assert_eq!(
        all["revoked"].as_array().map(Vec::len),
        Some(live),
        "{all} after {leases}"
    );
    assert!(
        all["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Revoked {live} temporary IAM user")),
        "{all}"
    );
}

#[tokio::test]
async fn robust_exit_codes_pipes_help_status_and_configure() {
    let world = World::start().await;
    let url = world.gw().url.clone();
    let cli = Cli::configured(world.gw()).await;

    // `dynsec` alone prints the help.
    let run = Cli::new().run(&[]).await;
    run.assert_ok();
    assert!(
        run.stdout.contains("get-dynamic-secret-value"),
        "{}",
        run.describe()
    );

    // A reader that went away (`| head`) ends the output quietly.
    for args in [
        vec!["list-targets"],
        vec!["--help"],
        vec!["completion", "bash"],
    ] {
        let (code, stderr) = cli.run_into_closed_pipe(&args).await;
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }

    // Exit codes per failure class.
    let wrong_key = Cli::new()
        .env("DYNSEC_GATEWAY_URL", &url)
        .env("DYNSEC_ACCESS_ID", ADMIN_ACCESS_ID)
        .env("DYNSEC_ACCESS_KEY", "not-the-key");
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let cases: Vec<(Run, i32)> = vec![
        (cli.run(&["get-target", "--nmae", TARGET]).await, 2),
        (cli.run(&["get-target", "-n", "/aws/nope"]).await, 3),
        (wrong_key.run(&["list-targets"]).await, 4),
        (
            cli.run(&[
                "create-aws-target",
                "-n",
                TARGET,
                "--access-key-id",
                "AKIAEXAMPLEEXAMPLE01",
                "--access-key",
                "x",
            ])
            .await,
            5,
        ),
        (
            cli.run(&[
                "gateway-create-producer-aws",
                "-n",
                "/cli-t11/bad",
                "--target-name",
                TARGET,
                "--aws-access-mode",
                "root_user",
            ])
            .await,
            6,
        ),
        (cli.run(&["list-targets", "--gateway-url", &dead]).await, 7),
    ];
    for (run, code) in cases {
        run.failure();
        assert_eq!(run.code, Some(code), "{}", run.describe());
    }

    // status: the gateway, its version, who you are, when the token expires.
    let run = cli.run(&["status"]).await;
    run.assert_ok();
    for shown in [
        url.as_str(),
        env!("CARGO_PKG_VERSION"),
        ADMIN_ACCESS_ID,
        "token_expires_in",
    ] {
        assert!(
            run.stdout.contains(shown),
            "{shown} missing: {}",
            run.describe()
        );
    }
    let status = cli.run(&["status", "--format", "json"]).await.json();
    let expiry = chrono::DateTime::parse_from_rfc3339(status["token_expiration"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {status}"));
    assert!(
        expiry.with_timezone(&chrono::Utc) > chrono::Utc::now(),
        "{status}"
    );
    let run = Cli::new().run(&["status", "--gateway-url", &dead]).await;
    assert!(run.failure().contains(&dead), "{}", run.describe());
    assert_eq!(run.code, Some(7), "{}", run.describe());

    // configure checks the key before saving it.
    let careful = Cli::new();
    let run = careful
        .run(&[
            "configure",
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
            "wrong",
            "--gateway-url",
            &url,
        ])
        .await;
    assert!(run.failure().contains("not saved"), "{}", run.describe());
    assert_eq!(run.code, Some(4), "{}", run.describe());
    assert!(
        !careful.home.path().join("profiles").exists(),
        "a refused key left a profile behind"
    );
    let run = careful
        .run(&[
            "configure",
            "--access-id",
            ADMIN_ACCESS_ID,
            "--access-key",
            ADMIN_ACCESS_KEY,
            "--gateway-url",
            &url,
        ])
        .await;
    run.assert_ok();
    assert!(run.stdout.contains("key checked"), "{}", run.describe());
}

/// No gateway needed: typos get suggestions, and bash completes operations and flags.
#[tokio::test]
async fn typos_get_suggestions_and_bash_completes() {
    let cli = Cli::new();
    let run = cli.run(&["get-dynamic-secret-value", "--nmae", "/x"]).await;
    assert!(
        run.failure().contains("similar argument exists: '--name'"),
        "{}",
        run.describe()
    );
    assert_eq!(run.code, Some(2), "{}", run.describe());

    let script = cli.run(&["completion", "bash"]).await;
    script.assert_ok();
    let file = cli.home.path().join("dynsec.bash");
    std::fs::create_dir_all(cli.home.path()).unwrap();
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |words: &str| {
        let line = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _dynsec dynsec \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let output = std::process::Command::new("bash")
            .args(["-c", &line])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let ops = complete("dynsec get-dynamic-secret-v");
    assert_eq!(ops.trim(), "get-dynamic-secret-value", "{ops}");
    let flags = complete("dynsec gateway-create-producer-aws --aws-access-m");
    assert_eq!(flags.trim(), "--aws-access-mode", "{flags}");
    let formats = complete("dynsec list-targets --format cre");
    assert_eq!(formats.trim(), "credential-process", "{formats}");
}
