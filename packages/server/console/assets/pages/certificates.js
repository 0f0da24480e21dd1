import { api, listAll } from '../api.js';
import { h, mount, badge, table, errorBox, pageHead, fmtDate, confirmDialog, toast, download, tarArchive, shortId } from '../ui.js';

const STATUSES = ['ACTIVE', 'INACTIVE', 'PENDING_ACTIVATION', 'REVOKED', 'PENDING_TRANSFER', 'REGISTER_INACTIVE'];
const PAGE_SIZE = 25;
/** A certificate is due for rotation within this many days of its notAfter. */
export const ROTATION_DUE_DAYS = 30;

/** Status badge, plus "expired" / "rotation due" from the validity when known. */
export function certificateBadges(c) {
  const out = [badge(c.status)];
  const notAfter = c.validity?.notAfter;
  if (notAfter !== undefined) {
    const days = (notAfter * 1000 - Date.now()) / 86_400_000;
    if (days <= 0) out.push(' ', badge('EXPIRED'));
    else if (days <= ROTATION_DUE_DAYS) out.push(' ', badge('rotation due', 'warn'));
  }
  return out;
}

const ACTIONS = {
  ACTIVE: { label: 'Activate', verb: 'activate', danger: false },
  INACTIVE: { label: 'Deactivate', verb: 'deactivate', danger: true },
  REVOKED: { label: 'Revoke', verb: 'revoke', danger: true },
};

/** Buttons to change a certificate's status, each behind a confirmation; `done` runs after a change. */
export function statusButtons(cert, done) {
  const allowed =
    cert.status === 'ACTIVE'
      ? ['INACTIVE', 'REVOKED']
      : cert.status === 'INACTIVE'
        ? ['ACTIVE', 'REVOKED']
        : cert.status === 'PENDING_ACTIVATION'
          ? ['ACTIVE', 'REVOKED']
          : [];
  return allowed.map((status) => {
    const a = ACTIONS[status];
    return h(
      'button',
      {
        class: `small${a.danger ? ' danger' : ''}`,
        'data-action': a.verb,
        onclick: async () => {
          const ok = await confirmDialog({
            title: `${a.label} certificate?`,
            message: h(
              'div',
              {},
              h('p', {}, `${a.label} certificate `, h('code', {}, shortId(cert.certificateId)), '?'),
              status === 'ACTIVE'
                ? null
                : h(
                    'p',
                    {},
                    'Devices using it are disconnected at once and cannot connect again',
                    status === 'REVOKED' ? '. Revocation cannot be undone.' : ' until it is activated.',
                  ),
            ),
            confirmLabel: a.label,
            danger: a.danger,
          });
          if (!ok) return;
          try {
            await api('PUT', `/certificates/${cert.certificateId}`, { query: { newStatus: status } });
            toast(`Certificate ${shortId(cert.certificateId)} is now ${status}.`);
            await done();
          } catch (err) {
            toast(`${a.label} failed: ${err.message}`);
          }
        },
      },
      a.label,
    );
  });
}

/** Downloads a certificate's PEM. */
export async function downloadPem(certificateId) {
  const d = (await api('GET', `/certificates/${certificateId}`)).certificateDescription;
  download(`${certificateId.slice(0, 12)}.pem.crt`, d.certificatePem);
}

function claimForm(onCreated) {
  const policy = h('select', { id: 'claim-policy', 'data-testid': 'claim-policy' }, h('option', { value: '' }, 'Loading policies…'));
  const out = h('div', {});
  listAll('/policies', 'policies').then(
    (policies) => {
      mount(
        policy,
        h('option', { value: '' }, '(attach no policy)'),
        policies.map((p) => h('option', { value: p.policyName }, p.policyName)),
      );
      const claim = policies.find((p) => /claim|bootstrap/i.test(p.policyName));
      if (claim) policy.value = claim.policyName;
    },
    () => mount(policy, h('option', { value: '' }, '(policies unavailable)')),
  );
  const button = h(
    'button',
    {
      class: 'primary',
      'data-testid': 'create-claim',
      onclick: async () => {
        button.disabled = true;
        try {
          const created = await api('POST', '/keys-and-certificate', { query: { setAsActive: 'true' } });
          if (policy.value)
            await api('PUT', `/target-policies/${encodeURIComponent(policy.value)}`, { body: { target: created.certificateArn } });
          const anchor = await api('GET', '/fleetprov/trust-anchor');
          mount(out, claimResult(created, anchor, policy.value));
          await onCreated();
        } catch (err) {
          mount(out, errorBox(err, 'Creating the claim certificate failed:'));
        } finally {
          button.disabled = false;
        }
      },
    },
    'Create claim certificate',
  );
  return h(
    'div',
    { class: 'panel' },
    h('h2', {}, 'Create a claim certificate'),
    h(
      'p',
      { class: 'muted' },
      'A claim (bootstrap) certificate is what devices connect with to provision themselves. It is created ACTIVE; its private key is shown once.',
    ),
    h('div', { class: 'toolbar' }, h('label', { for: 'claim-policy', style: 'margin:0' }, 'Claim policy'), policy, button),
    out,
  );
}

