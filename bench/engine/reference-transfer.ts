/**
 * How fast the reference engine's TCP block transfer moves a prompt's KV over loopback.
 *
 *   npx tsx bench/engine/reference-transfer.ts [promptTokens=2000] [repeats=20]
 *
 * Starts a block server on 127.0.0.1 (port 0) over a pool holding the blocks of a
 * `promptTokens`-token prompt at the default model's layout, then pulls them with a client into
 * another pool `repeats` times (one connection per pull, as the decode side does). Prints each
 * pull's wall time and the median throughput. Loopback only: this measures the protocol and
 * Node's socket path, not a network.
 */
import { performance } from 'node:perf_hooks';
import { createKvBlockPool } from '../../workers/reference/kv/index.ts';
import { createReferenceModel } from '../../workers/reference/model/index.ts';
import { createKvBlockClient, createKvBlockServer } from '../../workers/reference/transfer/index.ts';

const promptTokens = Number(process.argv[2] ?? 2000);
const repeats = Number(process.argv[3] ?? 20);
const layout = createReferenceModel().kvLayout(16);
const numBlocks = Math.ceil(promptTokens / layout.blockSize);
const remote = createKvBlockPool({ layout, numBlocks });
for (let i = 0; i < remote.data.length; i++) remote.data[i] = i;
const local = createKvBlockPool({ layout, numBlocks });
const ids = Array.from({ length: numBlocks }, (_, i) => i);

const server = await createKvBlockServer({ pool: remote, host: '127.0.0.1', port: 0, isHeld: () => true });
const client = createKvBlockClient({ pool: local });
const times: number[] = [];
try {
  for (let run = 0; run <= repeats; run++) {
    const t0 = performance.now();
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port: server.port,
      remoteRequestId: 'bench',
      remoteBlockIds: ids,
      localBlockIds: ids,
    });
    const ms = performance.now() - t0;
    if (!result.ok) throw result.error;
    if (run > 0) times.push(ms);
    else console.log(`warm-up pull: ${ms.toFixed(1)} ms`);
  }
} finally {
  await server.close();
}
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
const bytes = numBlocks * layout.blockBytes;
console.log(
  `${numBlocks} blocks x ${layout.blockBytes} B = ${(bytes / 1024).toFixed(0)} KiB per pull (${promptTokens} tokens)`,
);
console.log(
  `pull wall time: min ${sorted[0]!.toFixed(1)} ms, median ${median.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; median ${(bytes / 1e6 / (median / 1000)).toFixed(0)} MB/s`,
);
