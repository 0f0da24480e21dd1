// Small DOM helpers: element builder, badges, tables, dialogs, downloads.

/** Creates an element: h('a', { href, class, onclick }, 'text', child, [children]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    // Through the CSSOM: the console's CSP forbids style attributes.
    else if (k === 'style') {
      for (const decl of String(v).split(';')) {
        const i = decl.indexOf(':');
        if (i > 0) el.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
      }
    } else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const BADGE_KIND = {
  ACTIVE: 'ok',
  ENABLED: 'ok',
  ENABLE: 'ok',
  ALLOW: 'ok',
  accepted: 'ok',
  REGISTER_INACTIVE: 'warn',
  INACTIVE: 'warn',
  PENDING_ACTIVATION: 'info',
  PENDING_TRANSFER: 'info',
  DISABLED: 'grey',
  DISABLE: 'grey',
  info: 'info',
  REVOKED: 'bad',
  DENY: 'bad',
  rejected: 'bad',
  EXPIRED: 'bad',
  'rotation due': 'warn',
};

/** A status badge coloured by meaning. */
export function badge(text, kind) {
  return h('span', { class: `badge ${kind ?? BADGE_KIND[text] ?? 'grey'}` }, text);
}

/** A date (epoch seconds or Date) as local date and time. */
export function fmtDate(value) {
  if (value === undefined || value === null) return '—';
  const d = value instanceof Date ? value : new Date(value * 1000);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

/** A relative time like "5 min ago". */
export function ago(epochSeconds) {
  const s = Math.round(Date.now() / 1000 - epochSeconds);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** A table; `columns` = [{ title, render(row) → node|string, class }]. */
export function table(columns, rows, { empty = 'Nothing here yet.', testid } = {}) {
  return h(
    'table',
    { 'data-testid': testid },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { class: c.class }, c.title)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.length === 0
        ? h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, empty))
        : rows.map((r) =>
            h(
              'tr',
              {},
              columns.map((c) => h('td', { class: c.class }, c.render(r))),
            ),
          ),
    ),
  );
}

/** An error message box for an ApiError or any error. */
export function errorBox(err, prefix) {
  const type = err && err.type ? `${err.type}: ` : '';
  return h('div', { class: 'alert error', role: 'alert' }, prefix ? `${prefix} ` : '', type, err?.message ?? String(err));
}

/** A page heading with optional breadcrumbs, subtitle and actions. */
export function pageHead(title, { crumbs, subtitle, actions } = {}) {
  return h(
    'div',
    { class: 'page-head' },
    h(
      'div',
      {},
      crumbs
        ? h(
            'div',
            { class: 'crumbs' },
            crumbs.map((c, i) => [i > 0 ? ' / ' : '', c.href ? h('a', { href: c.href }, c.text) : c.text]),
          )
        : null,
      h('h1', {}, title),
      subtitle ? h('p', {}, subtitle) : null,
    ),
    actions ? h('div', { class: 'actions' }, actions) : null,
  );
}

/** A modal dialog; resolves true when confirmed. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const close = (answer) => {
      back.remove();
      document.removeEventListener('keydown', onKey);
      resolve(answer);
    };
    const onKey = (e) => {
      if (e.key === 'Escape') close(false);
    };
    const ok = h(
      'button',
      { class: danger ? 'primary danger-fill' : 'primary', 'data-testid': 'confirm-ok', onclick: () => close(true) },
      confirmLabel,
    );
    const back = h(
      'div',
      {
        class: 'modal-back',
        onclick: (e) => {
          if (e.target === back) close(false);
        },
      },
      h(
        'div',
        { class: 'modal', role: 'dialog', 'aria-modal': 'true' },
        h('h2', {}, title),
        typeof message === 'string' ? h('p', {}, message) : message,
        h('div', { class: 'actions' }, h('button', { onclick: () => close(false) }, 'Cancel'), ok),
      ),
    );
    document.addEventListener('keydown', onKey);
    document.body.append(back);
    ok.focus();
  });
}

/** A short notice at the bottom right. */
export function toast(message) {
  const el = h('div', { class: 'toast', role: 'status', dataset: { at: String(Date.now()) } }, message);
  document.body.append(el);
  setTimeout(() => el.remove(), 3500);
}

/** Offers `content` (string or Uint8Array) as a file download. */
export function download(filename, content, type = 'application/x-pem-file') {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A ustar archive of `files` ([{ name, content, mode }]) as bytes: the claim bundle. */
export function tarArchive(files) {
  const enc = new TextEncoder();
  const blocks = [];
  const octal = (n, len) => n.toString(8).padStart(len - 1, '0') + '\0';
  const mtime = Math.floor(Date.now() / 1000);
  for (const f of files) {
    const data = enc.encode(f.content);
    const header = new Uint8Array(512);
    const put = (s, off) => header.set(enc.encode(s), off);
    put(f.name, 0);
    put(octal(f.mode ?? 0o644, 8), 100);
    put(octal(0, 8), 108);
    put(octal(0, 8), 116);
    put(octal(data.length, 12), 124);
    put(octal(mtime, 12), 136);
    put('        ', 148);
    put('0', 156);
    put('ustar\0', 257);
    put('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(header, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let off = 0;
  for (const b of blocks) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

/** A debounced version of `fn`. */
export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/** A short form of a certificate id. */
export function shortId(id) {
  return id ? `${id.slice(0, 10)}…` : '—';
}
