import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BatchRow, Manifest, ReportContext } from './batch-types';

/** 汇聚及上报 The outbox: batch files written durably, read back, hashed. */
export function batchFile(ctx: ReportContext, table: string, sequence: number): string {
  return path.join(ctx.outboxDir, table, `${String(sequence).padStart(8, '0')}.jsonl`);
}

export function shaBytes(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function writeDurably(file: string, text: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** writeDurably off the event loop (the other lane's table goes on meanwhile), the runs written as they are. */
export async function writeDurablyAsync(file: string, runs: Buffer[]): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fh = await fs.promises.open(tmp, 'w');
  try {
    for (let i = 0; i < runs.length; i += 256) {
      const part = runs.slice(i, i + 256);
      const want = part.reduce((n, b) => n + b.length, 0);
      let done = (await fh.writev(part)).bytesWritten;
      // a short write (rare for a regular file): the rest of this part, as one buffer
      if (done < want) {
        const rest = Buffer.concat(part);
        while (done < want) done += (await fh.write(rest, done, want - done)).bytesWritten;
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}

/** Binary COPY lines (rows.ts) as the bytes they are, in runs. */
export function* chunked(lines: string[], size = 2000): Generator<Buffer> {
  for (let i = 0; i < lines.length; i += size) yield Buffer.from(lines.slice(i, i + size).join(''), 'latin1');
}

/** A batch from the outbox with its file's SHA-256. */
export interface HashedBatch {
  manifest: Manifest;
  bytes: Buffer;
  sha256: string;
}

export async function readHashed(ctx: ReportContext, b: Pick<BatchRow, 'file'>): Promise<HashedBatch> {
  const { manifest, bytes } = await readBatch(ctx, b);
  return { manifest, bytes, sha256: shaBytes(bytes) };
}

/**
 * One cycle's reads of its batch: the delivery and the verification run side by side and read and hash the
 * file once — the bytes sent are the bytes verified.
 */
export class BatchReads {
  private readonly reads = new Map<string, Promise<HashedBatch>>();
  constructor(private readonly ctx: ReportContext) {}
  get(b: Pick<BatchRow, 'file'>): Promise<HashedBatch> {
    let read = this.reads.get(b.file);
    if (!read) this.reads.set(b.file, (read = readHashed(this.ctx, b)));
    return read;
  }
}

/** A batch from the outbox: its manifest and its file's bytes (hashed and sent as they are; decoded only where text is needed). */
export async function readBatch(ctx: ReportContext, b: Pick<BatchRow, 'file'>): Promise<{ manifest: Manifest; bytes: Buffer }> {
  const file = path.join(ctx.outboxDir, b.file);
  const bytes = await fs.promises.readFile(file);
  const manifest = JSON.parse(await fs.promises.readFile(file.replace(/\.jsonl$/, '.manifest.json'), 'utf8')) as Manifest;
  return { manifest, bytes };
}
