// Half of an import cycle with ./odd: each calls the other, which ES semantics allow because
// the functions are hoisted and only called after both modules have run.
import { isOdd } from './odd';

export function isEven(n: number): boolean {
  return n === 0 ? true : isOdd(Math.abs(n) - 1);
}
