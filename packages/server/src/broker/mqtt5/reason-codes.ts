/**
 * MQTT 5 reason codes (MQTT 5.0 §2.4) the broker sends, and AWS IoT Core's MQTT 5 limits.
 */

/** The MQTT 5 reason codes fleetprov sends. */
export const ReasonCode = Object.freeze({
  Success: 0x00,
  NoSubscriptionExisted: 0x11,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  QoSNotSupported: 0x9b,
  SharedSubscriptionsNotSupported: 0x9e,
} as const);

/** One of the {@link ReasonCode} values. */
export type ReasonCodeValue = (typeof ReasonCode)[keyof typeof ReasonCode];

/** AWS IoT Core's MQTT 5 values ("MQTT 5 supported features" of the AWS IoT Developer Guide). */
export const Mqtt5Limits = Object.freeze({
  /** Topic Alias Maximum the server announces in CONNACK (AWS: 8). */
  topicAliasMaximum: 8,
  /** Receive Maximum the server announces: QoS 1 PUBLISH a client may have unacknowledged (AWS: 100). */
  receiveMaximum: 100,
  /** Total bytes of the user properties of one packet (AWS: 8 KB). */
  maxUserPropertyBytes: 8192,
  /** Longest message expiry interval honoured, seconds (AWS: 7 days); longer ones are capped. */
  maxMessageExpirySeconds: 604_800,
  /** Longest reason string sent, bytes. */
  maxReasonStringBytes: 1024,
} as const);

/** The MQTT 5 CONNACK reason code of an MQTT 3.1.1 CONNACK return code (MQTT 5.0 §3.2.2.2 vs 3.1.1 §3.2.2.3). */
export function connackReasonCode(returnCode: number): number {
  switch (returnCode) {
    case 0:
      return ReasonCode.Success;
    case 1:
      return ReasonCode.UnsupportedProtocolVersion;
    case 2:
      return ReasonCode.ClientIdentifierNotValid;
    case 3:
      return ReasonCode.ServerUnavailable;
    case 4:
      return ReasonCode.BadUserNameOrPassword;
    case 5:
      return ReasonCode.NotAuthorized;
    default:
      return ReasonCode.UnspecifiedError;
  }
}

/** `reason` cut to {@link Mqtt5Limits.maxReasonStringBytes} UTF-8 bytes (whole characters). */
export function reasonString(reason: string): string {
  if (Buffer.byteLength(reason, 'utf8') <= Mqtt5Limits.maxReasonStringBytes) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > Mqtt5Limits.maxReasonStringBytes - 3) break;
    out += ch;
    bytes += size;
  }
  return `${out}...`;
}
