// The WasmEdge article's cache-aside example (section 6.2): responses are cached in KV for
// 300 seconds under `cache:<path>`, and `x-cache` says whether this one came from the cache.
//
// `fetchUpstream` stands in for the origin (outbound fetch is not needed to show the pattern):
// it renders a page that says when it was made, so a HIT is visibly older than a MISS.
import { kv } from 'wasmedge-kv';

async function fetchUpstream(request) {
  const url = new URL(request.url);
  const body = JSON.stringify({ path: url.pathname, generatedAt: new Date().toISOString(), id: crypto.randomUUID() });
  return { status: 200, body };
}

async function handleRequest(request) {
  const url = new URL(request.url);
  if (request.method === 'DELETE') {
    await kv.delete(`cache:${url.pathname}`);
    return new EdgeResponse({ status: 204 });
  }
  const cacheKey = `cache:${url.pathname}`;

  const cached = await kv.get(cacheKey);
  if (cached) {
    return new EdgeResponse({
      status: 200,
      headers: { 'x-cache': 'HIT', 'content-type': 'application/json' },
      body: cached,
    });
  }

  const result = await fetchUpstream(request);
  await kv.set(cacheKey, result.body, Number(process.env.CACHE_TTL || 300));

  return new EdgeResponse({
    status: 200,
    headers: { 'x-cache': 'MISS', 'content-type': 'application/json' },
    body: result.body,
  });
}

addEventListener('fetch', (event) => {
  event.respondWith(handleRequest(event.request));
});
