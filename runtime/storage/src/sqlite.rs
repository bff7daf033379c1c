//! SQLite for functions: one database file per function in the data directory, or databases
//! named in the configuration, reached from `wasmedge-sqlite` and the D1-like `env.DB`.
//!
//! Every connection is opened in WAL mode (readers do not block the writer), with a busy
//! timeout (writers wait for each other instead of failing with "database is locked") and
//! foreign keys on. Statements come from a small pool of connections per database and a
//! per-connection cache of prepared statements, and are interrupted once the request's deadline
//! passes. Parameters are always bound, never spliced into SQL.
//!
//! Where statements run: handing work to tokio's blocking pool and back costs two thread
//! wake-ups, more than a point lookup itself. So a call first runs on the calling thread with a
//! small budget of SQLite VM steps and no waiting for locks; a statement that needs more steps,
//! or a lock another writer holds, is interrupted (SQLite undoes it) and run again on the
//! blocking pool with the full busy timeout. A worker thread is thus never blocked for longer
//! than the budget.

use anyhow::{Context, Result, bail};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wisp_abi::hostcall::{SqlResult, SqlValue};

/// Idle connections kept per database.
const MAX_IDLE: usize = 8;
/// How many SQLite VM steps run between deadline checks.
const STEPS_PER_CHECK: i32 = 10_000;
/// VM steps a call may take on the calling thread before it moves to the blocking pool
/// (tens of microseconds of work).
const INLINE_STEPS: i32 = 20_000;

pub struct SqliteStore {
    dir: PathBuf,
    named: HashMap<String, PathBuf>,
    busy_timeout: Duration,
    databases: Mutex<HashMap<PathBuf, Arc<Database>>>,
}

struct Database {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Databases of functions live in `dir`; `named` maps configured names to files.
    pub fn new(dir: &Path, named: HashMap<String, PathBuf>, busy_timeout: Duration) -> Self {
        SqliteStore {
            dir: dir.to_path_buf(),
            named,
            busy_timeout,
            databases: Mutex::new(HashMap::new()),
        }
    }

    /// The file behind `database` for `function` ("" = the function's own).
    pub fn path(&self, function: &str, database: &str) -> Result<PathBuf> {
        if database.is_empty() {
            return Ok(self.dir.join(format!("{function}.db")));
        }
        match self.named.get(database) {
            Some(p) => Ok(p.clone()),
            None => bail!(
                "SQLite: no database named {database:?} (configure it under [sqlite.databases])"
            ),
        }
    }

    fn database(&self, path: PathBuf) -> Arc<Database> {
        self.databases
            .lock()
            .unwrap()
            .entry(path.clone())
            .or_insert_with(|| {
                Arc::new(Database {
                    path,
                    idle: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// Runs `statements` on a database: one alone, or several in one transaction (all or
    /// nothing). Stops with an error once `deadline` passes.
    pub async fn run(
        &self,
        function: &str,
        database: &str,
        statements: Vec<(String, Vec<SqlValue>)>,
        deadline: Instant,
    ) -> Result<Vec<SqlResult>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.database(self.path(function, database)?);
        let busy_timeout = self.busy_timeout;
        if let Some(result) = db.try_inline(&statements, busy_timeout, deadline)? {
            return result;
        }
        tokio::task::spawn_blocking(move || {
            let mut conn = db.connection(busy_timeout)?;
            conn.progress_handler(STEPS_PER_CHECK, Some(move || Instant::now() >= deadline));
            let result = execute_all(&mut conn, &statements);
            conn.progress_handler(STEPS_PER_CHECK, None::<fn() -> bool>);
            db.recycle(conn);
            result
        })
        .await
        .context("SQLite worker")?
    }
}

/// Whether an error means "try again on the blocking pool" rather than "tell the user".
fn needs_blocking_pool(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<SqlError>().and_then(|e| e.code),
            Some(
                rusqlite::ErrorCode::OperationInterrupted
                    | rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
            )
        )
    })
}

impl Database {
    /// Runs `statements` on this thread within [`INLINE_STEPS`] and without waiting for locks.
    /// `None` when they need the blocking pool (nothing was changed then).
    fn try_inline(
        &self,
        statements: &[(String, Vec<SqlValue>)],
        busy_timeout: Duration,
        deadline: Instant,
    ) -> Result<Option<Result<Vec<SqlResult>>>> {
        let mut conn = self.connection(busy_timeout)?;
        conn.busy_timeout(Duration::ZERO)?;
        let budget = std::cell::Cell::new(INLINE_STEPS / 1000);
        conn.progress_handler(
            1000,
            Some(move || {
                budget.set(budget.get() - 1);
                budget.get() < 0 || Instant::now() >= deadline
            }),
        );
        let result = execute_all(&mut conn, statements);
        conn.progress_handler(1000, None::<fn() -> bool>);
        conn.busy_timeout(busy_timeout)?;
        self.recycle(conn);
        match result {
            Err(e) if needs_blocking_pool(&e) && Instant::now() < deadline => Ok(None),
            other => Ok(Some(other)),
        }
    }

