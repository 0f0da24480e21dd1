import { api } from '../api.js';
import { h, mount, table, errorBox, pageHead, fmtDate } from '../ui.js';
import { certificateBadges, statusButtons, downloadPem } from './certificates.js';

/** One certificate: status, validity, things, policies, PEM, status changes. */
export async function render(root, { id }) {
  async function load() {
    let c;
    try {
      c = (await api('GET', `/certificates/${id}`)).certificateDescription;
    } catch (err) {
      mount(root, pageHead('Certificate', { crumbs: [{ text: 'Certificates', href: '#/certificates' }] }), errorBox(err));
      return;
    }
    const [policies, principalThings] = await Promise.all([
      api('POST', `/attached-policies/${encodeURIComponent(c.certificateArn)}`, { query: { pageSize: 250 } }).catch(() => ({
        policies: [],
      })),
      api('GET', '/principals/things', { query: { maxResults: 250 }, headers: { 'x-amzn-principal': c.certificateArn } }).catch(() => ({
        things: [],
      })),
    ]);
    const things = principalThings.things ?? [];
    mount(
      root,
      pageHead(`Certificate ${id.slice(0, 12)}…`, {
        crumbs: [{ text: 'Certificates', href: '#/certificates' }, { text: id.slice(0, 12) }],
        actions: [...statusButtons(c, load), h('button', { class: 'small', onclick: () => downloadPem(id) }, 'Download PEM')],
      }),
      h(
        'div',
        { class: 'panel' },
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'Status'),
          h('dd', { 'data-testid': 'certificate-status' }, certificateBadges(c)),
          h('dt', {}, 'Certificate id'),
          h('dd', {}, h('code', {}, c.certificateId)),
          h('dt', {}, 'ARN'),
          h('dd', {}, h('code', {}, c.certificateArn)),
          h('dt', {}, 'Valid'),
          h('dd', {}, `${fmtDate(c.validity?.notBefore)} – ${fmtDate(c.validity?.notAfter)}`),
          h('dt', {}, 'Created'),
          h('dd', {}, fmtDate(c.creationDate)),
          h('dt', {}, 'Mode'),
          h('dd', {}, c.certificateMode ?? '—'),
          h('dt', {}, 'Issuing CA'),
          h('dd', {}, c.caCertificateId ? h('code', {}, c.caCertificateId) : 'fleetprov CA'),
          h('dt', {}, 'Things'),
          h(
            'dd',
            { 'data-testid': 'certificate-things' },
            things.length === 0
              ? '—'
              : things.map((t) => h('a', { href: `#/things/${encodeURIComponent(t)}`, style: 'margin-right:8px' }, t)),
          ),
        ),
      ),
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, 'Attached policies'),
        table(
          [{ title: 'Policy', render: (p) => h('a', { href: `#/policies/${encodeURIComponent(p.policyName)}` }, p.policyName) }],
          policies.policies ?? [],
          { empty: 'No policy is attached.' },
        ),
      ),
      h('div', { class: 'panel' }, h('h2', {}, 'PEM'), h('pre', {}, c.certificatePem)),
    );
  }
  await load();
}
