import { to as libraryCopyTo } from 'pg-copy-streams';

/**
 * COPY … TO STDOUT as a readable stream of the rows' bytes: pg-copy-streams' copy-to stream, with its
 * protocol parser replaced by one that walks each socket chunk once and packs the rows' bytes together
 * in place. The server sends one CopyData message per row; the library's parser allocates several
 * Buffers per message and concatenates them again, which measured as the largest single cost of the
 * verification's Node.js thread (about a fifth of it) and a large one of the migration's source side.
 * Attaching to the connection, handing it back after CopyDone or an ErrorResponse, errors and the row
 * count stay the library's.
 */
type CopyToStream = ReturnType<typeof libraryCopyTo>;

/** What this parser touches of the library's stream beyond its public API (pg-copy-streams 7, copy-to.js). */
interface LibraryInternals {
  /** bytes not consumed yet; _detach hands them back to pg's own parser */
  _buffer: { push(chunk: Buffer): void };
  _detach(): void;
  _cleanup(): void;
  _onReadableEvent: (() => void) | null;
  connection?: { stream: NodeJS.ReadableStream & { destroy(err?: Error): void } };
  submit(connection: unknown): void;
  handleError(err: Error): void;
}

/**
 * The socket error of a connection whose COPY TO its reader stopped reading (an error in the loop, a
 * break): the query is still sending rows, so the connection is closed — see PackingCopyTo._destroy.
 * withClient does not add it to the reader's own error: it is the consequence, not the cause.
 */
export class CopyAbandoned extends Error {
  constructor() {
    super('the COPY TO was stopped before its end by its reader; its connection was closed');
    this.name = 'CopyAbandoned';
  }
}

const LibraryCopyTo = Object.getPrototypeOf(libraryCopyTo('')).constructor as new (text: string) => CopyToStream;

const COPY_DATA = 0x64;
const ERROR_RESPONSE = 0x45;
/** Messages that may come between CopyData messages; any other one ends copy-out mode (protocol-flow, "COPY Operations"). */
const INTERSPERSED = new Set([0x48 /* CopyOutResponse */, 0x53 /* ParameterStatus */, 0x4e /* NoticeResponse */, 0x41 /* NotificationResponse */]);
const HEADER = 5;

class PackingCopyTo extends LibraryCopyTo {
  /** the start of a message header cut off by the end of the previous chunk */
  private headerPart: Buffer | null = null;
  /** bytes of the current CopyData message still to come */
  private dataLeft = 0;
  /** bytes of the current other message still to skip, and whether that message ends the copy */
  private skipLeft = 0;
  private skipEnds = false;
  /** the copy has been sent and its end (CopyDone, or an ErrorResponse pg reads) not reached yet */
  private live = false;

  submit(connection: unknown): void {
    (LibraryCopyTo.prototype as unknown as LibraryInternals).submit.call(this, connection);
    this.live = true;
    // destroyed while it waited in the client's queue: nobody will read it either
    if (this.destroyed) this.abandon();
  }

  /**
   * The reader let go before the copy's end (its loop threw or broke; the stream is destroyed). The server
   * is still sending rows that nobody will read, and pg waits for the copy's end before any next query of
   * the connection: a ROLLBACK or an end() after it would wait for good once the socket's buffers fill.
   * The connection is closed instead: the server ends the query and its transaction, and the client's
   * queued queries fail at once.
   */
  _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.abandon();
    cb(err);
  }

  private abandon(): void {
    const lib = this as unknown as LibraryInternals;
    if (!this.live || !lib.connection) return;
    this.live = false;
    if (lib._onReadableEvent) lib.connection.stream.removeListener('readable', lib._onReadableEvent);
    lib.connection.stream.destroy(new CopyAbandoned());
  }

  /** The query's failure after the reader let go (the closed connection, usually) is not the reader's to hear. */
  handleError(err: Error): void {
    this.live = false;
    if (this.destroyed) return;
    (LibraryCopyTo.prototype as unknown as LibraryInternals).handleError.call(this, err);
  }

  /** Called by the library for every chunk read from the socket; returns whether the consumer wants more. */
  _parse(chunk: Buffer): boolean | undefined {
    const lib = this as unknown as LibraryInternals;
    const buf = this.headerPart ? Buffer.concat([this.headerPart, chunk]) : chunk;
    this.headerPart = null;
    let pos = 0;
    // Row bytes are moved down over the 5-byte headers: the chunk is ours, and `at` never passes `pos`.
    let at = 0;
    let ended = false;
    while (pos < buf.length) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, buf.length - pos);
        if (at !== pos) buf.copyWithin(at, pos, pos + n);
        at += n;
        pos += n;
        this.dataLeft -= n;
        continue;
      }
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, buf.length - pos);
        pos += n;
        this.skipLeft -= n;
        if (this.skipLeft === 0 && this.skipEnds) {
          ended = true;
          break;
        }
        continue;
      }
      if (buf.length - pos < HEADER) {
        this.headerPart = buf.subarray(pos);
        break;
      }
      const code = buf[pos];
      if (code === ERROR_RESPONSE) {
        // pg parses the error itself and fails the query, which errors this stream.
        this.live = false;
        lib._buffer.push(buf.subarray(pos));
        lib._detach();
        return;
      }
      const length = buf.readUInt32BE(pos + 1) - 4;
      pos += HEADER;
      if (code === COPY_DATA) {
        this.dataLeft = length;
      } else {
        this.skipLeft = length;
        this.skipEnds = !INTERSPERSED.has(code);
        if (length === 0 && this.skipEnds) {
          ended = true;
          break;
        }
      }
    }
    const drained = at > 0 ? this.push(buf.subarray(0, at)) : true;
    if (ended) {
      this.live = false;
      // CommandComplete and ReadyForQuery follow CopyDone: they are pg's to read.
      if (pos < buf.length) lib._buffer.push(buf.subarray(pos));
      lib._detach();
      this.push(null);
      lib._cleanup();
    }
    return drained;
  }
}

export function copyTo(sql: string): CopyToStream {
  return new PackingCopyTo(sql);
}
