// A JSON editor (textarea) with engine validation at JSON paths: shared by templates and policies.
import { h, mount } from './ui.js';
import { locatePath, lineOf } from './json-path.js';

/** Pretty-prints JSON text when it parses; otherwise returns it unchanged. */
export function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * A textarea plus a status line. `validate(text)` resolves to { ok: true, note } or
 * { ok: false, path, message }; it runs as the text changes (debounced) and on demand.
 */
export function jsonEditor({ value, validate, rows = 22, testid }) {
  const area = h('textarea', { rows, wrap: 'off', spellcheck: 'false', 'data-testid': testid, 'aria-label': 'JSON document' });
  area.value = value;
  const status = h('div', { 'data-testid': `${testid}-status` });
  let timer;
  let seq = 0;
  let last = null;

  function show(result) {
    last = result;
    if (result.ok) {
      mount(status, h('div', { class: 'alert ok' }, '✓ Valid', result.note ? ` — ${result.note}` : ''));
      return;
    }
    const range = result.path ? locatePath(area.value, result.path) : null;
    mount(
      status,
      h(
        'div',
        { class: 'alert error', role: 'alert', 'data-testid': 'json-error', 'data-path': result.path ?? '' },
        result.path
          ? h(
              'div',
              {},
              'At ',
              h('span', { class: 'error-path', 'data-testid': 'json-error-path' }, result.path),
              range ? ` (line ${lineOf(area.value, range[0])})` : '',
            )
          : null,
        result.message,
        range
          ? [
              ' ',
              h(
                'button',
                {
                  class: 'small',
                  type: 'button',
                  onclick: () => {
                    area.focus();
                    area.setSelectionRange(range[0], range[1]);
                  },
                },
                'Show',
              ),
            ]
          : null,
      ),
    );
  }

  async function check() {
    const mine = ++seq;
    const text = area.value;
    try {
      JSON.parse(text);
    } catch (err) {
      show({ ok: false, path: '', message: `Not valid JSON: ${err.message}` });
      return last;
    }
    const result = await validate(text).catch((err) => ({ ok: false, path: '', message: err.message }));
    if (mine === seq) show(result);
    return result;
  }

  area.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void check(), 400);
  });
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Tab') {
      e.preventDefault();
      area.setRangeText('  ', area.selectionStart, area.selectionEnd, 'end');
    }
  });
  return {
    element: h('div', {}, area, status),
    area,
    check,
    show,
    get value() {
      return area.value;
    },
    set value(v) {
      area.value = v;
    },
  };
}
