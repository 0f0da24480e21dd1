// A dependency-free SVG line chart of provisioning requests per second by outcome.

const NS = 'http://www.w3.org/2000/svg';
export const SERIES = [
  { key: 'accepted', label: 'accepted', color: '#1d7a46' },
  { key: 'rejected', label: 'rejected', color: '#c0392b' },
];

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * Draws `stats.provisioning` (buckets of { start, outcome, count }, epoch seconds) as req/s over
 * [since, now] into the <svg> `svg`.
 */
export function drawRateChart(svg, provisioning, nowSeconds) {
  const W = 800,
    H = 220,
    L = 44,
    R = 10,
    T = 10,
    B = 24;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.replaceChildren();
  const step = provisioning.bucketSeconds;
  const start = provisioning.since;
  const n = Math.max(1, Math.ceil((nowSeconds - start) / step));
  const values = Object.fromEntries(SERIES.map((s) => [s.key, new Array(n).fill(0)]));
  for (const b of provisioning.buckets) {
    const i = Math.floor((b.start - start) / step);
    if (i >= 0 && i < n && values[b.outcome]) values[b.outcome][i] += b.count / step;
  }
  const max = niceMax(Math.max(...SERIES.flatMap((s) => values[s.key])));
  const x = (i) => L + ((W - L - R) * i) / Math.max(1, n - 1);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (let g = 0; g <= 4; g++) {
    const v = (max * g) / 4;
    svg.append(el('line', { class: 'gridline', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    svg.append(el('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, v >= 10 ? v.toFixed(0) : String(Number(v.toPrecision(3)))));
  }
  svg.append(el('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (let m = 0; m <= 6; m++) {
    const t = start + ((nowSeconds - start) * m) / 6;
    const label = new Date(t * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    svg.append(
      el('text', { x: L + ((W - L - R) * m) / 6, y: H - 6, 'text-anchor': m === 0 ? 'start' : m === 6 ? 'end' : 'middle' }, label),
    );
  }
  for (const s of SERIES) {
    const pts = values[s.key].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.append(
      el('polyline', {
        points: pts,
        fill: 'none',
        stroke: s.color,
        'stroke-width': 2,
        'vector-effect': 'non-scaling-stroke',
        'data-series': s.key,
      }),
    );
  }
  return { max, totals: Object.fromEntries(SERIES.map((s) => [s.key, values[s.key].reduce((a, v) => a + v * step, 0)])) };
}
