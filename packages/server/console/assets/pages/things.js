import { api } from '../api.js';
import { h, mount, table, errorBox, pageHead, debounce } from '../ui.js';

const PAGE_SIZE = 50;

/** Things: server-side paging (ListThings with nextToken) and search (name prefix, attribute, type). */
export async function render(root, _params, query) {
  const state = {
    namePrefix: query.get('q') ?? '',
    attribute: query.get('attr') ?? '',
    thingTypeName: query.get('type') ?? '',
    tokens: [undefined], // the nextToken of every page seen so far; index = page number
    page: 0,
  };
  const search = h('input', {
    type: 'search',
    placeholder: 'Thing name starts with…',
    value: state.namePrefix,
    'data-testid': 'thing-search',
    style: 'width: 280px',
    'aria-label': 'Search things by name prefix',
  });
  const attr = h('input', {
    type: 'search',
    placeholder: 'attribute=value (prefix)',
    value: state.attribute,
    style: 'width: 220px',
    'aria-label': 'Filter by attribute',
  });
  const type = h('input', {
    type: 'search',
    placeholder: 'Thing type',
    value: state.thingTypeName,
    style: 'width: 160px',
    'aria-label': 'Filter by thing type',
  });
  const results = h('div', { 'data-testid': 'things-results' });
  const pager = h('div', { class: 'pager' });
  mount(
    root,
    pageHead('Things', { subtitle: 'Every thing in the registry, by name. Searching and paging run on the server.' }),
    h('div', { class: 'panel' }, h('div', { class: 'toolbar' }, search, attr, type, h('span', { class: 'grow' })), results, pager),
  );

  async function load() {
    const [attributeName, ...rest] = state.attribute.split('=');
    const attributeValue = rest.join('=');
    try {
      const page = await api('GET', '/things', {
        query: {
          maxResults: PAGE_SIZE,
          nextToken: state.tokens[state.page],
          namePrefix: state.namePrefix.trim() || undefined,
          thingTypeName: state.thingTypeName.trim() || undefined,
          attributeName: attributeName?.trim() || undefined,
          attributeValue: attributeName?.trim() && attributeValue ? attributeValue : undefined,
          usePrefixAttributeValue: attributeName?.trim() && attributeValue ? 'true' : undefined,
        },
      });
      state.tokens[state.page + 1] = page.nextToken;
      mount(
        results,
        table(
          [
            { title: 'Name', render: (t) => h('a', { href: `#/things/${encodeURIComponent(t.thingName)}` }, t.thingName) },
            { title: 'Type', render: (t) => t.thingTypeName ?? h('span', { class: 'muted' }, '—') },
            {
              title: 'Attributes',
              render: (t) =>
                Object.entries(t.attributes ?? {})
                  .slice(0, 4)
                  .map(([k, v]) => h('code', { style: 'margin-right:8px' }, `${k}=${v}`)),
            },
            { title: 'Version', class: 'num', render: (t) => String(t.version ?? '') },
          ],
          page.things ?? [],
          {
            empty: state.namePrefix || state.attribute || state.thingTypeName ? 'No thing matches.' : 'No things yet: provision a device.',
            testid: 'things-table',
          },
        ),
      );
      const first = state.page * PAGE_SIZE + 1;
      const count = (page.things ?? []).length;
      mount(
        pager,
        h('span', { 'data-testid': 'things-range' }, count === 0 ? '' : `${first}–${first + count - 1}`),
        h(
          'button',
          {
            class: 'small',
            disabled: state.page === 0,
            onclick: () => {
              state.page--;
              void load();
            },
          },
          '‹ Previous',
        ),
        h(
          'button',
          {
            class: 'small',
            'data-testid': 'things-next',
            disabled: !page.nextToken,
            onclick: () => {
              state.page++;
              void load();
            },
          },
          'Next ›',
        ),
      );
    } catch (err) {
      mount(results, errorBox(err, 'Could not list things:'));
      mount(pager);
    }
  }

  const restart = debounce(() => {
    state.namePrefix = search.value;
    state.attribute = attr.value;
    state.thingTypeName = type.value;
    state.tokens = [undefined];
    state.page = 0;
    const qs = new URLSearchParams(Object.entries({ q: search.value, attr: attr.value, type: type.value }).filter(([, v]) => v));
    history.replaceState(null, '', `#/things${qs.size ? `?${qs}` : ''}`);
    void load();
  }, 250);
  for (const input of [search, attr, type]) input.addEventListener('input', restart);
  await load();
  search.focus();
}
