import { api, ApiError } from '../api.js';
import { h, mount, badge, table, errorBox, pageHead, fmtDate, shortId } from '../ui.js';

/** Registered CA certificates and their auto-registration (JITP) state, via ListCACertificates. */
export async function render(root) {
  const body = h('div', { class: 'panel' });
  mount(
    root,
    pageHead('CA certificates', {
      subtitle: 'CAs registered for just-in-time provisioning (JITP) and device certificates signed by your own CA.',
    }),
    body,
  );
  let list;
  try {
    list = await api('GET', '/cacertificates', { query: { pageSize: 250 } });
  } catch (err) {
    if (err instanceof ApiError && (err.type === 'UnknownOperationException' || err.status === 404)) {
      mount(
        body,
        h(
          'div',
          { class: 'alert info', 'data-testid': 'cas-unavailable' },
          h('strong', {}, 'Not available on this server. '),
          'This fleetprov version does not offer ListCACertificates yet (it arrives with just-in-time provisioning).',
        ),
      );
      return;
    }
    mount(body, errorBox(err));
    return;
  }
  const rows = await Promise.all(
    (list.certificates ?? []).map(async (c) => {
      try {
        const d = await api('GET', `/cacertificate/${c.certificateId}`);
        return { ...c, ...d.certificateDescription, registrationConfig: d.registrationConfig };
      } catch {
        return c;
      }
    }),
  );
  mount(
    body,
    table(
      [
        { title: 'CA certificate', render: (c) => h('code', { title: c.certificateId }, shortId(c.certificateId)) },
        { title: 'Status', render: (c) => badge(c.status) },
        { title: 'Auto-registration', render: (c) => (c.autoRegistrationStatus ? badge(c.autoRegistrationStatus) : '—') },
        {
          title: 'Template',
          render: (c) =>
            c.registrationConfig?.templateName
              ? h('a', { href: `#/templates/${encodeURIComponent(c.registrationConfig.templateName)}` }, c.registrationConfig.templateName)
              : c.registrationConfig?.templateBody
                ? 'inline template'
                : '—',
        },
        { title: 'Valid until', render: (c) => fmtDate(c.validity?.notAfter) },
        { title: 'Registered', render: (c) => fmtDate(c.creationDate) },
      ],
      rows,
      { empty: 'No CA certificates are registered.', testid: 'cas-table' },
    ),
  );
}
