/**
 * Errors raised by the MQTT broker. Each carries a stable `code`.
 */

/** Stable codes of {@link BrokerError}. */
export type BrokerErrorCode =
  /** `startBroker` was given an invalid option. */
  | 'InvalidOption'
  /** The listening socket could not be opened. */
  | 'ListenFailed'
  /** A client sent an MQTT packet larger than the broker accepts. */
  | 'PacketTooLarge'
  /** A client sent a malformed MQTT fixed header. */
  | 'MalformedPacket'
  /** A PUBLISH was refused (limits, reserved topic or policy); the client is disconnected. */
  | 'PublishRefused'
  /** A write to a connection whose socket is already closed. */
  | 'ConnectionClosed'
  /** The broker is closed. */
  | 'BrokerClosed';

/** An error of the MQTT broker. */
export class BrokerError extends Error {
  /** What went wrong, for programs. */
  readonly code: BrokerErrorCode;

  constructor(code: BrokerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerError';
    this.code = code;
  }
}

/** MQTT CONNACK return codes the broker sends (MQTT 3.1.1 §3.2.2.3). */
export const ConnackCode = Object.freeze({
  /** The protocol level is not MQTT 3.1.1 (MQTT 3.1 `MQIsdp` level 3, or an unknown level). */
  UnacceptableProtocolVersion: 1,
  /** The client id is not allowed (empty, too long, reserved `$` prefix). */
  IdentifierRejected: 2,
  /** The authority failed or timed out. */
  ServerUnavailable: 3,
  /** Unknown or inactive certificate, or `iot:Connect` denied. */
  NotAuthorized: 5,
} as const);

/** One of the {@link ConnackCode} values. */
export type ConnackCodeValue = (typeof ConnackCode)[keyof typeof ConnackCode];

/** The error handed to aedes' authenticate callback to make it send a refusing CONNACK. */
export class ConnectRefusedError extends Error {
  /** Read by aedes: the CONNACK return code to send. */
  readonly returnCode: ConnackCodeValue;
  /** Always `ConnectRefused`. */
  readonly code = 'ConnectRefused';

  constructor(returnCode: ConnackCodeValue, message: string) {
    super(message);
    this.name = 'ConnectRefusedError';
    this.returnCode = returnCode;
  }
}
