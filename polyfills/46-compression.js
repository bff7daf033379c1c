// CompressionStream / DecompressionStream (gzip, deflate, deflate-raw) as TransformStreams over
// incremental Rust coders in the engine (runtime/engine/src/compression.rs).
(function () {
  const internal = globalThis.__wisp;
  const { native, define } = internal;

  function bytesOf(chunk, label) {
    if (chunk instanceof Uint8Array) return chunk;
    if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
    if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    throw new TypeError(`${label}: chunks must be ArrayBuffers or views of one`);
  }

  function coder(format, decompress, label) {
    const id = native.zNew(String(format), decompress);
    if (id === undefined || id === null) throw new TypeError(`${label}: unsupported format '${format}' (gzip, deflate, deflate-raw)`);
    const transform = new TransformStream({
      transform(chunk, controller) {
        const out = native.zPush(id, bytesOf(chunk, label));
        if (out.length > 0) controller.enqueue(out);
      },
      flush(controller) {
        const out = native.zFinish(id);
        if (out.length > 0) controller.enqueue(out);
      },
    });
    return transform;
  }

  class CompressionStream {
    #t;
    constructor(format) { this.#t = coder(format, false, 'CompressionStream'); }
    get readable() { return this.#t.readable; }
    get writable() { return this.#t.writable; }
    get [Symbol.toStringTag]() { return 'CompressionStream'; }
  }
  class DecompressionStream {
    #t;
    constructor(format) { this.#t = coder(format, true, 'DecompressionStream'); }
    get readable() { return this.#t.readable; }
    get writable() { return this.#t.writable; }
    get [Symbol.toStringTag]() { return 'DecompressionStream'; }
  }
  define(globalThis, 'CompressionStream', CompressionStream);
  define(globalThis, 'DecompressionStream', DecompressionStream);
})();
