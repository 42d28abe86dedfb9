// Density contours on the ProjectionView map. The kernel computes the iso-lines (a blurred
// 2-D histogram of the layout, marching squares) as segments x0, y0, x1, y1, level in layout
// coordinates; here they are only drawn, through the same camera as the points.

const LEVEL_ALPHA = [0.35, 0.45, 0.55, 0.7];

/** Draw `segments` (Float32Array, 5 numbers each) on a 2-D context; `pixel(x, y)` maps layout
 * coordinates to CSS pixels. Returns how many segments were drawn. */
export function drawContours(ctx, segments, pixel, ratio) {
  if (!segments || segments.length < 5) return 0;
  const count = Math.floor(segments.length / 5);
  ctx.save();
  ctx.lineWidth = 1.2 * ratio;
  for (let level = 0; level < LEVEL_ALPHA.length; level++) {
    ctx.beginPath();
    ctx.strokeStyle = `rgba(55, 71, 79, ${LEVEL_ALPHA[level]})`;
    for (let s = 0; s < count; s++) {
      const o = 5 * s;
      if (segments[o + 4] !== level) continue;
      const [ax, ay] = pixel(segments[o], segments[o + 1]);
      const [bx, by] = pixel(segments[o + 2], segments[o + 3]);
      ctx.moveTo(ax * ratio, ay * ratio);
      ctx.lineTo(bx * ratio, by * ratio);
    }
    ctx.stroke();
  }
  ctx.restore();
  return count;
}
