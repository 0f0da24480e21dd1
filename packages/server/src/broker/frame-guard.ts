/**
 * A duplex stream between a client's TLS socket and aedes that reads MQTT fixed headers as
 * bytes arrive and cuts the connection as soon as a packet announces a remaining length over
 * the limit, before the packet body is buffered. Bytes pass through unchanged.
 */
import { Duplex } from 'node:stream';
import { BrokerError } from './errors.js';

/** Options of {@link MqttFrameGuard}. */
export interface FrameGuardOptions {
  /** Largest remaining length (bytes after the fixed header) accepted for any packet. */
  maxPacketBytes: number;
  /** Called once, before the stream is destroyed, with the reason of a violation. */
  onViolation?: (error: BrokerError) => void;
}

const enum ScanState {
  Header,
  Length,
  Body,
}

/** Most bytes of an MQTT remaining-length field (MQTT 3.1.1 §2.2.3). */
const MAX_LENGTH_BYTES = 4;

/** Guards one connection; see the module comment. */
export class MqttFrameGuard extends Duplex {
  readonly #socket: Duplex;
  readonly #maxPacketBytes: number;
  readonly #onViolation: ((error: BrokerError) => void) | undefined;
  #state: ScanState = ScanState.Header;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #bodyLeft = 0;
  #violated = false;
  #lingerMs = 0;

  constructor(socket: Duplex, options: FrameGuardOptions) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    this.#maxPacketBytes = options.maxPacketBytes;
    this.#onViolation = options.onViolation;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  /**
   * From now on, destroying this stream ends the socket gracefully (so what was written last, such
   * as an MQTT 5 DISCONNECT, reaches the peer) and destroys it after `ms` at the latest.
   */
  lingerOnDestroy(ms: number): void {
    this.#lingerMs = ms;
  }

  #onData(chunk: Buffer): void {
    if (this.#violated || this.destroyed) return;
    const error = this.#scan(chunk);
    if (error) {
      this.#violated = true;
      this.#onViolation?.(error);
      this.destroy(error);
      return;
    }
    if (!this.push(chunk)) this.#socket.pause();
  }

  /** Advances the header scanner over `chunk`; returns an error on the first violation. */
  #scan(chunk: Buffer): BrokerError | null {
    let i = 0;
    while (i < chunk.length) {
      switch (this.#state) {
        case ScanState.Header:
          i++;
          this.#state = ScanState.Length;
          this.#length = 0;
          this.#multiplier = 1;
          this.#lengthBytes = 0;
          break;
        case ScanState.Length: {
          const byte = chunk[i++] as number;
          this.#length += (byte & 0x7f) * this.#multiplier;
          this.#multiplier *= 128;
          this.#lengthBytes++;
          if (byte & 0x80) {
            if (this.#lengthBytes >= MAX_LENGTH_BYTES) {
              return new BrokerError('MalformedPacket', 'malformed MQTT packet: remaining length longer than 4 bytes');
            }
            break;
          }
          if (this.#length > this.#maxPacketBytes) {
            return new BrokerError(
              'PacketTooLarge',
              `MQTT packet of ${this.#length} bytes exceeds the limit of ${this.#maxPacketBytes} bytes`,
            );
          }
          this.#bodyLeft = this.#length;
          this.#state = this.#bodyLeft === 0 ? ScanState.Header : ScanState.Body;
          break;
        }
        case ScanState.Body: {
          const take = Math.min(this.#bodyLeft, chunk.length - i);
          i += take;
          this.#bodyLeft -= take;
          if (this.#bodyLeft === 0) this.#state = ScanState.Header;
          break;
        }
      }
    }
    return null;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#socket.destroyed) {
      callback(new BrokerError('ConnectionClosed', 'connection closed'));
      return;
    }
    this.#socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#lingerMs > 0 && !this.#socket.destroyed) {
      const socket = this.#socket;
      socket.end();
      setTimeout(() => socket.destroy(), this.#lingerMs).unref();
    } else this.#socket.destroy();
    callback(error);
  }
}
