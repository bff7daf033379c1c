// crypto.getRandomValues, crypto.randomUUID, and a Math.random fed by the host's random source.
// A snapshot freezes every byte of the engine's memory, QuickJS's own PRNG state included, so
// without this every request would see the same Math.random() sequence.
(function () {
  const internal = globalThis.__wisp;
  const { native, define } = internal;
  const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];

  function getRandomValues(array) {
    if (!INTEGER_ARRAYS.some((C) => array instanceof C)) {
      throw new TypeError('crypto.getRandomValues: the argument must be an integer typed array');
    }
    if (array.byteLength > 65536) {
      throw new DOMException(`crypto.getRandomValues: ${array.byteLength} bytes requested, at most 65536 allowed`, 'QuotaExceededError');
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(native.randomBytes(array.byteLength));
    return array;
  }

  const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  function randomUUID() {
    const b = native.randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let s = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
      s += HEX[b[i]];
    }
    return s;
  }

  let pool = new Uint8Array(0);
  let pos = 0;
  function random() {
    if (pos + 7 > pool.length) { pool = native.randomBytes(1024); pos = 0; }
    // 53 random bits -> [0, 1).
    const hi = (pool[pos] & 0x1f) * 2 ** 48;
    let lo = 0;
    for (let i = 1; i < 7; i++) lo = lo * 256 + pool[pos + i];
    pos += 7;
    return (hi + lo) / 2 ** 53;
  }
  // Called by the engine last thing before the snapshot is taken (runtime/engine/src/init.rs):
  // an instance must not replay the snapshot's pool. Marking it used up is enough.
  internal.resetRandom = () => { pos = pool.length; };
  define(Math, 'random', random);

  const crypto = {};
  define(crypto, 'getRandomValues', getRandomValues);
  define(crypto, 'randomUUID', randomUUID);
  define(globalThis, 'crypto', crypto);
})();