function claimResult(created, anchor, policyName) {
  const id = created.certificateId;
  const bundle = () =>
    tarArchive([
      { name: 'claim/claim.pem.crt', content: created.certificatePem },
      { name: 'claim/claim.private.pem.key', content: created.keyPair.PrivateKey, mode: 0o600 },
      { name: 'claim/root-ca.pem', content: anchor.rootCertificatePem },
      {
        name: 'claim/README.txt',
        content: `fleetprov claim bundle\ncertificate id: ${id}\npolicy: ${policyName || '(none)'}\nendpoint: ${anchor.endpointAddress}\n\nfleetprov-device provision --endpoint ${anchor.endpointAddress} --ca root-ca.pem --cert claim.pem.crt --key claim.private.pem.key --template <template>\n`,
      },
    ]);
  return h(
    'div',
    { 'data-testid': 'claim-result' },
    h(
      'div',
      { class: 'alert warn' },
      h('strong', {}, 'Save the private key now: '),
      'it is not stored on the server and cannot be shown again.',
    ),
    h(
      'dl',
      { class: 'kv' },
      h('dt', {}, 'Certificate id'),
      h('dd', {}, h('code', { 'data-testid': 'claim-id' }, id)),
      h('dt', {}, 'Policy'),
      h('dd', {}, policyName || '—'),
    ),
    h(
      'div',
      { class: 'actions', style: 'margin:10px 0' },
      h(
        'button',
        {
          class: 'primary',
          'data-testid': 'claim-bundle',
          onclick: () => download(`claim-${id.slice(0, 12)}.tar`, bundle(), 'application/x-tar'),
        },
        'Download bundle (.tar, with root CA)',
      ),
      h('button', { onclick: () => download(`claim-${id.slice(0, 12)}.pem.crt`, created.certificatePem) }, 'Certificate'),
      h('button', { onclick: () => download(`claim-${id.slice(0, 12)}.private.pem.key`, created.keyPair.PrivateKey) }, 'Private key'),
    ),
    h('pre', { class: 'secret', 'data-testid': 'claim-key' }, created.keyPair.PrivateKey),
  );
}

/** Certificates by status, with status changes, PEM downloads and claim creation. */
export async function render(root, _params, query) {
  const status = STATUSES.includes(query.get('status')) ? query.get('status') : '';
  const markers = [undefined];
  let page = 0;
  const results = h('div', {});
  const pager = h('div', { class: 'pager' });
  const tabs = h(
    'div',
    { class: 'tabs' },
    ['', ...STATUSES.slice(0, 4)].map((s) =>
      h(
        'a',
        { href: s ? `#/certificates?status=${s}` : '#/certificates', class: s === status ? 'active' : '' },
        s === '' ? 'All' : s.replace('_', ' ').toLowerCase(),
      ),
    ),
  );

  async function load() {
    try {
      const list = await api('GET', '/certificates', {
        query: { pageSize: PAGE_SIZE, marker: markers[page], status: status || undefined },
      });
      markers[page + 1] = list.nextMarker;
      const rows = await Promise.all(
        (list.certificates ?? []).map(async (c) => {
          try {
            return (await api('GET', `/certificates/${c.certificateId}`)).certificateDescription;
          } catch {
            return c;
          }
        }),
      );
      mount(
        results,
        table(
          [
            {
              title: 'Certificate',
              render: (c) => h('a', { href: `#/certificates/${c.certificateId}`, class: 'mono' }, shortId(c.certificateId)),
            },
            { title: 'Status', render: (c) => certificateBadges(c) },
            { title: 'Created', render: (c) => fmtDate(c.creationDate) },
            { title: 'Valid until', render: (c) => fmtDate(c.validity?.notAfter) },
            {
              title: '',
              render: (c) =>
                h(
                  'div',
                  { class: 'actions' },
                  statusButtons(c, load),
                  h('button', { class: 'small', onclick: () => downloadPem(c.certificateId) }, 'PEM'),
                ),
            },
          ],
          rows,
          { empty: status ? `No ${status} certificates.` : 'No certificates yet.', testid: 'certificates-table' },
        ),
      );
      mount(
        pager,
        h(
          'button',
          {
            class: 'small',
            disabled: page === 0,
            onclick: () => {
              page--;
              void load();
            },
          },
          '‹ Previous',
        ),
        h(
          'button',
          {
            class: 'small',
            disabled: !list.nextMarker,
            onclick: () => {
              page++;
              void load();
            },
          },
          'Next ›',
        ),
      );
    } catch (err) {
      mount(results, errorBox(err, 'Could not list certificates:'));
    }
  }
  mount(
    root,
    pageHead('Certificates', {
      subtitle: `Device and claim certificates. "Rotation due" means within ${ROTATION_DUE_DAYS} days of expiry.`,
    }),
    claimForm(load),
    h('div', { class: 'panel' }, tabs, results, pager),
  );
  await load();
}
