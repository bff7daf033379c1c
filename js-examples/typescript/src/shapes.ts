export enum Shape {
  Square,
  Rect,
}

export interface Dims {
  w: number;
  h: number;
}

export function area(shape: Shape, { w, h }: Dims): number {
  return shape === Shape.Square ? w * w : w * h;
}
