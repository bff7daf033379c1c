// Redis: the module `wasmedge-redis`, a client for the server's configured Redis (`[redis] url`).
// Commands go through the host's pooled connection, with its timeout and command allowlist; a
// connection failure rejects with the reason. Replies: strings, numbers, null, arrays.
(function () {
  const internal = globalThis.__wisp;
  const { native } = internal;

  const command = (...args) => native.redis(args);

  const redis = {
    async command(...args) { return command(...args); },
    async get(key) { return command('GET', key); },
    // set(key, value), set(key, value, ttlSeconds), or set(key, value, { EX, PX, NX, XX }).
    async set(key, value, options) {
      const args = ['SET', key, value];
      if (typeof options === 'number') args.push('EX', options);
      else if (options) {
        if (options.EX !== undefined || options.ex !== undefined) args.push('EX', options.EX ?? options.ex);
        if (options.PX !== undefined || options.px !== undefined) args.push('PX', options.PX ?? options.px);
        if (options.NX || options.nx) args.push('NX');
        if (options.XX || options.xx) args.push('XX');
      }
      return command(...args);
    },
    async setEx(key, value, ttlSeconds) { return command('SET', key, value, 'EX', ttlSeconds); },
    async incr(key) { return command('INCR', key); },
    async incrBy(key, by) { return command('INCRBY', key, by); },
    async decr(key) { return command('DECR', key); },
    async expire(key, seconds) { return command('EXPIRE', key, seconds) === 1; },
    async ttl(key) { return command('TTL', key); },
    async del(...keys) { return command('DEL', ...keys); },
    async exists(...keys) { return command('EXISTS', ...keys); },
    async hget(key, field) { return command('HGET', key, field); },
    // hset(key, field, value) or hset(key, { field: value, … }).
    async hset(key, field, value) {
      if (field !== null && typeof field === 'object') {
        const args = ['HSET', key];
        for (const [f, v] of Object.entries(field)) args.push(f, v);
        return command(...args);
      }
      return command('HSET', key, field, value);
    },
    async hgetall(key) {
      const flat = command('HGETALL', key);
      const out = {};
      for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
      return out;
    },
    async hdel(key, ...fields) { return command('HDEL', key, ...fields); },
    async hincrby(key, field, by) { return command('HINCRBY', key, field, by); },
    async lpush(key, ...values) { return command('LPUSH', key, ...values); },
    async rpush(key, ...values) { return command('RPUSH', key, ...values); },
    async lpop(key) { return command('LPOP', key); },
    async rpop(key) { return command('RPOP', key); },
    async lrange(key, start, stop) { return command('LRANGE', key, start, stop); },
    async llen(key) { return command('LLEN', key); },
  };
  // The Rust-style names of the WasmEdge article.
  redis.set_ex = redis.setEx;
  redis.incr_by = redis.incrBy;

  internal.modules.redis = { redis };
})();
