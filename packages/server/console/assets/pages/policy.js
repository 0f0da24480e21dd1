import { api, ApiError } from '../api.js';
import { h, mount, badge, table, errorBox, pageHead, fmtDate, confirmDialog, toast } from '../ui.js';
import { jsonEditor, pretty } from '../editor.js';

const STARTER = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: 'arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: 'arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}/*',
    },
  ],
};

async function validateDocument(text) {
  const r = await api('POST', '/fleetprov/policies/validate', { body: { policyDocument: text } });
  if (r.valid) return { ok: true, note: [`${r.statements} statement(s)`, ...r.warnings.map((w) => `warning: ${w}`)].join(' · ') };
  return { ok: false, path: r.error.path, message: r.error.detail };
}

function simulator(editor, policyName) {
  const clientId = h('input', { id: 's-client', 'data-testid': 'sim-client', value: 'device-1', style: 'width:100%' });
  const thing = h('input', { id: 's-thing', placeholder: '(optional) an existing thing', style: 'width:100%' });
  const action = h(
    'select',
    { id: 's-action', 'data-testid': 'sim-action' },
    ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive', 'iot:RetainPublish'].map((a) => h('option', { value: a }, a)),
  );
  const resource = h('input', { id: 's-resource', 'data-testid': 'sim-resource', value: 'client/device-1', style: 'width:100%' });
  const out = h('div', { 'data-testid': 'sim-result' });
  const run = h(
    'button',
    {
      'data-testid': 'sim-run',
      onclick: async () => {
        try {
          const r = await api('POST', '/fleetprov/policies/simulate', {
            body: {
              policyDocument: editor.value,
              draftPolicyName: policyName,
              action: action.value,
              resource: resource.value.trim(),
              clientId: clientId.value,
              ...(thing.value.trim() ? { thingName: thing.value.trim() } : {}),
            },
          });
          if (!r.valid) {
            editor.show({ ok: false, path: r.error.path, message: r.error.detail });
            mount(out, errorBox({ message: r.error.message }, 'The document is not valid:'));
            return;
          }
          const s = r.decidingStatement;
          mount(
            out,
            h(
              'div',
              { class: `alert ${r.decision === 'ALLOW' ? 'ok' : 'error'}` },
              h('div', {}, badge(r.decision), ' ', r.reason),
              s
                ? h(
                    'div',
                    { style: 'margin-top:6px' },
                    'Deciding statement: ',
                    h(
                      'code',
                      { 'data-testid': 'sim-statement' },
                      `${s.policyName} Statement[${s.statementIndex}]${s.sid ? ` (Sid ${s.sid})` : ''} — ${s.effect}`,
                    ),
                  )
                : h('div', { style: 'margin-top:6px' }, 'No statement matched: default deny.'),
            ),
          );
        } catch (err) {
          mount(out, errorBox(err));
        }
      },
    },
    'Decide',
  );
  return h(
    'div',
    { class: 'panel' },
    h('h2', {}, 'Policy simulator'),
    h(
      'p',
      { class: 'muted' },
      'Decides one request against the document in the editor, as the broker would. Resources in short form: client/ID, topic/a/b, topicfilter/a/+.',
    ),
    h(
      'div',
      { class: 'field-row' },
      h('div', {}, h('label', { for: 's-client' }, 'Client id'), clientId),
      h('div', {}, h('label', { for: 's-thing' }, 'Thing'), thing),
    ),
    h(
      'div',
      { class: 'field-row' },
      h('div', {}, h('label', { for: 's-action' }, 'Action'), action),
      h('div', {}, h('label', { for: 's-resource' }, 'Resource'), resource),
    ),
    h('div', { class: 'actions', style: 'margin-top:10px' }, run),
    out,
  );
}

/** View/edit a policy (a save is a new default version), its versions, and the simulator. */
export async function render(root, { name }) {
  const isNew = name === 'new';
  let policy = null;
  let versions = [];
  if (!isNew) {
    try {
      [policy, versions] = await Promise.all([
        api('GET', `/policies/${encodeURIComponent(name)}`),
        api('GET', `/policies/${encodeURIComponent(name)}/version`).then((r) => r.policyVersions ?? []),
      ]);
    } catch (err) {
      mount(root, pageHead(name, { crumbs: [{ text: 'Policies', href: '#/policies' }] }), errorBox(err));
      return;
    }
  }
  const editor = jsonEditor({
    value: policy ? pretty(policy.policyDocument) : JSON.stringify(STARTER, null, 2),
    validate: validateDocument,
    testid: 'policy-document',
  });
  const nameInput = h('input', { id: 'p-name', 'data-testid': 'policy-name', placeholder: 'device_policy', style: 'width:100%' });
  const message = h('div', {});
  // A save's complaint is stale once the document changes.
  editor.area.addEventListener('input', () => mount(message));
  const enc = encodeURIComponent(name);
  const reload = () => render(root, { name });

  const save = h(
    'button',
    {
      class: 'primary',
      'data-testid': 'policy-save',
      onclick: async () => {
        mount(message);
        const result = await editor.check();
        if (!result?.ok) {
          mount(message, h('div', { class: 'alert error' }, 'Fix the document first.'));
          return;
        }
        save.disabled = true;
        try {
          if (isNew) {
            const n = nameInput.value.trim();
            await api('POST', `/policies/${encodeURIComponent(n)}`, { body: { policyDocument: editor.value } });
            toast(`Policy ${n} created.`);
            location.hash = `#/policies/${encodeURIComponent(n)}`;
            return;
          }
          const v = await api('POST', `/policies/${enc}/version`, {
            query: { setAsDefault: 'true' },
            body: { policyDocument: editor.value },
          });
          toast(`Version ${v.policyVersionId} is now the default.`);
          await reload();
        } catch (err) {
          const hint = err instanceof ApiError && err.type === 'VersionsLimitExceededException' ? ' Delete an old version first.' : '';
          mount(message, errorBox({ type: err.type, message: err.message + hint }, 'Saving failed:'));
        } finally {
          save.disabled = false;
        }
      },
    },
    isNew ? 'Create policy' : 'Save as new version',
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
                    const d = await api('GET', `/policies/${enc}/version/${v.versionId}`);
                    editor.value = pretty(d.policyDocument);
                    await editor.check();
                    toast(`Loaded version ${v.versionId}.`);
                  },
                },
                `v${v.versionId}`,
              ),
          },
          { title: 'Created', render: (v) => fmtDate(v.createDate) },
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
                            await api('PATCH', `/policies/${enc}/version/${v.versionId}`);
                            await reload();
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
                            await api('DELETE', `/policies/${enc}/version/${v.versionId}`);
                            await reload();
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
        { testid: 'policy-versions' },
      );

  mount(
    root,
    pageHead(isNew ? 'New policy' : name, {
      crumbs: [{ text: 'Policies', href: '#/policies' }, { text: isNew ? 'new' : name }],
      subtitle: isNew
        ? 'Validated by the policy engine as you type.'
        : h('span', {}, 'Default version ', h('code', {}, `v${policy.defaultVersionId}`), ' · ', h('code', {}, policy.policyArn)),
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
          isNew ? [h('label', { for: 'p-name' }, 'Name'), nameInput] : null,
          h('label', {}, 'Policy document'),
          editor.element,
          message,
          h('div', { class: 'actions', style: 'margin-top:10px' }, save),
        ),
      ),
      h(
        'div',
        {},
        simulator(editor, isNew ? 'draft' : name),
        isNew ? null : h('div', { class: 'panel' }, h('h2', {}, 'Versions'), versionTable),
      ),
    ),
  );
  await editor.check();
}
