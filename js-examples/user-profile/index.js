// The WasmEdge article's module example (section 3.3): a module that exports handleRequest.
// The profile store is an in-memory table here; the storage issue backs it with SQLite and KV.
const users = {
  '1': { id: 1, name: 'Ada Lovelace', email: 'ada@example.com', avatar: '/a/1.png' },
  '2': { id: 2, name: 'Alan Turing', email: 'alan@example.com', avatar: '/a/2.png' },
};

export async function getUserProfile(userId) {
  return users[userId] || null;
}

export async function handleRequest(request) {
  const url = new URL(request.url);
  const userId = url.searchParams.get('user_id');

  if (!userId) {
    return new EdgeResponse({
      status: 400,
      body: JSON.stringify({ error: 'user_id is required' }),
    });
  }

  const profile = await getUserProfile(userId);
  if (!profile) {
    return new EdgeResponse({
      status: 404,
      body: JSON.stringify({ error: 'user not found' }),
    });
  }

  return new EdgeResponse({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(profile),
  });
}
