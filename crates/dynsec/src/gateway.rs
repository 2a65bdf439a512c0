//! `dynsec gateway`: builds the config, binds its port (before anything is
//! created, so a busy port leaves no trace), opens the store, creates the
//! first admin on an empty store, starts the reaper and serves the API until
//! SIGTERM or Ctrl-C. SIGHUP reopens the audit log and reloads the TLS
//! certificate and key ([`reload_on_hangup`]).

use anyhow::{bail, Context, Result};
use clap::Parser;
use dynsec_core::SecretString;
use dynsec_crypto::{MacKey, Sealer};
use dynsec_engine::{Duty, Engine, EngineConfig};
use dynsec_store::{KeyStore, PostgresStore, SqliteStore, Store};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// File name of the SQLite database inside the data dir.
const DATABASE_FILE: &str = "dynsec.db";
/// Held (flock) while a gateway uses the data dir: one process per data dir.
const LOCK_FILE: &str = "gateway.lock";
/// This data dir's node identity, generated on first start.
const NODE_ID_FILE: &str = "node-id";
/// Default file name of the audit log inside the data dir.
const AUDIT_LOG_FILE: &str = "audit.log";
/// Written into the data dir so that git never takes it in (a quickstart's
/// `--data-dir ./data` inside a checkout holds the master key).
const GITIGNORE_FILE: &str = ".gitignore";

