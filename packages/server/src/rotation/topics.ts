/**
 * The rotation topics are owned by `@fleetprov/protocol` (packages/protocol/src/rotation.ts). This
 * re-export only keeps `broker/topic-rules.ts` compiling until it imports them from
 * `@fleetprov/protocol` itself; then delete this file.
 */
export { isRotationRequestTopic, isRotationServerTopic } from '@fleetprov/protocol';
