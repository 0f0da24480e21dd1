import { api } from '../api.js';
import { h, mount, badge, table, errorBox, pageHead, fmtDate, ago, shortId } from '../ui.js';
import { certificateBadges } from './certificates.js';

/** One thing: attributes, type, groups, certificates (validity, rotation due) and provisioning history. */
export async function render(root, { name }) {
  const enc = encodeURIComponent(name);
  let thing;
  try {
    thing = await api('GET', `/things/${enc}`);
  } catch (err) {
    mount(root, pageHead(name, { crumbs: [{ text: 'Things', href: '#/things' }] }), errorBox(err));
    return;
  }
  const [groups, principals, history] = await Promise.all([
    api('GET', `/things/${enc}/thing-groups`, { query: { maxResults: 250 } }),
    api('GET', `/things/${enc}/principals`, { query: { maxResults: 250 } }),
    api('GET', '/fleetprov/console/events', { query: { thingName: name, limit: 50 } }),
  ]);
  const certificates = await Promise.all(
    (principals.principals ?? []).map(async (arn) => {
      const id = arn.split('/').pop();
      try {
        return (await api('GET', `/certificates/${id}`)).certificateDescription;
      } catch {
        return { certificateId: id, certificateArn: arn, status: 'unknown' };
      }
    }),
  );
  const attrs = Object.entries(thing.attributes ?? {});
  mount(
    root,
    pageHead(thing.thingName, {
      crumbs: [{ text: 'Things', href: '#/things' }, { text: thing.thingName }],
      subtitle: h('code', {}, thing.thingArn),
    }),
    h(
      'div',
      { class: 'grid two' },
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, 'Thing'),
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'Type'),
          h('dd', {}, thing.thingTypeName ?? '—'),
          h('dt', {}, 'Thing id'),
          h('dd', {}, h('code', {}, thing.thingId)),
          h('dt', {}, 'Version'),
          h('dd', {}, String(thing.version)),
          h('dt', {}, 'Billing group'),
          h('dd', {}, thing.billingGroupName ?? '—'),
          h('dt', {}, 'Groups'),
          h(
            'dd',
            { 'data-testid': 'thing-groups' },
            (groups.thingGroups ?? []).length === 0
              ? '—'
              : groups.thingGroups.map((g) => h('span', { class: 'badge info', style: 'margin-right:6px' }, g.groupName)),
          ),
        ),
      ),
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, 'Attributes'),
        table(
          [
            { title: 'Name', render: ([k]) => h('code', {}, k) },
            { title: 'Value', render: ([, v]) => h('code', {}, v) },
          ],
          attrs,
          { empty: 'No attributes.', testid: 'thing-attributes' },
        ),
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Certificates'),
      table(
        [
          {
            title: 'Certificate',
            render: (c) => h('a', { href: `#/certificates/${c.certificateId}`, class: 'mono' }, shortId(c.certificateId)),
          },
          { title: 'Status', render: (c) => certificateBadges(c) },
          { title: 'Valid from', render: (c) => fmtDate(c.validity?.notBefore) },
          { title: 'Valid until', render: (c) => fmtDate(c.validity?.notAfter) },
        ],
        certificates,
        { empty: 'No certificate is attached.', testid: 'thing-certificates' },
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Provisioning history'),
      table(
        [
          {
            title: 'When',
            class: 'nowrap',
            render: (e) => h('span', { title: new Date(e.at * 1000).toISOString() }, `${fmtDate(e.at)} (${ago(e.at)})`),
          },
          { title: 'Outcome', render: (e) => badge(e.outcome) },
          { title: 'Operation', class: 'nowrap', render: (e) => e.operation ?? e.type },
          {
            title: 'Template',
            class: 'nowrap',
            render: (e) => (e.templateName ? h('a', { href: `#/templates/${encodeURIComponent(e.templateName)}` }, e.templateName) : '—'),
          },
          { title: 'Details', render: (e) => [e.errorCode ? [badge(e.errorCode, 'bad'), ' '] : null, e.message ?? ''] },
        ],
        history.events ?? [],
        { empty: 'No provisioning events for this thing.', testid: 'thing-history' },
      ),
    ),
  );
}
