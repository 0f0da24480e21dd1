import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextAction, TOKEN_RESUME_WINDOW_MS } from '../src/resume.js';
import type { ProvisioningStage, RuntimeState } from '../src/storage.js';

const NOW = Date.parse('2030-06-01T12:00:00.000Z');
const CERT_ID = 'c'.repeat(64);
const usable = { usable: true };
const broken = { usable: false, problem: 'private key file /d/k is missing' };

function state(
  stage: ProvisioningStage,
  overrides: { completed?: boolean; token?: string | undefined; issuedAt?: string | undefined } = {},
): RuntimeState {
  const s: RuntimeState = {
    runtimeConfig: {
      completedFp: overrides.completed ?? stage === 'verified',
      certificatePath: '/d/c.crt',
      privateKeyPath: '/d/k.key',
      thingName: stage === 'credentials-issued' ? '' : 'thing-1',
      deviceConfiguration: {},
    },
    fleetprov: { stage, certificateId: CERT_ID, format: 'json', templateName: 'T', previous: [] },
  };
  if (stage === 'credentials-issued') {
    const token = 'token' in overrides ? overrides.token : 'tok-1';
    const issuedAt = 'issuedAt' in overrides ? overrides.issuedAt : new Date(NOW - 10 * 60_000).toISOString();
    if (token !== undefined) s.fleetprov!.ownershipToken = token;
    if (issuedAt !== undefined) s.fleetprov!.tokenIssuedAt = issuedAt;
  }
  return s;
}

describe('nextAction', () => {
  it('starts from scratch without state', () => {
    const action = nextAction(null, NOW, { usable: false });
    assert.equal(action.action, 'create');
  });

  it('does nothing when provisioning completed and the credentials work', () => {
    assert.deepEqual(nextAction(state('verified'), NOW, usable), { action: 'done' });
  });

  it('accepts a completed Device Client state without a fleetprov section', () => {
    const s = state('verified');
    delete s.fleetprov;
    assert.deepEqual(nextAction(s, NOW, usable), { action: 'done' });
  });

  it('provisions again when the completed credentials are unusable, saying why', () => {
    const action = nextAction(state('verified'), NOW, broken);
    assert.equal(action.action, 'create');
    assert.match(action.action === 'create' ? action.reason : '', /private key file \/d\/k is missing/);
    assert.equal(action.action === 'create' ? action.abandoned : 'x', undefined);
  });

  it('resumes RegisterThing with a token younger than the window', () => {
    assert.deepEqual(nextAction(state('credentials-issued'), NOW, usable), {
      action: 'register',
      certificateId: CERT_ID,
      ownershipToken: 'tok-1',
    });
  });

  it('resumes RegisterThing one millisecond before the window closes, not at it', () => {
    const justInside = state('credentials-issued', { issuedAt: new Date(NOW - TOKEN_RESUME_WINDOW_MS + 1).toISOString() });
    assert.equal(nextAction(justInside, NOW, usable).action, 'register');
    const atLimit = state('credentials-issued', { issuedAt: new Date(NOW - TOKEN_RESUME_WINDOW_MS).toISOString() });
    assert.equal(nextAction(atLimit, NOW, usable).action, 'create');
  });

  it('starts over with a stale token and keeps the issued certificate as "previous"', () => {
    const action = nextAction(state('credentials-issued', { issuedAt: new Date(NOW - 70 * 60_000).toISOString() }), NOW, usable);
    assert.equal(action.action, 'create');
    if (action.action !== 'create') return;
    assert.match(action.reason, /70 minutes old/);
    assert.deepEqual(action.abandoned, { certificateId: CERT_ID, certificatePath: '/d/c.crt', privateKeyPath: '/d/k.key' });
  });

  it('tries a token "from the future" (clock moved back): the server decides', () => {
    const action = nextAction(state('credentials-issued', { issuedAt: new Date(NOW + 3_600_000).toISOString() }), NOW, usable);
    assert.equal(action.action, 'register');
  });

  it('starts over when the token or its issue time is missing or garbage', () => {
    assert.equal(nextAction(state('credentials-issued', { token: undefined }), NOW, usable).action, 'create');
    assert.equal(nextAction(state('credentials-issued', { token: '' }), NOW, usable).action, 'create');
    assert.equal(nextAction(state('credentials-issued', { issuedAt: undefined }), NOW, usable).action, 'create');
    assert.equal(nextAction(state('credentials-issued', { issuedAt: 'yesterday-ish' }), NOW, usable).action, 'create');
  });

  it('starts over when issued credentials cannot be read, without recording them', () => {
    const action = nextAction(state('credentials-issued'), NOW, broken);
    assert.equal(action.action, 'create');
    assert.equal(action.action === 'create' ? action.abandoned : 'x', undefined);
  });

  it('goes straight to verification after registration', () => {
    assert.deepEqual(nextAction(state('registered'), NOW, usable), { action: 'verify', certificateId: CERT_ID });
  });

  it('verifies again when the stage says verified but completed-fp was reset to false', () => {
    assert.deepEqual(nextAction(state('verified', { completed: false }), NOW, usable), { action: 'verify', certificateId: CERT_ID });
  });

  it('starts over when completed-fp is false and there is no fleetprov section', () => {
    const s = state('registered');
    delete s.fleetprov;
    assert.equal(nextAction(s, NOW, usable).action, 'create');
  });
});
