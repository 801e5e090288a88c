import { randomBytes } from 'node:crypto';
import { TandemError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/log.ts';
import type { BackendKind } from '../backend.ts';
import { createNixlHandoff } from './nixl.ts';
import { createP2pNcclHandoff } from './p2p-nccl.ts';
import type { HandoffDeps, HandoffProtocol, HandoffProtocolName } from './protocol.ts';
import { createSglangHandoff } from './sglang.ts';
import { createTandemHandoff } from './tandem.ts';

/** Every handoff protocol, by the name config `workers[].kv_transfer.protocol` uses. */
export const HANDOFF_PROTOCOLS = {
  tandem: createTandemHandoff,
  nixl: createNixlHandoff,
  'p2p-nccl': createP2pNcclHandoff,
  sglang: createSglangHandoff,
} as const satisfies Record<HandoffProtocolName, (deps: HandoffDeps) => HandoffProtocol>;

/** The protocol a worker speaks when its config names none. */
export const DEFAULT_PROTOCOL: Readonly<Record<BackendKind, HandoffProtocolName>> = {
  grpc: 'tandem',
  'vllm-http': 'nixl',
};

export interface HandoffProtocols {
  /** The protocol named (or the backend's default); an unknown name fails listing the known ones. */
  get(name: string | undefined, backend: BackendKind): HandoffProtocol;
}

/** One instance of every protocol, sharing `deps` (default randomness: node:crypto). */
export function createHandoffProtocols(deps: {
  readonly logger: Logger;
  readonly randomHex?: (bytes: number) => string;
}): HandoffProtocols {
  const full: HandoffDeps = {
    logger: deps.logger,
    randomHex: deps.randomHex ?? ((bytes) => randomBytes(bytes).toString('hex')),
  };
  const built = new Map<string, HandoffProtocol>();
  return {
    get(name, backend) {
      const wanted = name ?? DEFAULT_PROTOCOL[backend];
      let protocol = built.get(wanted);
      if (!protocol) {
        const factory = (HANDOFF_PROTOCOLS as Record<string, (deps: HandoffDeps) => HandoffProtocol>)[wanted];
        if (!factory)
          throw new TandemError(
            'invalid_request',
            `unknown KV handoff protocol "${wanted}" (known: ${Object.keys(HANDOFF_PROTOCOLS).join(', ')})`,
            { param: 'workers.kv_transfer.protocol' },
          );
        protocol = factory(full);
        built.set(wanted, protocol);
      }
      if (protocol.backend !== backend)
        throw new TandemError(
          'invalid_request',
          `KV handoff protocol ${wanted} runs over backend ${protocol.backend}, not ${backend}`,
          { param: 'workers.kv_transfer.protocol' },
        );
      return protocol;
    },
  };
}
