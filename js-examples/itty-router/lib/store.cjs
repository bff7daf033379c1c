// A CommonJS module: an in-memory store seeded for every request (each request runs on a
// fresh instance, so additions do not persist).
const items = new Map([
  ['1', { id: '1', name: 'kettle' }],
  ['2', { id: '2', name: 'teapot' }],
]);

exports.list = () => [...items.values()];
exports.get = (id) => items.get(id);
exports.add = (item) => {
  const id = String(items.size + 1);
  const saved = { id, ...item };
  items.set(id, saved);
  return saved;
};
