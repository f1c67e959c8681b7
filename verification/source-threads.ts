import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { legacyMappingSchema, openLegacySource } from '../migration/legacy-source';
import { findTable, loadMappingFrom, Mapping } from '../migration/mapping';
import type { Chunk, SourceAdapter } from '../migration/source';
import { sourceSide, SourceSideResult } from './source-side';

/**
 * The source side of segments on worker threads. Decoding, cleansing and re-encoding every legacy row
 * is JavaScript work on one thread, and it bounds the content pass; threads let concurrent segments
 * use more cores. Each thread opens its own legacy adapter and mapping from the same settings.
 */
export interface SourceTask {
  table: string;
  segment: Chunk;
  readPoint: string | null;
  quarantined: [string, string][];
}

type Reply = { id: number; progress?: number; result?: SourceSideResult; error?: string };

export class SourceThreadPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private nextId = 1;

  constructor(
    size: number,
    private readonly legacyUrl: string,
    private readonly mappingFile: string,
    /** LEGACY_SCHEMA, as the worker's own mapping and adapter took it */
    private readonly legacySchema = '',
  ) {
    for (let i = 0; i < size; i++) {
      const w = this.spawn();
      this.all.push(w);
      this.idle.push(w);
    }
  }

  private spawn(): Worker {
    const entry = __filename;
    // Under tsx or ts-jest this module is TypeScript: the thread registers tsx before loading it.
    const boot = entry.endsWith('.ts') ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});\n` : '';
    const w = new Worker(`${boot}require(${JSON.stringify(entry)});`, {
      eval: true,
      workerData: { role: 'verify-source', legacyUrl: this.legacyUrl, mappingFile: this.mappingFile, legacySchema: this.legacySchema },
    });
    w.unref();
    return w;
  }

  async run(task: SourceTask, onProgress?: (rows: number) => void): Promise<SourceSideResult> {
    const w = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)));
    const id = this.nextId++;
    try {
      return await new Promise<SourceSideResult>((resolve, reject) => {
        const onMessage = (m: Reply) => {
          if (m.id !== id) return;
          if (m.progress !== undefined) return onProgress?.(m.progress);
          w.off('message', onMessage);
          w.off('error', reject);
          if (m.error !== undefined) reject(new Error(m.error));
          else resolve(m.result!);
        };
        w.on('message', onMessage);
        w.once('error', reject);
        w.postMessage({ id, task });
      });
    } finally {
      const next = this.waiting.shift();
      if (next) next(w);
      else this.idle.push(w);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

/** The thread side: one adapter and mapping per thread, kept for the thread's life. */
if (!isMainThread && workerData?.role === 'verify-source') {
  const { legacyUrl, mappingFile, legacySchema } = workerData as { legacyUrl: string; mappingFile: string; legacySchema: string };
  let source: SourceAdapter | undefined;
  let mapping: Mapping | undefined;
  parentPort!.on('message', async ({ id, task }: { id: number; task: SourceTask }) => {
    try {
      source ??= openLegacySource(legacyUrl, legacySchema);
      mapping ??= await loadMappingFrom(path.resolve(mappingFile), source, { legacySchema: legacyMappingSchema(legacyUrl, legacySchema) });
      const table = findTable(mapping, task.table);
      const result = await sourceSide({ source, mapping, table, segment: task.segment, readPoint: task.readPoint }, new Map(task.quarantined), (rows) =>
        parentPort!.postMessage({ id, progress: rows }),
      );
      parentPort!.postMessage({ id, result });
    } catch (err) {
      parentPort!.postMessage({ id, error: (err as Error).stack ?? String(err) });
    }
  });
}
