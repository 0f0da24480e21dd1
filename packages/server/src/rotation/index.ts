/**
 * Certificate rotation (a fleetprov extension on top of AWS's re-provisioning pattern): the state
 * machine, the acknowledgement topic, rotation policies and the monitor. See docs/rotation.md.
 */
export {
  RotationService,
  ROTATION_EVENT_TYPE,
  DEFAULT_ROTATION_GRACE_MS,
  DEFAULT_ROTATION_INTERVAL_MS,
  DEFAULT_RENOTIFY_INTERVAL_MS,
  type RotationOptions,
  type DueCertificate,
  type RotationPassResult,
} from './service.js';
export {
  createRotationAckHandler,
  rotationAcknowledgements,
  rotationView,
  MAX_ACK_PAYLOAD_BYTES,
  type RotationAckTopic,
} from './ack-handler.js';
export {
  ROTATION_TOPIC_PREFIX,
  rotationNotifyTopic,
  rotationAckTopic,
  rotationAckReplyTopic,
  parseRotationTopic,
  isRotationRequestTopic,
  isRotationServerTopic,
  type ParsedRotationTopic,
} from '@fleetprov/protocol';
export { RotationError, type RotationErrorCode } from './errors.js';
