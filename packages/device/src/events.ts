/**
 * Progress events emitted by `provision()` through its `onProgress` callback.
 */

import type { ProvisioningStep } from './errors.js';

export type { ProvisioningStep } from './errors.js';

/** Where a step stands: started, finished, or about to be retried after a failure. */
export type ProgressStatus = 'start' | 'ok' | 'retry';

/** One progress event. */
export interface ProgressEvent {
  /** The step concerned. */
  step: ProvisioningStep;
  /** What happened to it. */
  status: ProgressStatus;
  /** 1-based attempt number of the provisioning session (present once retries are involved). */
  attempt?: number;
  /** Milliseconds until the next attempt (only with status `retry`). */
  delayMs?: number;
  /** Error code of the failure that caused a retry (only with status `retry`). */
  errorCode?: string;
  /** Human-readable detail: topic, certificate id, thing name, reason of a retry, ... */
  detail?: string;
}

/** Receives {@link ProgressEvent}s. Exceptions thrown by it are ignored. */
export type ProgressListener = (event: ProgressEvent) => void;

/** Wraps a listener so that a throwing listener cannot break provisioning. */
export function safeListener(listener: ProgressListener | undefined): ProgressListener {
  if (listener === undefined) return () => {};
  return (event) => {
    try {
      listener(event);
    } catch {
      // A progress listener must not be able to abort provisioning.
    }
  };
}
