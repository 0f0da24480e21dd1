import { listAll } from '../api.js';
import { h, mount, table, errorBox, pageHead } from '../ui.js';

/** IoT policies: list, link to create. */
export async function render(root) {
  const policies = await listAll('/policies', 'policies').catch((err) => err);
  mount(
    root,
    pageHead('Policies', {
      subtitle: 'IoT policies the broker enforces on every MQTT connection, publish and subscription.',
      actions: [h('a', { href: '#/policies/new', class: 'button primary', 'data-testid': 'new-policy' }, 'New policy')],
    }),
    h(
      'div',
      { class: 'panel' },
      policies instanceof Error
        ? errorBox(policies)
        : table(
            [
              { title: 'Name', render: (p) => h('a', { href: `#/policies/${encodeURIComponent(p.policyName)}` }, p.policyName) },
              { title: 'ARN', render: (p) => h('code', {}, p.policyArn) },
            ],
            policies,
            { empty: 'No policies yet.', testid: 'policies-table' },
          ),
    ),
  );
}