    fn connection(&self, busy_timeout: Duration) -> Result<Connection> {
        if let Some(conn) = self.idle.lock().unwrap().pop() {
            return Ok(conn);
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("SQLite: opening {}", self.path.display()))?;
        conn.busy_timeout(busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }

    fn recycle(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap();
        if idle.len() < MAX_IDLE && conn.is_autocommit() {
            idle.push(conn);
        }
    }
}

fn execute_all(
    conn: &mut Connection,
    statements: &[(String, Vec<SqlValue>)],
) -> Result<Vec<SqlResult>> {
    if let [(sql, params)] = statements {
        return Ok(vec![execute(conn, sql, params)?]);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let mut results = Vec::with_capacity(statements.len());
    for (i, (sql, params)) in statements.iter().enumerate() {
        let result = execute(&tx, sql, params)
            .with_context(|| format!("in statement {} of the batch (rolled back)", i + 1))?;
        results.push(result);
    }
    tx.commit().map_err(sql_error)?;
    Ok(results)
}

fn execute(conn: &Connection, sql: &str, params: &[SqlValue]) -> Result<SqlResult> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let expected = stmt.parameter_count();
    if expected != params.len() {
        bail!(
            "SQLite: the statement has {expected} parameter(s) but {} value(s) were bound",
            params.len()
        );
    }
    let values = params.iter().map(to_sqlite);
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let readonly = stmt.readonly();
    // Rows this statement changed: `changes()` alone keeps the last INSERT/UPDATE/DELETE's
    // count through a `CREATE TABLE`, which changes none (and `total_changes()` does not move).
    let changed_before = conn.total_changes();
    let mut result = SqlResult {
        columns,
        ..SqlResult::default()
    };
    if result.columns.is_empty() {
        stmt.execute(rusqlite::params_from_iter(values))
            .map_err(sql_error)?;
    } else {
        let width = result.columns.len();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values))
            .map_err(sql_error)?;
        while let Some(row) = rows.next().map_err(sql_error)? {
            let mut out = Vec::with_capacity(width);
            for i in 0..width {
                out.push(from_sqlite(row.get_ref(i)?));
            }
            result.rows.push(out);
        }
    }
    if !readonly {
        result.changes = if conn.total_changes() == changed_before {
            0
        } else {
            conn.changes()
        };
        result.last_row_id = conn.last_insert_rowid();
    }
    Ok(result)
}

/// An error from SQLite, with its code kept for [`needs_blocking_pool`].
#[derive(Debug)]
struct SqlError {
    message: String,
    code: Option<rusqlite::ErrorCode>,
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqlError {}

fn sql_error(e: rusqlite::Error) -> anyhow::Error {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    let message = if code == Some(rusqlite::ErrorCode::OperationInterrupted) {
        "SQLite: the statement was interrupted: the request's time limit passed".to_owned()
    } else {
        format!("SQLite: {e}")
    };
    anyhow::Error::new(SqlError { message, code })
}

fn to_sqlite(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(s) => Value::Text(s.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
    }
}

fn from_sqlite(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(sql: &str, params: Vec<SqlValue>) -> (String, Vec<SqlValue>) {
        (sql.to_owned(), params)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test]
    async fn queries_bind_parameters_and_batches_are_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path(), HashMap::new(), Duration::from_secs(5));
        store
            .run(
                "f",
                "",
                vec![stmt(
                    "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)",
                    vec![],
                )],
                later(),
            )
            .await
            .unwrap();
        let r = store
            .run(
                "f",
                "",
                vec![stmt(
                    "INSERT INTO t (name) VALUES (?)",
                    vec![SqlValue::Text("a'; DROP TABLE t; --".into())],
                )],
                later(),
            )
            .await
            .unwrap();
        assert_eq!((r[0].changes, r[0].last_row_id), (1, 1));
        // The second insert violates UNIQUE: the whole batch is rolled back.
        let err = store
            .run(
                "f",
                "",
                vec![
                    stmt("INSERT INTO t (name) VALUES ('b')", vec![]),
                    stmt("INSERT INTO t (name) VALUES ('b')", vec![]),
                ],
                later(),
            )
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("UNIQUE"), "{err:#}");
        let r = store
            .run(
                "f",
                "",
                vec![stmt("SELECT id, name FROM t ORDER BY id", vec![])],
                later(),
            )
            .await
            .unwrap();
        assert_eq!(r[0].columns, ["id", "name"]);
        assert_eq!(
            r[0].rows,
            vec![vec![
                SqlValue::Integer(1),
                SqlValue::Text("a'; DROP TABLE t; --".into())
            ]]
        );
        assert!(dir.path().join("f.db").exists());
        // A statement that changes no row reports none, whatever ran before it.
        let r = store
            .run(
                "f",
                "",
                vec![
                    stmt("INSERT INTO t (name) VALUES ('c')", vec![]),
                    stmt("CREATE TABLE u (x)", vec![]),
                ],
                later(),
            )
            .await
            .unwrap();
        assert_eq!((r[0].changes, r[1].changes), (1, 0));
    }

    #[tokio::test]
    async fn errors_carry_sqlites_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path(), HashMap::new(), Duration::from_secs(5));
        let err = store
            .run("f", "", vec![stmt("SELEC 1", vec![])], later())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("syntax error"), "{err}");
        let err = store
            .run("f", "", vec![stmt("SELECT ?", vec![])], later())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("1 parameter"), "{err}");
        let err = store
            .run("f", "nope", vec![stmt("SELECT 1", vec![])], later())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("[sqlite.databases]"), "{err}");
    }

    #[tokio::test]
    async fn statements_past_the_inline_budget_finish_on_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path(), HashMap::new(), Duration::from_secs(5));
        let count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT count(*) FROM c";
        let r = store
            .run("f", "", vec![stmt(count, vec![])], later())
            .await
            .unwrap();
        assert_eq!(r[0].rows, vec![vec![SqlValue::Integer(200_000)]]);
    }

    #[tokio::test]
    async fn a_runaway_query_stops_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path(), HashMap::new(), Duration::from_secs(5));
        let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
        let start = Instant::now();
        let err = store
            .run(
                "f",
                "",
                vec![stmt(forever, vec![])],
                Instant::now() + Duration::from_millis(100),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("time limit"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
