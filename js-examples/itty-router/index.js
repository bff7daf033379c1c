// An itty-router app for Wisp: params, a JSON body, middleware that adds a header, a JSON 404
// and an error handler; `lib/store.cjs` is a CommonJS module imported from this ES module.
// Run it: `npm ci && wisp run js-examples/itty-router`.
import { Router, error, json, withParams } from 'itty-router';
import store from './lib/store.cjs';

const stamp = (response) => {
  response.headers.set('x-router', 'itty');
  return response;
};

const router = Router({
  before: [withParams],
  catch: error,
  finally: [json, stamp],
});

router
  .get('/items', () => ({ items: store.list() }))
  .get('/items/:id', ({ id }) => store.get(id) ?? error(404, `no item ${id}`))
  .post('/items', async (request) => {
    const item = store.add(await request.json());
    return json(item, { status: 201 });
  })
  .get('/fail', () => {
    throw new Error('the fail route always fails');
  })
  .all('*', () => error(404, 'no route here'));

export default router;
