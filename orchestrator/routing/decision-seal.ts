import { TandemError } from '../../common/errors.ts';

/**
 * What a decision keeps for its maker's commit(), under a symbol key (out of JSON's sight): who
 * made it, whether it was a dry run, whether it was committed. The router and the disaggregator
 * each commit only a decision they made, once, and never a dry run.
 */
export interface Seal {
  /** The maker's own symbol: another router's (or disaggregator's) decision is refused. */
  readonly owner: symbol;
  readonly dryRun: boolean;
  committed: boolean;
}

/**
 * The seal `decision` holds under `key`, once it is shown committable by `owner`: made by it
 * (`maker` names it in the error), not a dry run, not committed yet (`what` names the decision in
 * that error). Throws an internal TandemError otherwise; marking it committed is the caller's.
 */
export function committableSeal<S extends Seal>(
  decision: object,
  key: symbol,
  owner: symbol,
  maker: string,
  what = 'decision',
): S {
  const seal = (decision as Record<symbol, S | undefined>)[key];
  if (!seal || seal.owner !== owner)
    throw new TandemError('internal', `commit() takes a decision made by this ${maker}`);
  if (seal.dryRun) throw new TandemError('internal', 'a dry-run decision cannot be committed');
  if (seal.committed) throw new TandemError('internal', `${what} already committed`);
  return seal;
}
