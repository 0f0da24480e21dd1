import { api, listAll, ApiError } from '../api.js';
import { h, mount, badge, table, errorBox, pageHead, fmtDate, confirmDialog, toast } from '../ui.js';
import { jsonEditor, pretty } from '../editor.js';

const DEFAULT_ROLE = 'arn:aws:iam::000000000000:role/fleetprov-provisioning';
const STARTER = {
  Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
  Resources: {
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Active' } },
    thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Join': ['', ['device_', { Ref: 'SerialNumber' }]] } } },
  },
};

async function validateBody(text, type) {
  const r = await api('POST', '/fleetprov/templates/validate', { body: { templateBody: text, type } });
  if (r.valid) {
    const note = [`parameters: ${r.parameters.join(', ') || '(none)'}`, ...r.warnings.map((w) => `warning: ${w}`)].join(' · ');
    return { ok: true, note };
  }
  return { ok: false, path: r.error.path, message: `${r.error.detail} (${r.error.code})` };
}

function parseParams(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new Error(`"${t}" is not NAME=value`);
    out[t.slice(0, eq).trim()] = t.slice(eq + 1).trim();
  }
  return out;
}

function tryItPanel(editor, getType) {
  const params = h('textarea', { rows: 4, 'data-testid': 'tryit-params', placeholder: 'SerialNumber=1234', spellcheck: 'false' });
  params.value = 'SerialNumber=1234';
  const out = h('div', { 'data-testid': 'tryit-result' });
  const run = h(
    'button',
    {
      'data-testid': 'tryit-run',
      onclick: async () => {
        try {
          const r = await api('POST', '/fleetprov/templates/render', {
            body: { templateBody: editor.value, type: getType(), parameters: parseParams(params.value) },
          });
          if (!r.valid) {
            editor.show({ ok: false, path: r.error.path, message: `${r.error.detail} (${r.error.code})` });
            mount(out, errorBox({ message: `${r.error.code}: ${r.error.message}` }, 'The template does not evaluate:'));
            return;
          }
          const p = r.plan;
          mount(
            out,
            h(
              'dl',
              { class: 'kv' },
              h('dt', {}, 'Thing'),
              h(
                'dd',
                {},
                p.thing
                  ? [
                      h('code', {}, p.thing.thingName),
                      ' ',
                      badge(p.thing.action ?? 'create', 'info'),
                      r.existingThing ? ' (exists already)' : '',
                    ]
                  : '—',
              ),
              h('dt', {}, 'Certificate'),
              h('dd', {}, p.certificate ? badge(p.certificate.status) : 'left PENDING_ACTIVATION'),
              h('dt', {}, 'Policies'),
              h('dd', {}, p.policies.length ? p.policies.map((x) => x.policyName).join(', ') : '—'),
            ),
            h('pre', {}, JSON.stringify(p, null, 2)),
          );
        } catch (err) {
          mount(out, errorBox(err));
        }
      },
    },
    'Render plan',
  );
  return h(
    'div',
    { class: 'panel' },
    h('h2', {}, 'Try it'),
    h(
      'p',
      { class: 'muted' },
      'Evaluates the template in the editor for these device parameters against the current registry. Nothing is created or changed.',
    ),
    h('label', {}, 'Parameters ', h('span', { class: 'hint' }, '(one NAME=value per line)')),
    params,
    h('div', { class: 'actions', style: 'margin-top:8px' }, run),
    out,
  );
}

