export {
  createKvBlockClient,
  type KvBlockClient,
  type KvBlockClientOptions,
  type PeerAddress,
  type ReadBlocksOutcome,
  type ReadBlocksRequest,
} from './client.ts';
export { KvTransferError, type KvTransferFailure } from './errors.ts';
export {
  checkTcpHandoff,
  createTcpKvHandoff,
  parseTcpKvHandoff,
  type TcpHandoffFields,
  type TcpHandoffInput,
  type TcpPullPlan,
} from './handoff.ts';
export { createKvBlockServer, type KvBlockServer, type KvBlockServerOptions } from './server.ts';