/// Run the dynsec gateway.
#[derive(Debug, Parser)]
#[command(
    name = "dynsec gateway",
    about = "Run the dynsec gateway (API server, lease reaper)"
)]
pub struct GatewayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", env = "DYNSEC_LISTEN")]
    listen: SocketAddr,
    /// Directory holding the database and the master key (created if missing).
    /// Defaults to the per-user data directory, e.g. ~/.local/share/dynsec.
    #[arg(long, env = "DYNSEC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Read the master key (base64 of 32 bytes) from this file instead of
    /// `<data-dir>/master.key`. `DYNSEC_MASTER_KEY` supplies it directly. To
    /// rotate an operator-supplied key, supply "<new key> <old key>" and restart.
    #[arg(long, env = "DYNSEC_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Customer fragments of split protection keys: a JSON file
    /// ({"customer_fragments":[{"id":"cf-...","value":"<base64 of 32 bytes>"}]}),
    /// or that JSON itself. `dynsec gateway create-customer-fragment` makes one.
    #[arg(long, env = "DYNSEC_CUSTOMER_FRAGMENTS")]
    customer_fragments: Option<String>,
    /// IAM path under which temporary users are created.
    #[arg(long, default_value = "/dynsec/", env = "DYNSEC_IAM_PATH")]
    iam_path: String,
    /// Lifetime of auth tokens, in minutes (at most 527040, i.e. 366 days).
    #[arg(long, default_value_t = 60, env = "DYNSEC_TOKEN_TTL_MINUTES")]
    token_ttl_minutes: u64,
    /// Seconds between scans of IAM for expired users no lease claims.
    #[arg(long, default_value_t = 600, env = "DYNSEC_ORPHAN_SWEEP_SECS")]
    orphan_sweep_secs: u64,
    /// Seconds between looks for admin keys due for scheduled rotation
    /// (`enable-admin-rotation`) and for rotations a stopped gateway left
    /// half-way (one gateway of a cluster per look).
    #[arg(long, default_value_t = 300, env = "DYNSEC_ADMIN_ROTATION_CHECK_SECS")]
    admin_rotation_check_secs: u64,
    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For names the real
    /// client for bound-IP checks, rate limits and audit. Empty: never trusted.
    #[arg(long, env = "DYNSEC_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Value of the `dynsec:managed-by` tag on the IAM users this gateway
    /// creates; the orphan sweep touches only users carrying it. Give each
    /// installation sharing an AWS account (and IAM path) its own.
    #[arg(long, default_value = "dynsec", env = "DYNSEC_MANAGED_BY")]
    managed_by: String,
    /// How many leases the reaper revokes concurrently.
    #[arg(long, default_value_t = 8, env = "DYNSEC_REAPER_CONCURRENCY")]
    reaper_concurrency: usize,
    /// Serve HTTPS with this PEM certificate chain (leaf first). Needs --tls-key.
    #[arg(long, env = "DYNSEC_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "DYNSEC_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Append the audit log (one JSON line per request) to this file instead of
    /// `<data-dir>/audit.log`.
    #[arg(long, env = "DYNSEC_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// The store: `postgres://user[:password]@host[:port]/database` for a
    /// PostgreSQL database that several gateways share (a cluster), or
    /// `sqlite://<file>`. Default: the SQLite file `<data-dir>/dynsec.db`.
    #[arg(long, env = "DYNSEC_DATABASE_URL")]
    database_url: Option<String>,
    /// Seconds between this gateway's heartbeats. Gateways sharing a database
    /// take one silent for three intervals for dead and finish its work.
    #[arg(long, default_value_t = 5, env = "DYNSEC_HEARTBEAT_SECS")]
    heartbeat_secs: u64,
    /// Most client connections open at once; accepting pauses while all are
    /// taken. Lowered further to fit the open-files limit, keeping
    /// descriptors for the store and AWS calls.
    #[arg(long, default_value_t = 1024, env = "DYNSEC_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Seconds a connection may take to send a complete request head, counted
    /// from its opening or its previous answer (so also how long an idle
    /// keep-alive connection stays open).
    #[arg(long, default_value_t = 10, env = "DYNSEC_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: u64,
    /// Start even though the database is missing or empty in a data dir that
    /// was used before (its node id, master key or audit log exist): a new
    /// installation that knows none of the earlier leases.
    #[arg(long, env = "DYNSEC_ALLOW_NEW_DATABASE")]
    allow_new_database: bool,
    /// Serve GET /metrics (Prometheus/OpenMetrics text, no token), /health
    /// and /ready on this address too, e.g. 127.0.0.1:9464. Off by default:
    /// whoever reaches the address reads the metrics, so keep it private.
    #[arg(long, env = "DYNSEC_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Log lines as `text` (for people) or `json` (one object per line, for
    /// log collectors). Both go to stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "DYNSEC_LOG_FORMAT")]
    log_format: LogFormat,
    /// Longest wait, in milliseconds, before answering `auth` for an access
    /// id that failed repeatedly from the same client address (the wait
    /// starts at 250 ms after 3 failures within a minute and doubles per
    /// failure). 0 turns the wait off.
    #[arg(long, default_value_t = 8000, env = "DYNSEC_AUTH_MAX_DELAY_MS")]
    auth_max_delay_ms: u64,
    /// How long revoked leases are kept (for listings and audit
    /// correlation) before the housekeeper deletes them: a duration such as
    /// 30d, 12h or 90m, at most 366d.
    #[arg(long, default_value = "30d", env = "DYNSEC_LEASE_RETENTION")]
    lease_retention: String,
    /// Entries per answer of `list-items`, `list-targets`,
    /// `dynamic-secret-list`, `auth-method-list` and `list-roles` (1-1000);
    /// clients follow `next_page` for the rest.
    #[arg(long, default_value_t = dynsec_engine::DEFAULT_PAGE_SIZE, env = "DYNSEC_LIST_PAGE_SIZE")]
    list_page_size: u32,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Where the gateway keeps its records, from `--database-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Database {
    /// The embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (may hold a password: never shown).
    Postgres(String),
}

impl Database {
    /// Reads `--database-url`; no URL means the data dir's SQLite file. Any
    /// scheme but `postgres`/`postgresql`/`sqlite` is refused by name, and so
    /// is a URL without one: a typo must not silently mean "a new, empty
    /// SQLite file".
    fn from_url(url: Option<&str>, data_dir: &Path) -> Result<Database> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Database::Sqlite(data_dir.join(DATABASE_FILE)));
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            bail!(
                "--database-url must start with postgres:// or sqlite:// (got a value without a scheme)"
            );
        };
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Database::Postgres(url.to_string())),
            "sqlite" => {
                let path = rest.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    Ok(Database::Sqlite(data_dir.join(DATABASE_FILE)))
                } else {
                    Ok(Database::Sqlite(PathBuf::from(path)))
                }
            }
            other => bail!(
                "--database-url scheme '{other}' is not supported: use postgres://… (a shared PostgreSQL database) or sqlite://… (an embedded file)"
            ),
        }
    }

    /// How the database is named in messages: without a password.
    fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => redact_password(url),
        }
    }
}

/// `postgres://user:secret@host/db?password=…` → `postgres://user:***@host/db?…`:
/// the password goes, and so do query parameters (which may carry one).
fn redact_password(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, _)) => (url, "?…"),
        None => (url, ""),
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!("{url}{query}");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}{query}")
}

