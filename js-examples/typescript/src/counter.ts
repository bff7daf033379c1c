// A legacy (experimentalDecorators-style) method decorator.
function counted(_target: object, _key: string, desc: PropertyDescriptor): PropertyDescriptor {
  const original = desc.value as (...args: unknown[]) => unknown;
  desc.value = function (this: unknown, ...args: unknown[]) {
    Counter.calls++;
    return original.apply(this, args);
  };
  return desc;
}

export class Counter {
  static calls = 0;
  total = 0;

  @counted
  add(n: number): void {
    this.total += n;
  }
}
