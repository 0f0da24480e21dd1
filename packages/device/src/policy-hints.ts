/**
 * What the AWS IoT policy probably lacks when the broker refuses a subscription or a publish, or no
 * reply comes: appended to the typed errors of the exchanges (`exchanges.ts`). Policy actions and
 * resources: https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html
 */

import type { ExchangeHints } from './exchanges.js';

/** Hints for the claim connection of `provision()` (the claim policy) on `templateName`. */
export function claimPolicyHints(templateName: string): ExchangeHints {
  return {
    subscribeDenied: (filter) => claimSubscribeHint(filter, templateName),
    publishDenied: publishHint,
    noReply: (request) =>
      `check that the claim policy allows iot:Receive on topic/${request.replace(/\/(json|cbor)$/, '/*')} and that the server handles ${request}`,
  };
}

function claimSubscribeHint(filter: string, templateName: string): string {
  if (filter.includes('/create-from-csr/')) {
    return `the claim policy probably lacks iot:Subscribe on topicfilter/$aws/certificates/create-from-csr/*. Note that $aws/certificates/create/* does NOT cover create-from-csr (a common mistake in policies copied from AWS's example); add it, or use method "keys"`;
  }
  if (filter.includes('/create/')) {
    return 'the claim policy probably lacks iot:Subscribe on topicfilter/$aws/certificates/create/* (Subscribe permissions use topicfilter/, Publish and Receive use topic/)';
  }
  return `the claim policy probably lacks iot:Subscribe on topicfilter/$aws/provisioning-templates/${templateName}/provision/*; check the template name too`;
}

function publishHint(topic: string): string {
  const base = topic.replace(/\/(json|cbor)$/, '/*');
  const csrNote = topic.includes('/create-from-csr/') ? ' ($aws/certificates/create/* does not cover create-from-csr)' : '';
  return `the policy probably lacks iot:Publish on topic/${topic} (e.g. topic/${base})${csrNote}`;
}

const devicePolicyHint =
  (action: 'Subscribe' | 'Publish') =>
  (topic: string): string =>
    `the device policy must allow iot:${action} on ${action === 'Subscribe' ? 'topicfilter' : 'topic'}/${topic} for rotation (the certificate and provisioning topics of the rotation template)`;

/** Hints for `rotate()`, which works with the device's own identity (the device policy). */
export const DEVICE_POLICY_HINTS: ExchangeHints = {
  subscribeDenied: devicePolicyHint('Subscribe'),
  publishDenied: devicePolicyHint('Publish'),
  noReply: (_request, accepted) => `check that the device policy allows iot:Receive on topic/${accepted}`,
};