/// `dynsec gateway`'s command line, for the CLI's help and shell completions.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    GatewayArgs::command().name("gateway").subcommand(
        clap::Command::new("create-customer-fragment")
            .about("print a new customer fragment for --customer-fragments")
            .arg(
                clap::Arg::new("description")
                    .long("description")
                    .help("description stored with the fragment"),
            ),
    )
}

pub async fn main(args: &[String]) -> ExitCode {
    if args.get(1).map(String::as_str) == Some("create-customer-fragment") {
        return crate::keyfile::create_customer_fragment_main(&args[1..]);
    }
    let args = match GatewayArgs::try_parse_from(args) {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(args.log_format);
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,aws=warn"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // One JSON object per line: `timestamp`, `level`, `target` and the
        // event's fields (`message` among them) at the top level.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

async fn run(args: GatewayArgs) -> Result<()> {
    // First: a bad certificate must stop the start before anything is created.
    let tls = load_tls(args.tls_cert.as_deref(), args.tls_key.as_deref())?;
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => dirs::data_local_dir()
            .context("cannot find a per-user data directory; pass --data-dir")?
            .join("dynsec"),
    };
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| dynsec_core::access::Cidr::parse("--trusted-proxies", c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Flags are checked before anything is created on disk.
    dynsec_core::spec::validate_iam_path(&args.iam_path)
        .map_err(|e| anyhow::anyhow!("invalid --iam-path '{}': {}", args.iam_path, e.reason))?;
    let token_ttl = token_ttl(args.token_ttl_minutes)?;
    if args.header_read_timeout_secs == 0 {
        bail!("--header-read-timeout-secs must be at least 1");
    }
    // The port before anything is created: a busy port must not leave a
    // data dir, a database or a printed admin key behind.
    let listener = bind(args.listen).await?;
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(bind_metrics(addr).await?),
        None => None,
    };
    // Before anything is created: every file from here on is 0600.
    crate::startup::restrict_file_creation();
    let fd_limit = crate::startup::raise_fd_limit();
    dynsec_files::create_dir(&data_dir)?;
    keep_out_of_git(&data_dir);
    let audit_path = args
        .audit_log
        .unwrap_or_else(|| data_dir.join(AUDIT_LOG_FILE));
    let database = Database::from_url(args.database_url.as_deref(), &data_dir)?;
    // What an earlier start left, looked at before this one creates any of it.
    // A cluster's gateways are given a copy of the master key file before
    // their first start, so for a shared database only what a gateway writes
    // itself counts.
    let mut traces = vec![data_dir.join(NODE_ID_FILE), audit_path.clone()];
    if matches!(database, Database::Sqlite(_)) {
        traces.push(data_dir.join(crate::keyfile::MASTER_KEY_FILE));
    }
    let evidence = crate::startup::Evidence::gather(&traces);
    let _lock = lock_data_dir(&data_dir)?;
    // How refusals name the database (a file, or the URL without its password).
    let database_name = PathBuf::from(database.describe());
    match &database {
        Database::Sqlite(db_path) => {
            let db_missing = crate::startup::missing_or_empty(db_path);
            crate::startup::refuse_forgotten_database(
                db_path,
                db_missing,
                db_missing,
                &evidence,
                args.allow_new_database,
            )?;
            let journal = |suffix: &str| {
                let mut name = db_path.clone().into_os_string();
                name.push(suffix);
                PathBuf::from(name)
            };
            crate::startup::tighten_existing(&[
                db_path.clone(),
                journal("-wal"),
                journal("-shm"),
                data_dir.join(LOCK_FILE),
            ])?;
        }
        Database::Postgres(_) => crate::startup::tighten_existing(&[data_dir.join(LOCK_FILE)])?,
    }
    let node_id = load_node_id(&data_dir)?;
    let (store, database_exists): (Arc<dyn Store>, bool) = match &database {
        Database::Sqlite(path) => {
            let existed = path.exists();
            let store = SqliteStore::open(path)
                .await
                .with_context(|| format!("cannot open the database {}", database.describe()))?;
            if let Some(backup) = store.upgrade_backup() {
                info!(backup = %backup.display(), "backed up the database before upgrading its schema");
            }
            (Arc::new(store), existed)
        }
        Database::Postgres(url) => {
            let store = PostgresStore::connect(url)
                .await
                .with_context(|| format!("cannot open the database {}", database.describe()))?;
            if !store.connection_is_encrypted().await.unwrap_or(false) {
                warn!(database = %database.describe(), "the database connection is not encrypted: add sslmode=require (or verify-full with sslrootcert=<CA file>) to --database-url unless the database is on this host");
            }
            // Shared: records may exist already, sealed by other gateways.
            let existed = store.master_key_check().await?.is_some();
            (Arc::new(store), existed)
        }
    };
    let (keyring, key_custody) =
        crate::keyfile::load_keyring(&data_dir, args.master_key_file.as_deref(), database_exists)?;
    let customer_fragments =
        crate::keyfile::load_customer_fragments(args.customer_fragments.as_deref())?;

    // A database that exists but holds no API key is as new as a missing one
    // (for PostgreSQL, too: a wiped shared database must not be taken for a
    // new installation by a gateway that served it).
    let keys = store
        .api_key_count()
        .await
        .with_context(|| format!("cannot read the database {}", database.describe()))?;
    crate::startup::refuse_forgotten_database(
        &database_name,
        keys == 0,
        false,
        &evidence,
        args.allow_new_database,
    )?;
    let tag_ok = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    if args.managed_by.is_empty()
        || args.managed_by.len() > 256
        || !args.managed_by.chars().all(tag_ok)
    {
        bail!("--managed-by must be 1-256 characters of letters, digits, spaces and _.:/=+-@ (an IAM tag value)");
    }
    let lease_retention = dynsec_core::ttl::parse_ttl("--lease-retention", &args.lease_retention)
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    if !(1..=dynsec_store::MAX_PAGE_SIZE).contains(&args.list_page_size) {
        bail!(
            "--list-page-size must be between 1 and {}; got {}",
            dynsec_store::MAX_PAGE_SIZE,
            args.list_page_size
        );
    }
    let config = EngineConfig {
        lease_retention: Duration::from_secs(lease_retention),
        list_page_size: args.list_page_size,
        token_ttl,
        iam_path: args.iam_path,
        node_id,
        managed_by: args.managed_by,
        orphan_sweep_interval: Duration::from_secs(args.orphan_sweep_secs.max(1)),
        admin_rotation_check_interval: Duration::from_secs(args.admin_rotation_check_secs.max(1)),
        reaper_concurrency: args.reaper_concurrency.max(1),
        heartbeat_interval: Duration::from_secs(args.heartbeat_secs.clamp(1, 3600)),
        auth_max_delay: Duration::from_millis(args.auth_max_delay_ms.min(60_000)),
        ..EngineConfig::default()
    };
    let engine = Engine::new(store, Sealer::with_keyring(keyring), config);
    // A store that refuses writes would answer every `auth` with 500 while
    // leases go unrevoked: refuse to start instead.
    engine.check_store_writable().await.map_err(|err| {
        anyhow::anyhow!(
            "the database {} cannot be written ({err}); check its permissions, the disk, and that no other program holds it read-only",
            database.describe()
        )
    })?;
    engine.set_master_key_custody(key_custody);
    engine.set_customer_fragments(customer_fragments);
    // Refuses a wrong master key, finishes a rotation a crash interrupted.
    let install_secret = engine.prepare_master_key().await?;
    // Keyed by the installation secret, not the master key, so token HMACs
    // stay comparable across master-key rotations.
    let audit_key = MacKey::derive_from(&install_secret, dynsec_api::audit::AUDIT_KEY_LABEL);
    let (audit, audit_writer) =
        dynsec_api::audit::open(&audit_path, audit_key).with_context(|| {
            format!(
                "cannot open the audit log {} (--audit-log)",
                audit_path.display()
            )
        })?;

    if let Some(admin) = engine.bootstrap_admin(preset_admin()?).await? {
        if admin.preset {
            info!(access_id = %admin.access_id, "created the first admin API key from DYNSEC_ADMIN_ACCESS_ID");
        } else {
            // Printed once, on stdout, on purpose: this is the only copy of the key.
            println!("Created the first admin API key. Save it now: it is not shown again.");
            println!("  access id:  {}", admin.access_id);
            println!("  access key: {}", admin.access_key.expose());
        }
    }

    // The steps of the shutdown and their order: `shutdown.rs`.
    let shutdown = crate::shutdown::Shutdown::new();
    // Supervised: restarted (and reported by /health) should one ever stop.
    shutdown.spawn_reaper(|stop| {
        let engine = engine.clone();
        async move { engine.supervise(Duty::Reaper, stop).await }
    });
    shutdown.spawn_housekeeping(|stop| purge_tokens(engine.clone(), stop.cancelled_owned()));
    shutdown.spawn_housekeeping(|stop| {
        let engine = engine.clone();
        async move { engine.supervise(Duty::Housekeeper, stop).await }
    });

    let local = listener.local_addr()?;
    if tls.is_none() && !local.ip().is_loopback() {
        warn!("listening on a non-loopback address without TLS: tokens and secrets cross the network in clear text");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let limits = dynsec_api::ServerLimits {
        max_connections: crate::startup::connection_budget(
            args.max_connections,
            fd_limit,
            args.reaper_concurrency.max(1),
        ),
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
    };
    // Installed before "listening" is logged, like SIGHUP's handler below:
    // tests (and operators' scripts) signal as soon as they read it.
    let stop_signal = crate::shutdown::signal().context("cannot handle SIGTERM and SIGINT")?;
    #[cfg(unix)]
    {
        // Installed before "listening" is logged: from then on a SIGHUP
        // reloads instead of ending the process (its default action).
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot handle SIGHUP")?;
        let reload = Reload {
            audit: audit.reopener(),
            audit_path: audit_path.clone(),
            tls: tls.clone().zip(args.tls_cert.zip(args.tls_key)),
        };
        shutdown
            .spawn_housekeeping(|stop| reload_on_hangup(hangups, reload, stop.cancelled_owned()));
    }
    let telemetry = dynsec_api::Telemetry::new(&engine);
    if let Some(listener) = metrics_listener {
        shutdown.spawn_listener(serve_metrics(
            listener,
            engine.clone(),
            telemetry.clone(),
            audit.clone(),
            shutdown.stop_accepting(),
        ));
    }
    // Last: whoever reads "listening" (tests, scripts) finds the signal
    // handlers installed and the metrics address logged.
    info!(data_dir = %data_dir.display(), database = %database.describe(), audit_log = %audit_path.display(), instance = engine.instance_id(), open_files_limit = ?fd_limit, max_connections = limits.max_connections, "dynsec gateway listening on {scheme}://{local}");
    let router = dynsec_api::router(
        engine,
        audit.clone(),
        trusted_proxies,
        telemetry,
        shutdown.requests(),
    );
    let serving = dynsec_api::serve(
        listener,
        router,
        audit,
        tls,
        limits,
        shutdown.stop_accepting(),
    );
    // The router (and with it every request's audit handle) is gone once
    // `run` has drained the requests; then it closes the audit log.
    shutdown.run(serving, stop_signal, audit_writer).await?;
    Ok(())
}

/// Binds `--metrics-listen` (before anything is created, like `--listen`).
async fn bind_metrics(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?;
    if !addr.ip().is_loopback() {
        warn!("metrics are served on a non-loopback address: anyone who reaches {addr} reads them");
    }
    Ok(listener)
}

/// Serves the metrics router on `listener` (plain HTTP, a few connections:
/// it is for scrapers) until `stop`.
fn serve_metrics(
    listener: tokio::net::TcpListener,
    engine: Engine,
    telemetry: Arc<dynsec_api::Telemetry>,
    audit: dynsec_api::audit::Audit,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    if let Ok(local) = listener.local_addr() {
        info!("metrics on http://{local}/metrics");
    }
    let limits = dynsec_api::ServerLimits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(10),
    };
    let router = dynsec_api::metrics_router(engine, telemetry);
    async move {
        if let Err(err) = dynsec_api::serve(listener, router, audit, None, limits, stop).await {
            warn!(error = %err, "the metrics listener stopped");
        }
    }
}

/// Binds the listening socket, saying plainly when the port is taken.
async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => Ok(listener),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "cannot listen on {listen}: the address is already in use (another gateway, or another program, holds that port); stop it or choose another --listen. Nothing was created"
        ),
        Err(err) => Err(err).with_context(|| format!("cannot listen on {listen}")),
    }
}

