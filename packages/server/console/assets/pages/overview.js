import { api } from '../api.js';
import { h, mount, badge, table, errorBox, pageHead, ago } from '../ui.js';
import { drawRateChart, SERIES } from '../chart.js';

const STATUSES = ['ACTIVE', 'INACTIVE', 'PENDING_ACTIVATION', 'REVOKED', 'PENDING_TRANSFER', 'REGISTER_INACTIVE'];
const REFRESH_MS = 5000;

function card(label, value, sub, testid) {
  return h(
    'div',
    { class: 'card', 'data-testid': testid },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value),
    sub ? h('div', { class: 'sub' }, sub) : null,
  );
}

export async function render(root) {
  const cards = h('div', { class: 'grid cards' });
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'chart');
  svg.dataset.testid = 'rate-chart';
  const chartNote = h('span', { class: 'muted' });
  const rejections = h('div', {});
  const certs = h('div', {});
  const problem = h('div', {});
  mount(
    root,
    pageHead('Overview', { subtitle: 'Provisioning at a glance; refreshes every 5 seconds.' }),
    problem,
    cards,
    h('div', { class: 'spacer' }),
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Provisioning requests per second, last hour ', chartNote),
      svg,
      h(
        'div',
        { class: 'legend' },
        SERIES.map((s) => h('span', { style: `--c:${s.color}` }, s.label)),
      ),
    ),
    h(
      'div',
      { class: 'grid two wide-left' },
      h('div', { class: 'panel' }, h('h2', {}, 'Latest rejections'), rejections),
      h('div', { class: 'panel' }, h('h2', {}, 'Certificates by status'), certs),
    ),
  );

  async function refresh() {
    try {
      const [stats, events] = await Promise.all([
        api('GET', '/fleetprov/stats', { query: { windowSeconds: 3600, bucketSeconds: 30 } }),
        api('GET', '/fleetprov/console/events', { query: { outcome: 'rejected', limit: 10 } }),
      ]);
      mount(problem);
      const c = stats.certificatesByStatus;
      const totalCerts = Object.values(c).reduce((a, b) => a + b, 0);
      mount(
        cards,
        card('Things', stats.things.toLocaleString(), h('a', { href: '#/things' }, 'browse things'), 'card-things'),
        card(
          'Certificates',
          totalCerts.toLocaleString(),
          `${c.ACTIVE} active · ${c.INACTIVE} inactive · ${c.REVOKED} revoked`,
          'card-certificates',
        ),
        card('Templates', String(stats.templates.total), `${stats.templates.enabled} enabled`, 'card-templates'),
        card('Policies', String(stats.policies.total), null, 'card-policies'),
        card('Temporary claims', String(stats.temporaryClaimCertificates), 'CreateProvisioningClaim certificates', 'card-claims'),
      );
      const { totals } = drawRateChart(svg, stats.provisioning, stats.now);
      chartNote.textContent = `(${Math.round(totals.accepted)} accepted, ${Math.round(totals.rejected)} rejected)`;
      mount(
        rejections,
        table(
          [
            {
              title: 'When',
              class: 'nowrap',
              render: (e) => h('span', { class: 'nowrap', title: new Date(e.at * 1000).toISOString() }, ago(e.at)),
            },
            { title: 'Operation', class: 'nowrap', render: (e) => e.operation ?? e.type },
            {
              title: 'Client / thing',
              class: 'nowrap',
              render: (e) =>
                e.thingName
                  ? h('a', { href: `#/things/${encodeURIComponent(e.thingName)}` }, e.thingName)
                  : h('code', {}, e.clientId ?? '—'),
            },
            { title: 'Reason', render: (e) => [badge(e.errorCode ?? 'rejected', 'bad'), ' ', e.message ?? ''] },
          ],
          events.events,
          { empty: 'No rejected provisioning requests.', testid: 'rejections' },
        ),
      );
      mount(
        certs,
        table(
          [
            { title: 'Status', render: (s) => badge(s) },
            { title: 'Count', class: 'num', render: (s) => h('a', { href: `#/certificates?status=${s}` }, String(c[s] ?? 0)) },
          ],
          STATUSES.filter((s) => (c[s] ?? 0) > 0 || s === 'ACTIVE' || s === 'INACTIVE' || s === 'REVOKED'),
        ),
      );
    } catch (err) {
      mount(problem, errorBox(err, 'Could not load the overview:'));
    }
  }
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}
