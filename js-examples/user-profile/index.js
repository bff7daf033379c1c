// The WasmEdge article's module example (section 3.3): a module that exports handleRequest and
// looks users up in SQLite, with KV as a cache in front (300 s TTL).
//
//   GET  /?user_id=1       the profile (x-cache: HIT or MISS)
//   PUT  /users/1 {…}      create or update a user; drops the cached copy
import { kvGet, kvSet, kv } from 'wasmedge-kv';
import { sqlQuery, sqlExecute } from 'wasmedge-sqlite';

const SEED = [
  [1, 'Ada Lovelace', 'ada@example.com', '/a/1.png'],
  [2, 'Alan Turing', 'alan@example.com', '/a/2.png'],
];

// The database starts empty: create and seed the table the first time a query finds it missing.
async function query(sql, params) {
  try {
    return await sqlQuery(sql, params);
  } catch (e) {
    if (!String(e.message).includes('no such table')) throw e;
    await sqlExecute(
      'CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, avatar TEXT)',
    );
    for (const row of SEED) {
      await sqlExecute('INSERT OR IGNORE INTO users (id, name, email, avatar) VALUES (?, ?, ?, ?)', row);
    }
    return sqlQuery(sql, params);
  }
}

export async function getUserProfile(userId) {
  const cacheKey = `user:${userId}`;
  const cached = await kvGet(cacheKey);
  if (cached) {
    return { user: JSON.parse(cached), cache: 'HIT' };
  }

  const rows = await query('SELECT id, name, email, avatar FROM users WHERE id = ?', [userId]);
  if (rows.length === 0) {
    return { user: null, cache: 'MISS' };
  }

  const user = rows[0];
  await kvSet(cacheKey, JSON.stringify(user), 300);
  return { user, cache: 'MISS' };
}

async function putUser(id, request) {
  const body = await request.json();
  if (typeof body.name !== 'string' || typeof body.email !== 'string') {
    return new EdgeResponse({ status: 400, body: JSON.stringify({ error: 'name and email are required' }) });
  }
  await query('SELECT 1 FROM users LIMIT 1', []);
  const { changes } = await sqlExecute(
    'INSERT INTO users (id, name, email, avatar) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT(id) DO UPDATE SET name = excluded.name, email = excluded.email, avatar = excluded.avatar',
    [id, body.name, body.email, body.avatar ?? null],
  );
  await kv.delete(`user:${id}`);
  return new EdgeResponse({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, changes }) });
}

export async function handleRequest(request) {
  const url = new URL(request.url);
  const put = url.pathname.match(/^\/users\/(\d+)$/);
  if (put && request.method === 'PUT') {
    return putUser(Number(put[1]), request);
  }

  const userId = url.searchParams.get('user_id');
  if (!userId) {
    return new EdgeResponse({
      status: 400,
      body: JSON.stringify({ error: 'user_id is required' }),
    });
  }

  const { user, cache } = await getUserProfile(userId);
  if (!user) {
    return new EdgeResponse({
      status: 404,
      headers: { 'x-cache': cache },
      body: JSON.stringify({ error: 'user not found' }),
    });
  }

  return new EdgeResponse({
    status: 200,
    headers: { 'content-type': 'application/json', 'x-cache': cache },
    body: JSON.stringify(user),
  });
}
