import { api, listAll } from '../api.js';
import { h, mount, badge, table, errorBox, pageHead, fmtDate } from '../ui.js';

/** Provisioning templates: list with status, link to create. */
export async function render(root) {
  const templates = await listAll('/provisioning-templates', 'templates', {
    marker: 'nextToken',
    nextKey: 'nextToken',
    sizeKey: 'maxResults',
  }).catch((err) => err);
  mount(
    root,
    pageHead('Provisioning templates', {
      subtitle: 'What a device becomes when it provisions: thing, certificate status, policies.',
      actions: [h('a', { href: '#/templates/new', class: 'button primary', 'data-testid': 'new-template' }, 'New template')],
    }),
    h(
      'div',
      { class: 'panel' },
      templates instanceof Error
        ? errorBox(templates)
        : table(
            [
              { title: 'Name', render: (t) => h('a', { href: `#/templates/${encodeURIComponent(t.templateName)}` }, t.templateName) },
              { title: 'Status', render: (t) => badge(t.enabled ? 'ENABLED' : 'DISABLED') },
              { title: 'Type', render: (t) => t.type ?? 'FLEET_PROVISIONING' },
              { title: 'Description', render: (t) => t.description ?? '' },
              { title: 'Modified', render: (t) => fmtDate(t.lastModifiedDate) },
            ],
            templates,
            { empty: 'No templates yet.', testid: 'templates-table' },
          ),
    ),
  );
}
