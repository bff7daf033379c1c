import type { MiddlewareHandler } from 'hono';

/** Adds `x-powered-by` to every response. */
export function poweredBy(value: string): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.res.headers.set('x-powered-by', value);
  };
}
