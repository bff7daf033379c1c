// A TypeScript function with no npm dependencies: types, an enum, a decorator, a JSON import,
// an import cycle (src/even.ts ↔ src/odd.ts), a dynamic import(), node:events, and
// EdgeResponse from Wisp's built-in 'wasmedge-quickjs' module.
// Run it: `wisp run js-examples/typescript`.
import { EdgeResponse } from 'wasmedge-quickjs';
import { EventEmitter } from 'node:events';
import { isEven } from './even';
import { Shape, area, type Dims } from './shapes';
import { Counter } from './counter';
import config from './config.json';

const events = new EventEmitter();
let seen = 0;
events.on('request', () => seen++);

export default {
  async fetch(request: Request): Promise<Response> {
    events.emit('request');
    const url = new URL(request.url);
    const n = Number(url.searchParams.get('n') ?? '0');
    switch (url.pathname) {
      case '/parity':
        return Response.json({ n, even: isEven(n) });
      case '/area': {
        const dims: Dims = { w: n, h: 2 };
        return Response.json({ shape: Shape[Shape.Rect], area: area(Shape.Rect, dims) });
      }
      case '/counter': {
        const c = new Counter();
        c.add(n);
        return Response.json({ total: c.total, calls: Counter.calls });
      }
      case '/lazy': {
        const { describe } = await import('./lazy');
        return Response.json({ text: describe(config.service), seen });
      }
      case '/edge':
        return new EdgeResponse({ status: 200, headers: { 'x-edge': 'yes' }, body: 'edge' });
      case '/throw':
        return explode(url.pathname);
      default:
        return new Response('not found', { status: 404 });
    }
  },
};

function explode(path: string): never {
  throw new TypeError(`exploded at ${path}`);
}