/// Writes `<data-dir>/.gitignore` ignoring everything, unless one exists,
/// so a data dir inside a checkout (the quickstart's `./data`) never gets
/// committed with its master key and database. Failing to is only a warning.
fn keep_out_of_git(data_dir: &Path) {
    let path = data_dir.join(GITIGNORE_FILE);
    if path.exists() {
        return;
    }
    let text = b"# Written by dynsec: this data dir holds the master key and the database.\n*\n";
    if let Err(err) = dynsec_files::create_new(&path, text) {
        warn!(path = %path.display(), error = %format!("{err:#}"), "cannot write the data dir's .gitignore");
    }
}

/// What SIGHUP reloads: the audit log's file, and the TLS certificate and
/// key (with the files they are read from) when serving HTTPS.
#[cfg(unix)]
struct Reload {
    audit: dynsec_api::audit::AuditReopener,
    audit_path: PathBuf,
    tls: Option<(dynsec_api::tls::TlsSettings, (PathBuf, PathBuf))>,
}

/// On every SIGHUP until `stop`: reopens the audit log at its path (after
/// logrotate renamed it: a new file there) and reloads the TLS certificate
/// and key for new connections. Whatever fails is logged and the old file or
/// certificate stays in use: the gateway keeps serving either way.
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    reload: Reload,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            got = hangups.recv() => if got.is_none() { break },
        }
        info!("SIGHUP: reopening the audit log and reloading the TLS certificate");
        match reload.audit.reopen().await {
            Ok(()) => info!(path = %reload.audit_path.display(), "reopened the audit log"),
            Err(err) => {
                tracing::error!(path = %reload.audit_path.display(), error = %err, "cannot reopen the audit log; still writing to the file open before")
            }
        }
        if let Some((settings, (cert, key))) = &reload.tls {
            match load_tls_config(Some(cert), Some(key)) {
                Ok(Some(config)) => {
                    settings.replace(config);
                    info!(cert = %cert.display(), "reloaded the TLS certificate; new connections use it");
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "cannot reload the TLS certificate; still serving the previous one")
                }
            }
        }
    }
}

