//! Store-level listing benchmark, on SQLite (a file, as a gateway uses it)
//! and on PostgreSQL (a fresh database on 127.0.0.1:5432), side by side.
//! Run: `cargo bench -p dynsec-store --bench listing`. Prints, per store:
//! - `list-items` on a folder holding one item while 20k dynamic secrets
//!   exist elsewhere (paged, and today's whole-table read for contrast);
//! - a 10k-item folder walked page by page;
//! - a tmp-creds page of a secret with 100k live leases (and 100k revoked
//!   ones retained beside them): time and the process's peak allocation
//!   during the call, next to the whole-list read it replaces.
//!
//! The data is written the way a long-running installation got it: in bulk
//! under the schema before paging, then brought up to date by the store's
//! own migrations (which derive folders, parents and retention).
//! Times are the median (and 95th percentile) of repeated calls on a warm
//! store; memory is measured by a counting global allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use dynsec_store::paging::listing::{ItemsInFolder, LeasesOfSecret};
use dynsec_store::{ItemKinds, LeaseScope, PageToken, PostgresStore, SqliteStore, Store};
use dynsec_testkit::{PgDatabase, TempDir};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ELSEWHERE: usize = 10_000;
const BIG_FOLDER: usize = 10_000;
const LIVE_LEASES: usize = 100_000;
const REVOKED_LEASES: usize = 100_000;
const RUNS: usize = 100;

/// Counts live heap bytes and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` once, returning how long it took and how far the heap grew at
/// its peak above where it started.
async fn measured<T, F: std::future::Future<Output = T>>(f: F) -> (T, Duration, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f.await;
    let took = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (out, took, peak)
}

/// Median and 95th percentile of `RUNS` calls.
async fn timed<F, Fut, T>(mut f: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(f().await);
        times.push(start.elapsed());
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 95 / 100])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The rows, as generated SQL over a sequence `seq(i)` (1-based), in the
/// schema before paging (both dialects: `||` and integer arithmetic only).
fn fill_statements(settings: &str) -> Vec<String> {
    let producers = |select: String| {
        format!(
            "INSERT INTO producers (uid, name, target_id, settings_json, inline_access_key_id, \
             inline_region, inline_sealed_secret, created_at, modified_at) {select}"
        )
    };
    let inline = format!("'{settings}', 'AKIABENCH', 'us-east-1', {{blob}}, 0, 0");
    vec![
        producers(format!(
            "SELECT 'lonely', '/lonely/only', CAST(NULL AS BIGINT), {inline} UNION ALL \
             SELECT 'busy', '/busy/secret', CAST(NULL AS BIGINT), {inline}"
        )),
        producers(format!(
            "SELECT 'else' || i, '/else/g' || (i % 100) || '/s' || i, NULL, {inline} \
             FROM seq WHERE i <= {ELSEWHERE}"
        )),
        producers(format!(
            "SELECT 'big' || i, '/big/s' || (100000 + i), NULL, {inline} \
             FROM seq WHERE i <= {BIG_FOLDER}"
        )),
        // Live leases expire far ahead; revoked ones are history kept by
        // retention.
        format!(
            "INSERT INTO leases (id, producer_id, producer_name, mode, principal, state, owner, \
             created_at, expires_at, attempts, due_at) \
             SELECT 'bench' || i, (SELECT id FROM producers WHERE name = '/busy/secret'), \
               '/busy/secret', 'iam_user', 'tmp.secret.' || i, \
               CASE WHEN i <= {LIVE_LEASES} THEN 'active' ELSE 'revoked' END, 'node-old.1', \
               1700000000000 + i, 4102444800000, 1, \
               CASE WHEN i <= {LIVE_LEASES} THEN 4102444800000 ELSE NULL END \
             FROM seq WHERE i <= {}",
            LIVE_LEASES + REVOKED_LEASES
        ),
    ]
}

fn settings_json() -> String {
    serde_json::to_string(&dynsec_store::conformance::settings()).unwrap()
}

/// Copies the migrations named before `before` to `scratch`.
fn old_migrations(dialect: &str, before: &str, scratch: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    std::fs::create_dir_all(scratch).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.as_str() < before {
            std::fs::copy(entry.path(), scratch.join(&name)).unwrap();
        }
    }
}

