// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews the
// lease; a candidate takes it over only when the holder's record has not changed for a whole
// lease duration (measured on the candidate's own clock, so clock skew does not matter). The
// holder steps down when it could not renew within the renew deadline, which is shorter than the
// lease duration: it stops leading before any candidate may take over, so there are never two
// leaders. Every lease request is bounded in time, so a hung API server cannot hold that back.
// Releasing (on SIGTERM) empties holderIdentity so that another replica takes over at once.
import { isConflict, isNotFound, type KubeClient, type KubeObject } from "./kube.js";

export interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  /** The leader steps down when it could not renew for this long; less than the lease duration. */
  renewDeadlineMs: number;
  /** How often the leader renews and candidates retry; less than the renew deadline. */
  retryPeriodMs: number;
}

/**
 * client-go's rule: a leader whose last successful renew was sent `renewDeadlineMs` or more ago
 * must stop leading. Measured from when that renew was SENT (the lease's renewTime is no earlier),
 * so the leader stops before a candidate, which waits a whole lease duration from when it saw that
 * renew, may take over.
 */
export function mustStepDown(lastRenewSentAt: number, now: number, renewDeadlineMs: number): boolean {
  return now - lastRenewSentAt >= renewDeadlineMs;
}

/** Rejects when `promise` has not settled within `ms` (the request itself is then abandoned). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string | Date;
  renewTime?: string | Date;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

/** A Kubernetes MicroTime (RFC 3339 with microseconds). */
const microTime = () => new Date().toISOString().replace("Z", "000Z");

export class LeaderElector {
  private observed: { record: string; at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  /** When our last successful renew was sent (ms): see mustStepDown. */
  private renewedAt = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaseOptions,
    private readonly callbacks: { started(): void; stopped(): void; log(line: string): void },
  ) {
    // As client-go's NewLeaderElector: without this ordering two replicas could lead at once.
    if (!(
      options.retryPeriodMs > 0 &&
      options.retryPeriodMs < options.renewDeadlineMs &&
      options.renewDeadlineMs < options.leaseDurationSeconds * 1000
    )) {
      throw new Error(
        `leader election needs 0 < retry period (${options.retryPeriodMs} ms) < renew deadline (${options.renewDeadlineMs} ms) < lease duration (${options.leaseDurationSeconds} s)`,
      );
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private schedule(): void {
    if (this.stopped) return;
    // A leader also wakes at its renew deadline, so that it steps down in time even then.
    const untilDeadline = this.leading
      ? Math.max(0, this.renewedAt + this.options.renewDeadlineMs - Date.now())
      : Infinity;
    this.timer = setTimeout(() => void this.tick(), Math.min(this.options.retryPeriodMs, untilDeadline));
  }

  private async tick(): Promise<void> {
    const sentAt = Date.now();
    // A leader has until its renew deadline; a candidate, one renew deadline per attempt.
    const budget = this.leading
      ? this.renewedAt + this.options.renewDeadlineMs - sentAt
      : this.options.renewDeadlineMs;
    try {
      const acquired = await withTimeout(this.tryAcquireOrRenew(), Math.max(1, budget));
      if (this.stopped) return;
      if (acquired) {
        this.renewedAt = sentAt;
        if (!this.leading) {
          this.leading = true;
          this.callbacks.log(`became leader (lease ${this.options.namespace}/${this.options.name})`);
          this.callbacks.started();
        }
      } else if (this.leading) this.lose("another replica holds the lease");
    } catch (error) {
      this.callbacks.log(
        `lease ${this.options.name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (this.leading && mustStepDown(this.renewedAt, Date.now(), this.options.renewDeadlineMs)) {
      this.lose(`could not renew the lease within the renew deadline (${this.options.renewDeadlineMs} ms)`);
    }
    this.schedule();
  }

  private lose(reason: string): void {
    this.leading = false;
    this.callbacks.log(`lost leadership: ${reason}`);
    this.callbacks.stopped();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.options;
    const now = microTime();
    const lease = (await this.client.read("coordination.k8s.io/v1", "Lease", namespace, name)) as
      Lease | undefined;
    if (!lease) {
      try {
        await this.client.create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (error) {
        if (isConflict(error)) return false; // someone else created it first
        throw error;
      }
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, String(spec.renewTime), spec.leaseDurationSeconds]);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const held = spec.holderIdentity && spec.holderIdentity !== identity;
    const expired =
      Date.now() - this.observed.at > (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (held && !expired) return false;
    const takingOver = spec.holderIdentity !== identity;
    const updated: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: now,
        acquireTime: takingOver ? now : spec.acquireTime,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
      },
    };
    try {
      await this.client.replace(updated);
      return true;
    } catch (error) {
      if (isConflict(error)) return false; // another candidate won this round
      throw error;
    }
  }

  /** Stops campaigning and, when leading, hands the lease back so another replica takes over now. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const { namespace, name, identity } = this.options;
    try {
      const lease = (await this.client.read("coordination.k8s.io/v1", "Lease", namespace, name)) as
        Lease | undefined;
      if (lease?.spec?.holderIdentity !== identity) return;
      await this.client.replace({
        ...lease,
        spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime() },
      });
      this.callbacks.log(`released lease ${namespace}/${name}`);
    } catch (error) {
      if (!isNotFound(error))
        this.callbacks.log(
          `could not release the lease: ${error instanceof Error ? error.message : String(error)}`,
        );
    }
  }
}
