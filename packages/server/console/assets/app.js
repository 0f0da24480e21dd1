// The console's shell: login, layout and the hash router (#/things/dev-1 …).
import { currentSession, login, logout, onSessionLost, ApiError } from './api.js';
import { h, mount, errorBox } from './ui.js';

const PAGES = [
  { path: /^\/$/, nav: 'overview', load: () => import('./pages/overview.js') },
  { path: /^\/things$/, nav: 'things', load: () => import('./pages/things.js') },
  { path: /^\/things\/(?<name>[^/]+)$/, nav: 'things', load: () => import('./pages/thing.js') },
  { path: /^\/certificates$/, nav: 'certificates', load: () => import('./pages/certificates.js') },
  { path: /^\/certificates\/(?<id>[0-9a-f]{64})$/, nav: 'certificates', load: () => import('./pages/certificate.js') },
  { path: /^\/templates$/, nav: 'templates', load: () => import('./pages/templates.js') },
  { path: /^\/templates\/(?<name>[^/]+)$/, nav: 'templates', load: () => import('./pages/template.js') },
  { path: /^\/policies$/, nav: 'policies', load: () => import('./pages/policies.js') },
  { path: /^\/policies\/(?<name>[^/]+)$/, nav: 'policies', load: () => import('./pages/policy.js') },
  { path: /^\/cas$/, nav: 'cas', load: () => import('./pages/cas.js') },
];

const NAV = [
  ['overview', '#/', 'Overview'],
  ['things', '#/things', 'Things'],
  ['certificates', '#/certificates', 'Certificates'],
  ['templates', '#/templates', 'Templates'],
  ['policies', '#/policies', 'Policies'],
  ['cas', '#/cas', 'CAs'],
];

const root = document.getElementById('app');
let session = null;
let cleanup = null;
let renderId = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(qs ?? '') };
}

function showLogin(message) {
  session = null;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const keyId = h('input', {
    id: 'accessKeyId',
    name: 'accessKeyId',
    autocomplete: 'username',
    required: true,
    spellcheck: 'false',
    placeholder: 'AKIA…',
  });
  const secret = h('input', {
    id: 'secretAccessKey',
    name: 'secretAccessKey',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const status = h('div', { 'data-testid': 'login-status' }, message ? h('div', { class: 'alert warn' }, message) : null);
  const submit = h('button', { class: 'primary', type: 'submit' }, 'Sign in');
  const token = h('input', { id: 'loginToken', 'aria-label': 'Login token', spellcheck: 'false', autocomplete: 'off' });
  async function signIn(credentials) {
    submit.disabled = true;
    try {
      await login(credentials);
      await start();
    } catch (err) {
      mount(status, errorBox(err instanceof ApiError ? { message: err.message } : err, 'Sign-in failed:'));
      secret.value = '';
    } finally {
      submit.disabled = false;
    }
  }
  const form = h(
    'form',
    {
      class: 'login',
      'data-testid': 'login-form',
      onsubmit: (e) => {
        e.preventDefault();
        void signIn({ accessKeyId: keyId.value.trim(), secretAccessKey: secret.value });
      },
    },
    h('div', { class: 'brand' }, h('img', { src: '/console/assets/favicon.svg', alt: '' }), 'fleetprov console'),
    h('p', {}, "Sign in with the server's admin access key pair (DATA_DIR/credentials)."),
    h('label', { for: 'accessKeyId' }, 'Access key id'),
    keyId,
    h('label', { for: 'secretAccessKey' }, 'Secret access key'),
    secret,
    status,
    submit,
    h(
      'details',
      { class: 'alt' },
      h('summary', {}, 'Sign in with a login token instead'),
      h('p', {}, 'Run ', h('code', {}, 'fleetprov console-login'), ' on the server and open the link it prints, or paste its token here.'),
      token,
      h(
        'button',
        { type: 'button', 'data-testid': 'token-login', onclick: () => void signIn({ loginToken: token.value.trim() }) },
        'Sign in with token',
      ),
    ),
  );
  root.className = '';
  mount(root, h('div', { class: 'login-wrap' }, form));
  keyId.focus();
}

function layout() {
  const nav = h(
    'nav',
    { class: 'nav' },
    NAV.map(([id, href, text]) => h('a', { href, dataset: { nav: id } }, text)),
  );
  const main = h('main', { class: 'main', id: 'main' });
  const who = h(
    'div',
    { class: 'who' },
    'Signed in as',
    h('code', { 'data-testid': 'who' }, session.accessKeyId),
    h(
      'button',
      {
        class: 'small',
        'data-testid': 'logout',
        onclick: async () => {
          await logout();
          location.hash = '#/';
          showLogin('Signed out.');
        },
      },
      'Sign out',
    ),
  );
  mount(
    root,
    h(
      'div',
      { class: 'layout' },
      h(
        'aside',
        { class: 'sidebar' },
        h('div', { class: 'brand' }, h('img', { src: '/console/assets/favicon.svg', alt: '' }), 'fleetprov'),
        nav,
        who,
      ),
      main,
    ),
  );
  return { nav, main };
}

let shell = null;

async function route() {
  if (session === null) return;
  const id = ++renderId;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  // A notice survives the navigation it caused, not the ones after it.
  for (const t of document.querySelectorAll('.toast')) if (Date.now() - Number(t.dataset.at) > 1000) t.remove();
  for (const m of document.querySelectorAll('.modal-back')) m.remove();
  const { path, query } = parseHash();
  const page = PAGES.find((p) => p.path.test(path));
  shell ??= layout();
  const { nav, main } = shell;
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.nav === page?.nav);
  if (page === undefined) {
    mount(
      main,
      h('h1', {}, 'Not found'),
      h('p', {}, 'No console page at ', h('code', {}, path), '. ', h('a', { href: '#/' }, 'Back to the overview')),
    );
    return;
  }
  const params = Object.fromEntries(Object.entries(page.path.exec(path).groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
  mount(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const mod = await page.load();
    if (id !== renderId) return;
    const view = h('div', { 'data-page': page.nav });
    mount(main, view);
    const result = await mod.render(view, params, query);
    if (id !== renderId) {
      if (typeof result === 'function') result();
      return;
    }
    if (typeof result === 'function') cleanup = result;
  } catch (err) {
    if (id === renderId && session !== null) mount(main, errorBox(err, 'This page failed to load:'));
  }
}

async function start() {
  session = await currentSession();
  if (session === null) return showLogin();
  shell = null;
  root.className = '';
  await route();
}

onSessionLost((message) => {
  if (session !== null) showLogin(`Your session ended (${message ?? 'signed out'}). Sign in again.`);
});

/**
 * A login link of `fleetprov console-login`: /console/#login=<token>. The token leaves the
 * address bar at once and is exchanged for a session cookie. False when the address is no such link.
 */
function loginFromLink() {
  const match = /^#login=(.*)$/.exec(location.hash);
  if (match === null) return false;
  history.replaceState(null, '', '/console/#/');
  login({ loginToken: decodeURIComponent(match[1]) }).then(start, (err) => showLogin(`The login link did not work: ${err.message}`));
  return true;
}

window.addEventListener('hashchange', () => {
  if (!loginFromLink()) void route();
});

if (!loginFromLink()) start().catch((err) => mount(root, errorBox(err, 'The console could not start:')));