/** Create (name `new`) or edit a provisioning template; versions; enable/disable; try it. */
export async function render(root, { name }) {
  const isNew = name === 'new';
  let template = null;
  let versions = [];
  if (!isNew) {
    try {
      [template, versions] = await Promise.all([
        api('GET', `/provisioning-templates/${encodeURIComponent(name)}`),
        listAll(`/provisioning-templates/${encodeURIComponent(name)}/versions`, 'versions', {
          marker: 'nextToken',
          nextKey: 'nextToken',
          sizeKey: 'maxResults',
        }),
      ]);
    } catch (err) {
      mount(root, pageHead(name, { crumbs: [{ text: 'Templates', href: '#/templates' }] }), errorBox(err));
      return;
    }
  }
  const type = h(
    'select',
    { id: 't-type', disabled: !isNew },
    ['FLEET_PROVISIONING', 'JITP'].map((t) => h('option', { value: t }, t)),
  );
  if (template?.type) type.value = template.type;
  const editor = jsonEditor({
    value: template ? pretty(template.templateBody) : JSON.stringify(STARTER, null, 2),
    validate: (text) => validateBody(text, type.value),
    testid: 'template-body',
  });
  const message = h('div', { 'data-testid': 'template-message' });
  // A save's complaint is stale once the document changes.
  editor.area.addEventListener('input', () => mount(message));

  const nameInput = h('input', {
    id: 't-name',
    'data-testid': 'template-name',
    placeholder: 'birthing_template',
    pattern: '[0-9A-Za-z_-]{1,36}',
    style: 'width:100%',
  });
  const description = h('input', { id: 't-desc', style: 'width:100%', value: template?.description ?? '' });
  const role = h('input', { id: 't-role', style: 'width:100%', value: template?.provisioningRoleArn ?? DEFAULT_ROLE });
  const enabled = h('input', { type: 'checkbox', id: 't-enabled', 'data-testid': 'template-enabled' });
  enabled.checked = isNew ? true : template.enabled;

  const save = h(
    'button',
    {
      class: 'primary',
      'data-testid': 'template-save',
      onclick: async () => {
        mount(message);
        const result = await editor.check();
        if (!result?.ok) {
          mount(message, h('div', { class: 'alert error' }, 'Fix the template first: the engine reports the problem above.'));
          return;
        }
        save.disabled = true;
        try {
          if (isNew) {
            await api('POST', '/provisioning-templates', {
              body: {
                templateName: nameInput.value.trim(),
                templateBody: editor.value,
                provisioningRoleArn: role.value.trim(),
                enabled: enabled.checked,
                type: type.value,
                ...(description.value ? { description: description.value } : {}),
              },
            });
            toast(`Template ${nameInput.value.trim()} created.`);
            location.hash = `#/templates/${encodeURIComponent(nameInput.value.trim())}`;
            return;
          }
          const current = pretty(template.templateBody);
          if (editor.value.trim() !== current.trim()) {
            const v = await api('POST', `/provisioning-templates/${encodeURIComponent(name)}/versions`, {
              query: { setAsDefault: 'true' },
              body: { templateBody: editor.value },
            });
            toast(`Version ${v.versionId} saved as the default.`);
          }
          await api('PATCH', `/provisioning-templates/${encodeURIComponent(name)}`, {
            body: { description: description.value, provisioningRoleArn: role.value.trim(), enabled: enabled.checked },
          });
          await render(root, { name });
          mount(root.querySelector('[data-testid=template-message]'), h('div', { class: 'alert ok' }, 'Saved.'));
        } catch (err) {
          mount(message, errorBox(err, 'Saving failed:'));
        } finally {
          save.disabled = false;
        }
      },
    },
    isNew ? 'Create template' : 'Save',
  );

  const toggle = isNew
    ? null
    : h(
        'button',
        {
          'data-testid': 'template-toggle',
          onclick: async () => {
            const to = !template.enabled;
            const ok = await confirmDialog({
              title: `${to ? 'Enable' : 'Disable'} ${name}?`,
              message: to ? 'Devices may then provision with this template.' : 'Devices asking to provision with it will be rejected.',
              confirmLabel: to ? 'Enable' : 'Disable',
              danger: !to,
            });
            if (!ok) return;
            try {
              await api('PATCH', `/provisioning-templates/${encodeURIComponent(name)}`, { body: { enabled: to } });
              toast(`${name} ${to ? 'enabled' : 'disabled'}.`);
              await render(root, { name });
            } catch (err) {
              mount(message, errorBox(err));
            }
          },
        },
        template?.enabled ? 'Disable' : 'Enable',
      );

  const versionTable = isNew
    ? null
    : table(
        [
          {
            title: 'Version',
            render: (v) =>
              h(
                'a',
                {
                  href: '#',
                  onclick: async (e) => {
                    e.preventDefault();
                    const d = await api('GET', `/provisioning-templates/${encodeURIComponent(name)}/versions/${v.versionId}`);
                    editor.value = pretty(d.templateBody);
                    await editor.check();
                    toast(`Loaded version ${v.versionId} into the editor.`);
                  },
                },
                `v${v.versionId}`,
              ),
          },
          { title: 'Created', render: (v) => fmtDate(v.creationDate) },
          {
            title: '',
            render: (v) =>
              v.isDefaultVersion
                ? badge('default', 'ok')
                : h(
                    'div',
                    { class: 'actions' },
                    h(
                      'button',
                      {
                        class: 'small',
                        onclick: async () => {
                          try {
                            await api('PATCH', `/provisioning-templates/${encodeURIComponent(name)}`, {
                              body: { defaultVersionId: v.versionId },
                            });
                            await render(root, { name });
                          } catch (err) {
                            mount(message, errorBox(err));
                          }
                        },
                      },
                      'Make default',
                    ),
                    h(
                      'button',
                      {
                        class: 'small danger',
                        onclick: async () => {
                          if (
                            !(await confirmDialog({
                              title: `Delete version ${v.versionId}?`,
                              message: 'The version is deleted for good.',
                              confirmLabel: 'Delete',
                              danger: true,
                            }))
                          )
                            return;
                          try {
                            await api('DELETE', `/provisioning-templates/${encodeURIComponent(name)}/versions/${v.versionId}`);
                            await render(root, { name });
                          } catch (err) {
                            mount(message, errorBox(err));
                          }
                        },
                      },
                      'Delete',
                    ),
                  ),
          },
        ],
        versions,
        { testid: 'template-versions' },
      );

  mount(
    root,
    pageHead(isNew ? 'New template' : name, {
      crumbs: [{ text: 'Templates', href: '#/templates' }, { text: isNew ? 'new' : name }],
      subtitle: isNew
        ? 'Validated by the template engine as you type.'
        : h('span', {}, badge(template.enabled ? 'ENABLED' : 'DISABLED'), ' ', h('code', {}, template.templateArn)),
      actions: toggle ? [toggle] : undefined,
    }),
    h(
      'div',
      { class: 'editor-wrap' },
      h(
        'div',
        {},
        h(
          'div',
          { class: 'panel' },
          isNew
            ? [h('label', { for: 't-name' }, 'Name ', h('span', { class: 'hint' }, '(letters, digits, _ and -; at most 36)')), nameInput]
            : null,
          h(
            'div',
            { class: 'field-row' },
            h('div', {}, h('label', { for: 't-type' }, 'Type'), type),
            h('div', {}, h('label', { for: 't-enabled' }, 'Enabled'), h('div', {}, enabled, ' devices may provision with it')),
          ),
          h('label', { for: 't-desc' }, 'Description'),
          description,
          h('label', { for: 't-role' }, 'Provisioning role ARN ', h('span', { class: 'hint' }, '(recorded, not checked)')),
          role,
          h(
            'label',
            {},
            'Template body ',
            h(
              'span',
              { class: 'hint' },
              isNew ? '' : `(saving a changed body creates version ${Math.max(0, ...versions.map((v) => v.versionId)) + 1})`,
            ),
          ),
          editor.element,
          message,
          h('div', { class: 'actions', style: 'margin-top:10px' }, save),
        ),
      ),
      h(
        'div',
        {},
        tryItPanel(editor, () => type.value),
        isNew ? null : h('div', { class: 'panel' }, h('h2', {}, 'Versions'), versionTable),
      ),
    ),
  );
  await editor.check();
}