/// The TLS settings from `--tls-cert` and `--tls-key`, both or neither.
fn load_tls(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<dynsec_api::tls::TlsSettings>> {
    Ok(load_tls_config(cert, key)?.map(dynsec_api::tls::TlsSettings::new))
}

/// Reads and checks the certificate and key; warns about a certificate
/// marked `CA:TRUE`, which the CLI and every webpki-based client refuse.
fn load_tls_config(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<dynsec_api::tls::ServerConfig>> {
    use dynsec_api::tls;
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(_), None) => bail!("--tls-cert needs --tls-key (or DYNSEC_TLS_KEY)"),
        (None, Some(_)) => bail!("--tls-key needs --tls-cert (or DYNSEC_TLS_CERT)"),
        (Some(cert), Some(key)) => {
            let certs = tls::load_certificates(cert).context("invalid --tls-cert")?;
            if certs.first().is_some_and(tls::is_ca_certificate) {
                warn!(cert = %cert.display(), "{CA_AS_SERVER_CERT}");
            }
            let key = tls::load_private_key(key).context("invalid --tls-key")?;
            let config = tls::server_config(certs, key).context("invalid --tls-cert/--tls-key")?;
            Ok(Some(config))
        }
    }
}

/// Why a `CA:TRUE` server certificate fails, and what to do instead.
const CA_AS_SERVER_CERT: &str = "the --tls-cert certificate is a CA certificate (basicConstraints CA:TRUE; `openssl req -x509` makes one by default), which the dynsec CLI and other rustls/webpki clients refuse as a server certificate (CaUsedAsEndEntity): issue a server certificate with basicConstraints CA:FALSE, signed by a CA whose certificate clients trust with --ca-file (README: TLS)";

