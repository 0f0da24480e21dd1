/**
 * Payload shapes of the Fleet Provisioning MQTT API, with AWS's exact key names
 * (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html).
 * The same keys are used under the `json` and `cbor` topics.
 */

/** Any value a decoded provisioning payload can hold (JSON data model; maps have string keys). */
export type WireValue = string | number | boolean | null | WireValue[] | WireObject;

/** A decoded JSON object / CBOR map. Decoders return these with a null prototype. */
export interface WireObject {
  [key: string]: WireValue;
}

/**
 * Body published to `$aws/certificates/create/{fmt}`. AWS documents it as
 * empty; clients send nothing, `{}` or an empty CBOR map.
 */
export type CreateKeysAndCertificateRequest = Record<string, never>;

/** Body of `$aws/certificates/create/{fmt}/accepted`. */
export interface CreateKeysAndCertificateResponse {
  /** 64-hex-digit id of the new certificate. */
  certificateId: string;
  /** The new certificate, PEM. */
  certificatePem: string;
  /** The new private key, PEM; returned only once. */
  privateKey: string;
  /** Token to pass to RegisterThing within one hour. */
  certificateOwnershipToken: string;
}

/** Body published to `$aws/certificates/create-from-csr/{fmt}`. */
export interface CreateCertificateFromCsrRequest {
  /** PEM certificate signing request (`-----BEGIN CERTIFICATE REQUEST-----`). */
  certificateSigningRequest: string;
}

/** Body of `$aws/certificates/create-from-csr/{fmt}/accepted`. */
export interface CreateCertificateFromCsrResponse {
  /** Token to pass to RegisterThing within one hour. */
  certificateOwnershipToken: string;
  /** 64-hex-digit id of the new certificate. */
  certificateId: string;
  /** The new certificate, PEM. */
  certificatePem: string;
}

/** Body published to `$aws/provisioning-templates/{templateName}/provision/{fmt}`. */
export interface RegisterThingRequest {
  /** Token from CreateKeysAndCertificate or CreateCertificateFromCsr. */
  certificateOwnershipToken: string;
  /** Template parameters. Parsers return a null-prototype object. */
  parameters?: Record<string, string>;
}

/** Body of `$aws/provisioning-templates/{templateName}/provision/{fmt}/accepted`. */
export interface RegisterThingResponse {
  /** The template's evaluated `DeviceConfiguration`. Parsers return a null-prototype object. */
  deviceConfiguration: Record<string, string>;
  /** Name of the provisioned thing; absent when the template creates none. */
  thingName?: string;
}

/** Body of every `.../rejected` topic. */
export interface ErrorResponse {
  /** HTTP-like status, an integer. */
  statusCode: number;
  /** Machine-readable error code, e.g. `InvalidCertificateOwnershipToken`. */
  errorCode: string;
  /** What went wrong and what to fix. */
  errorMessage: string;
}
