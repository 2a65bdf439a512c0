//! A PostgreSQL database of its own for each test, on the server every
//! machine of this project runs at 127.0.0.1:5432 (user `postgres`, trust
//! auth; `DYNSEC_TEST_POSTGRES_URL` names another server's maintenance
//! database). Created empty, dropped (connections and all) on drop.

use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicUsize, Ordering};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A freshly created, empty database.
pub struct PgDatabase {
    /// `postgres://…/<name>`, for the store or a gateway's `--database-url`.
    pub url: String,
    name: String,
    server: String,
}

impl PgDatabase {
    /// Creates `dynsec_test_<pid>_<n>_<nanos>`. Panics with instructions if
    /// the server cannot be reached.
    pub async fn create() -> PgDatabase {
        let server = std::env::var("DYNSEC_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_string());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "dynsec_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at {server} ({e}); these tests need a server with trust \
                 auth for user postgres (or DYNSEC_TEST_POSTGRES_URL)"
            )
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        let base = server
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&server);
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
            server,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