/// `--token-ttl-minutes` as a duration (0 counts as 1), at most 366 days: a
/// token's expiry is now + this, which must stay a valid timestamp.
fn token_ttl(minutes: u64) -> Result<Duration> {
    let max_minutes = dynsec_core::ttl::MAX_TTL_SECS / 60;
    match minutes.max(1).checked_mul(60) {
        Some(secs) if minutes <= max_minutes => Ok(Duration::from_secs(secs)),
        _ => bail!("--token-ttl-minutes must be at most {max_minutes} (366 days); got {minutes}"),
    }
}

/// `DYNSEC_ADMIN_ACCESS_ID` + `DYNSEC_ADMIN_ACCESS_KEY`, both or neither.
fn preset_admin() -> Result<Option<(String, SecretString)>> {
    let id = std::env::var("DYNSEC_ADMIN_ACCESS_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let key = std::env::var("DYNSEC_ADMIN_ACCESS_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    match (id, key) {
        (Some(id), Some(key)) => Ok(Some((id, SecretString::new(key)))),
        (None, None) => Ok(None),
        _ => bail!("set both DYNSEC_ADMIN_ACCESS_ID and DYNSEC_ADMIN_ACCESS_KEY, or neither"),
    }
}

/// Takes an exclusive lock on the data dir for the life of the process. The
/// OS releases it when the process dies, even by SIGKILL.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
    let path = data_dir.join(LOCK_FILE);
    let file = dynsec_files::open_or_create(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("another dynsec gateway is using {}", data_dir.display())
        }
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The node id of this data dir: intents written by earlier processes with
/// the same node id are orphans as soon as this process starts.
fn load_node_id(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(NODE_ID_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(id.to_string());
        }
        bail!("{} is not a valid node id", path.display());
    }
    let id = format!("node-{}", dynsec_crypto::random_id(10));
    dynsec_files::create_new(&path, id.as_bytes())?;
    Ok(id)
}

