// The WasmEdge article's Redis fixed-window rate limiter (section 6.3), as a module worker:
// each client (the x-client-id header, else its address) may make LIMIT requests per WINDOW
// seconds; the counter lives in Redis so that every node of a deployment shares it.
//
//   wisp run js-examples/rate-limit/index.js --redis-url redis://127.0.0.1:6379 \
//     --env LIMIT=5 --env WINDOW=60
import { redis } from 'wasmedge-redis';

async function rateLimitCheck(clientId, limit, windowSecs) {
  const key = `rate_limit:${clientId}`;
  const count = await redis.incr(key);
  if (count === 1) {
    await redis.expire(key, windowSecs);
  }
  return { allowed: count <= limit, count, ttl: await redis.ttl(key) };
}

export default {
  async fetch(request, env) {
    const limit = Number(env.LIMIT || 10);
    const windowSecs = Number(env.WINDOW || 60);
    const clientId = request.headers.get('x-client-id') || request.headers.get('x-forwarded-for') || 'anonymous';
    let verdict;
    try {
      verdict = await rateLimitCheck(clientId, limit, windowSecs);
    } catch (e) {
      // Fail open: a Redis outage must not take the API down with it.
      console.error('rate limiter unavailable:', e.message);
      return Response.json({ ok: true, limited: false, degraded: e.message }, { headers: { 'x-ratelimit': 'unavailable' } });
    }
    const headers = {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - verdict.count)),
      'x-ratelimit-reset': String(verdict.ttl),
    };
    if (!verdict.allowed) {
      return Response.json({ error: 'too many requests' }, { status: 429, headers: { ...headers, 'retry-after': String(verdict.ttl) } });
    }
    return Response.json({ ok: true, count: verdict.count }, { headers });
  },
};
