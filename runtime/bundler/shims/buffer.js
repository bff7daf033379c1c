// node:buffer for Wisp: a Buffer that is a Uint8Array with the common encodings (utf8, hex,
// base64, latin1) and helpers (from, alloc, concat, byteLength, isBuffer, toString, equals,
// slice). Bundled only when imported.
'use strict';
const encoder = new TextEncoder();
const decoder = new TextDecoder();
function bytesOf(string, encoding) {
  switch ((encoding || 'utf8').toLowerCase()) {
    case 'utf8': case 'utf-8': return encoder.encode(string);
    case 'hex': {
      const out = new Uint8Array(string.length >> 1);
      for (let i = 0; i < out.length; i++) out[i] = parseInt(string.substr(i * 2, 2), 16);
      return out;
    }
    case 'base64': case 'base64url': {
      const s = atob(string.replace(/-/g, '+').replace(/_/g, '/').replace(/[^A-Za-z0-9+/]/g, ''));
      return Uint8Array.from(s, (c) => c.charCodeAt(0));
    }
    case 'latin1': case 'binary': case 'ascii': return Uint8Array.from(string, (c) => c.charCodeAt(0) & 255);
    default: throw new TypeError('Unknown encoding: ' + encoding);
  }
}
class Buffer extends Uint8Array {
  static from(value, encodingOrOffset, length) {
    if (typeof value === 'string') return toBuffer(bytesOf(value, encodingOrOffset));
    if (value instanceof ArrayBuffer) return new Buffer(value, encodingOrOffset || 0, length ?? value.byteLength - (encodingOrOffset || 0));
    return toBuffer(Uint8Array.from(value));
  }
  static alloc(size, fill) { const b = new Buffer(size); if (fill !== undefined) b.fill(typeof fill === 'string' ? fill.charCodeAt(0) : fill); return b; }
  static allocUnsafe(size) { return new Buffer(size); }
  static isBuffer(b) { return b instanceof Buffer; }
  static byteLength(value, encoding) { return typeof value === 'string' ? bytesOf(value, encoding).length : value.byteLength; }
  static concat(list, total) {
    total = total ?? list.reduce((n, b) => n + b.length, 0);
    const out = new Buffer(total);
    let at = 0;
    for (const b of list) { out.set(b.subarray(0, total - at), at); at += b.length; if (at >= total) break; }
    return out;
  }
  toString(encoding, start, end) {
    const bytes = this.subarray(start || 0, end ?? this.length);
    switch ((encoding || 'utf8').toLowerCase()) {
      case 'utf8': case 'utf-8': return decoder.decode(bytes);
      case 'hex': return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      case 'base64': return btoa(String.fromCharCode(...bytes));
      case 'base64url': return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      case 'latin1': case 'binary': case 'ascii': return String.fromCharCode(...bytes);
      default: throw new TypeError('Unknown encoding: ' + encoding);
    }
  }
  equals(other) { return this.length === other.length && this.every((b, i) => b === other[i]); }
  slice(start, end) { return this.subarray(start, end); }
  subarray(start, end) { const s = Uint8Array.prototype.subarray.call(this, start, end); Object.setPrototypeOf(s, Buffer.prototype); return s; }
  toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
}
function toBuffer(u8) { return new Buffer(u8.buffer, u8.byteOffset, u8.byteLength); }
module.exports = { Buffer, default: { Buffer } };
