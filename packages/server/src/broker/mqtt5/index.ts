/**
 * MQTT 5 on top of aedes 1.x (which speaks MQTT 3.1.1): the seam between fleetprov's broker and
 * aedes. See docs/decisions.md ("MQTT 5") and docs/protocol.md for what is supported.
 */
export { beginMqtt5, installInboundGate, MQTT_5_LEVEL, sendDisconnect, writeDirect } from './connection.js';
export { connackReasonCode, Mqtt5Limits, ReasonCode, type ReasonCodeValue } from './reason-codes.js';
export { Mqtt5Session } from './session.js';
export { installWritePath } from './write-path.js';