async fn sqlite_store(dir: &TempDir) -> SqliteStore {
    let db = dir.path().join("dynsec.db");
    let scratch = dir.path().join("old-migrations");
    old_migrations("sqlite", "0008", &scratch);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(scratch.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let seq = format!(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {})",
        LIVE_LEASES + REVOKED_LEASES
    );
    let mut tx = pool.begin().await.unwrap();
    for sql in fill_statements(&settings_json()) {
        let sql = format!("{seq} {}", sql.replace("{blob}", "x'02'"));
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
    let store = SqliteStore::open(&db).await.unwrap();
    // As a long-running gateway's database would have (ANALYZE is cheap).
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    pool.close().await;
    store
}

async fn postgres_store(db: &PgDatabase) -> PostgresStore {
    let scratch = TempDir::new("dynsec-bench-pg");
    old_migrations("postgres", "0002", scratch.path());
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::migrate::Migrator::new(scratch.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let seq = format!(
        "WITH seq(i) AS (SELECT generate_series(1, {}))",
        LIVE_LEASES + REVOKED_LEASES
    );
    for sql in fill_statements(&settings_json()) {
        let sql = format!("{seq} {}", sql.replace("{blob}", "'\\x02'::bytea"));
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let store = PostgresStore::connect(&db.url).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    pool.close().await;
    store
}

const ALL: ItemKinds = ItemKinds {
    dynamic_secrets: true,
    protection_keys: true,
};

async fn run(label: &str, store: &dyn Store) {
    println!("\n{label}:");

    // list-items on a 1-item folder, 20k secrets elsewhere.
    let first = store
        .items_in_folder("/lonely", ALL, "", None, 100)
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    let (p50, p95) = timed(|| store.items_in_folder("/lonely", ALL, "", None, 100)).await;
    println!(
        "  list-items, 1-item folder, {} secrets elsewhere: p50 {}, p95 {}",
        ELSEWHERE + BIG_FOLDER + 1,
        ms(p50),
        ms(p95)
    );
    let (all, took, peak) = measured(store.list_producers()).await;
    println!(
        "    (the whole-table read it replaces: {} rows in {}, peak heap +{})",
        all.unwrap().len(),
        ms(took),
        mib(peak)
    );

    // A 10k folder, page by page.
    for page_size in [100u32, 1000] {
        let start = Instant::now();
        let mut pages = 0;
        let mut items = 0;
        let mut after: Option<PageToken<ItemsInFolder>> = None;
        let mut slowest = Duration::ZERO;
        loop {
            let t = Instant::now();
            let page = store
                .items_in_folder("/big", ALL, "", after.as_ref(), page_size)
                .await
                .unwrap();
            slowest = slowest.max(t.elapsed());
            pages += 1;
            items += page.items.len();
            after = page.next;
            if after.is_none() {
                break;
            }
        }
        assert_eq!(items, BIG_FOLDER);
        let total = start.elapsed();
        println!(
            "  list-items, {BIG_FOLDER}-item folder, pages of {page_size}: {pages} pages in {} \
             ({} per page, slowest {})",
            ms(total),
            ms(total / pages),
            ms(slowest)
        );
    }

    // tmp-creds: 100k live leases (and 100k revoked) on one secret.
    let busy = store
        .producer_by_name("/busy/secret")
        .await
        .unwrap()
        .unwrap()
        .id;
    let (page, took, peak) =
        measured(store.leases_of_secret(busy, LeaseScope::Live, None, 100)).await;
    assert_eq!(page.unwrap().items.len(), 100);
    let (p50, p95) = timed(|| store.leases_of_secret(busy, LeaseScope::Live, None, 100)).await;
    println!(
        "  tmp-creds page of 100, {LIVE_LEASES} live + {REVOKED_LEASES} revoked leases: \
         p50 {}, p95 {}; first call {}, peak heap +{}",
        ms(p50),
        ms(p95),
        ms(took),
        mib(peak)
    );
    // A page deep inside: the same cost (a token, not an offset).
    let mut after: Option<PageToken<LeasesOfSecret>> = None;
    for _ in 0..50 {
        let page = store
            .leases_of_secret(busy, LeaseScope::Live, after.as_ref(), 1000)
            .await
            .unwrap();
        after = page.next;
    }
    let deep = after.expect("more than 50k live leases");
    let (p50, _) = timed(|| store.leases_of_secret(busy, LeaseScope::Live, Some(&deep), 100)).await;
    println!("    page of 100 after the first 50k: p50 {}", ms(p50));
    let (all, took, peak) = measured(store.leases_of_producer(busy, false)).await;
    println!(
        "    (the whole list it replaces: {} leases in {}, peak heap +{})",
        all.unwrap().len(),
        ms(took),
        mib(peak)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "store-level listing benchmark ({} secrets, {} leases on one secret)",
        ELSEWHERE + BIG_FOLDER + 2,
        LIVE_LEASES + REVOKED_LEASES
    );
    let dir = TempDir::new("dynsec-bench-sqlite");
    let start = Instant::now();
    let sqlite = sqlite_store(&dir).await;
    println!("SQLite filled and migrated in {}", ms(start.elapsed()));
    run("SQLite (file, WAL)", &sqlite).await;

    let db = PgDatabase::create().await;
    let start = Instant::now();
    let postgres = postgres_store(&db).await;
    println!(
        "\nPostgreSQL filled and migrated in {}",
        ms(start.elapsed())
    );
    run("PostgreSQL (127.0.0.1, one pool)", &postgres).await;
    postgres.close().await;
}