async fn purge_tokens(engine: Engine, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = every.tick() => {
                if let Err(err) = engine.purge_expired_tokens().await {
                    warn!(error = %err, "cannot purge expired tokens");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_a_store_or_are_refused_by_scheme() {
        let dir = Path::new("/data");
        let pick = |url: Option<&str>| Database::from_url(url, dir);
        assert_eq!(
            pick(None).unwrap(),
            Database::Sqlite(dir.join(DATABASE_FILE))
        );
        assert_eq!(
            pick(Some(" ")).unwrap(),
            Database::Sqlite(dir.join(DATABASE_FILE))
        );
        assert_eq!(
            pick(Some("sqlite:///var/lib/dynsec.db")).unwrap(),
            Database::Sqlite(PathBuf::from("/var/lib/dynsec.db"))
        );
        for pg in [
            "postgres://dynsec@db:5432/dynsec",
            "postgresql://dynsec:pw@db/dynsec?sslmode=require",
        ] {
            assert_eq!(pick(Some(pg)).unwrap(), Database::Postgres(pg.into()));
        }
        let err = pick(Some("mysql://db/dynsec")).unwrap_err().to_string();
        assert!(err.contains("scheme 'mysql' is not supported"), "{err}");
        let err = pick(Some("/var/lib/dynsec.db")).unwrap_err().to_string();
        assert!(err.contains("without a scheme"), "{err}");
    }

    #[test]
    fn database_passwords_never_reach_messages() {
        assert_eq!(
            redact_password("postgres://dynsec:s3cret@db:5432/dynsec"),
            "postgres://dynsec:***@db:5432/dynsec"
        );
        assert_eq!(
            redact_password("postgres://db/dynsec?password=s3cret"),
            "postgres://db/dynsec?…"
        );
        assert_eq!(
            redact_password("postgres://dynsec@db/dynsec"),
            "postgres://dynsec@db/dynsec"
        );
    }

    #[test]
    fn token_ttl_is_checked_and_capped() {
        assert_eq!(token_ttl(60).unwrap(), Duration::from_secs(3600));
        assert_eq!(token_ttl(0).unwrap(), Duration::from_secs(60));
        assert_eq!(
            token_ttl(366 * 24 * 60).unwrap(),
            Duration::from_secs(366 * 86_400)
        );
        for bad in [366 * 24 * 60 + 1, u64::MAX / 60 + 1, u64::MAX] {
            let err = token_ttl(bad).unwrap_err().to_string();
            assert!(err.contains("--token-ttl-minutes"), "{err}");
        }
    }
}
