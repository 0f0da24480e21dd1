// Locating an engine-reported JSON path (`Resources.thing.Properties.ThingName`, `Statement[1].Effect`,
// `Resources["my thing"]`) in the JSON text of an editor, to select it.

/** Splits a path into its keys and indexes. */
export function pathSegments(path) {
  const out = [];
  const re = /(?:^|\.)([A-Za-z0-9_:@-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  let m;
  while ((m = re.exec(path)) !== null) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]));
  }
  return out;
}

/**
 * The [start, end) character range of the key (or array element) that `path` names in `text`, or
 * null. Heuristic: searches for each key in order after the previous one.
 */
export function locatePath(text, path) {
  let pos = 0;
  let range = null;
  for (const seg of pathSegments(path)) {
    if (typeof seg === 'number') continue;
    const needle = JSON.stringify(seg);
    const re = new RegExp(`${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`, 'g');
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m === null) return range;
    range = [m.index, m.index + needle.length];
    pos = m.index + needle.length;
  }
  return range;
}

/** 1-based line number of character `index` in `text`. */
export function lineOf(text, index) {
  return text.slice(0, index).split('\n').length;
}
