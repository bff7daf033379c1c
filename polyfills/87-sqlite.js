// SQLite: the WasmEdge-style module `wasmedge-sqlite` (`sqlQuery(sql, params)` → rows as objects,
// `sqlExecute(sql, params)` → { changes, lastInsertRowid }) and the D1-like `env.DB` binding
// (`prepare(sql).bind(...).all() / first() / run() / raw()`, `batch([...])` in one transaction).
// Values are always bound as parameters by the host; nothing here builds SQL.
(function () {
  const internal = globalThis.__wisp;
  const { native, define } = internal;

  function normalise(v) {
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v) && !(v instanceof Uint8Array)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (v instanceof Date) return v.toISOString();
    // SQLite's integers are 64-bit: a bigint past them would wrap around silently.
    if (typeof v === 'bigint' && (v > 9223372036854775807n || v < -9223372036854775808n)) {
      throw new RangeError(`SQLite: ${v} does not fit a 64-bit integer`);
    }
    return v;
  }

  function params(list, what) {
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) throw new TypeError(`${what}: parameters must be an array`);
    return list.map(normalise);
  }

  function objects(columns, rows) {
    const out = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const o = {};
      for (let j = 0; j < columns.length; j++) o[columns[j]] = row[j];
      out[i] = o;
    }
    return out;
  }

  function run(database, statements) {
    return native.sql(database, statements);
  }

  function d1Result(r, started) {
    const [columns, rows, changes, lastRowId] = r;
    return {
      success: true,
      results: objects(columns, rows),
      meta: {
        changes,
        last_row_id: lastRowId,
        changed_db: changes > 0,
        rows_read: rows.length,
        duration: internal.native.monotonicMs() - started,
      },
    };
  }

  class D1PreparedStatement {
    constructor(db, sql, values) {
      this._db = db;
      this._sql = String(sql);
      this._values = values;
    }
    bind(...values) {
      return new D1PreparedStatement(this._db, this._sql, values.map(normalise));
    }
    _statement() { return [this._sql, this._values]; }
    async all() {
      const started = native.monotonicMs();
      return d1Result(run(this._db._database, [this._statement()])[0], started);
    }
    async run() { return this.all(); }
    async first(column) {
      const [columns, rows] = run(this._db._database, [this._statement()])[0];
      if (rows.length === 0) return null;
      const row = objects(columns, [rows[0]])[0];
      if (column === undefined) return row;
      if (!(column in row)) throw new Error(`D1_ERROR: no column ${JSON.stringify(column)} in the result`);
      return row[column];
    }
    async raw(options) {
      const [columns, rows] = run(this._db._database, [this._statement()])[0];
      return options && options.columnNames ? [columns, ...rows] : rows;
    }
  }

  class D1Database {
    constructor(database) { this._database = database; }
    prepare(sql) { return new D1PreparedStatement(this, sql, []); }
    // D1's exec: statements one per line, without parameters, run in order (here in one
    // transaction, so that a failing line leaves nothing half done). Resolves to
    // { count, duration }.
    async exec(query) {
      const lines = String(query).split('\n').map((l) => l.trim()).filter((l) => l !== '');
      if (lines.length === 0) throw new TypeError('D1.exec: no statement given');
      const started = native.monotonicMs();
      run(this._database, lines.map((l) => [l, []]));
      return { count: lines.length, duration: native.monotonicMs() - started };
    }
    async batch(statements) {
      if (!Array.isArray(statements)) throw new TypeError('D1.batch: expects an array of prepared statements');
      for (const s of statements) {
        if (!(s instanceof D1PreparedStatement)) throw new TypeError('D1.batch: every item must come from prepare()');
      }
      const started = native.monotonicMs();
      return run(this._database, statements.map((s) => s._statement())).map((r) => d1Result(r, started));
    }
  }

  const own = new D1Database('');
  const sqlite = {
    async sqlQuery(sql, list) {
      const [columns, rows] = run('', [[String(sql), params(list, 'sqlQuery')]])[0];
      return objects(columns, rows);
    },
    async sqlExecute(sql, list) {
      const [, , changes, lastRowId] = run('', [[String(sql), params(list, 'sqlExecute')]])[0];
      return { changes, lastInsertRowid: lastRowId };
    },
    // A database named in the server's configuration, as a D1-like object.
    database(name) { return new D1Database(String(name)); },
    D1Database,
  };

  internal.modules.sqlite = sqlite;
  internal.sqliteBinding = (database) => (database === '' ? own : new D1Database(database));
})();
