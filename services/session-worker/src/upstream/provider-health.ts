import type { Logger } from '@rtv/service-kit';
import { type ProviderFailure, providerFailure } from './provider-failure.js';

/**
 * The worker-wide view of the provider, fed by every session's connect outcome: whether the last one got a
 * usable provider session, and the failure when not, for the heartbeat (`provider_ok`, `provider_error`) and so
 * the cluster's `/health`. A fatal failure (refused key, unknown or retired model, disabled shape) is the same
 * for every session of the worker, so it is logged when it appears or changes, not once per session, and it
 * stays recorded across later retryable failures until a connect succeeds. New sessions still try once: an
 * operator may fix the key or deployment on the provider's side without restarting workers.
 */
export class ProviderHealth {
  private failure: ProviderFailure | undefined;

  constructor(private readonly log: Logger) {}

  /** No failure since the last successful connect (true before the first connect). */
  get ok(): boolean {
    return this.failure === undefined;
  }

  /** The recorded failure's kind (`model_unavailable`, `auth_failed`, …); empty when ok. */
  get error(): string {
    return this.failure?.kind ?? '';
  }

  get lastFailure(): ProviderFailure | undefined {
    return this.failure;
  }

  /** One session's (re)open ended: in a usable provider session, or in `failure` after its retries. */
  record(ok: boolean, failure?: ProviderFailure): void {
    if (ok) {
      if (this.failure) this.log.info({ previous: this.failure.kind }, 'provider connects succeed again');
      this.failure = undefined;
      return;
    }
    const next = failure ?? providerFailure('unavailable', 'unknown');
    // The fatal problem is the one an operator must act on; a rate limit meanwhile does not hide it.
    if (!next.fatal && this.failure?.fatal) return;
    const same = this.failure?.kind === next.kind && this.failure.detail === next.detail;
    this.failure = next;
    if (same) return;
    const fields = { failure: next.kind, detail: next.detail, code: next.code };
    if (next.fatal)
      this.log.error(
        fields,
        'the provider refuses the configuration: sessions end until an operator fixes it',
      );
    else this.log.warn(fields, 'the provider is unavailable: sessions gave up after retrying');
  }
}
