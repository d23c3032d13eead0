// Publishing so that every stored message knows its `prev`.
//
// Why: RePublish adds `Nats-Last-Sequence` only to the live copy; the STORED message does not know
// the previous seq of its topic, and per-topic seqs are not contiguous. A read "after N" (resume,
// gap repair) then cannot tell whether the first retained message follows N directly or whether
// retention removed messages in between — `recovered` would be a guess.
//
// How: each publish carries `Herald-Prev: H` and `Nats-Expected-Last-Subject-Sequence: H`, where H
// is this edge's belief of the topic's head (its last ack, else a direct get). JetStream stores the
// message only if H really is the subject's last seq, so the stored header is the true prev, and
// the republished copy (RePublish copies headers) agrees with `Nats-Last-Sequence`. When another
// edge published in between, JetStream answers "wrong last sequence: N" (error 10071, N = the
// actual last seq); we retry with H = N.
//
// Pipelining: waiting for each ack before the next publish of a topic binds a hot topic to one
// round trip per message (and the ack waits behind the fan-out of the previous message). So the
// next publish of a topic is sent before the previous one's ack, expecting the seq that one will
// get. Every publish this edge sends is predicted the seq after the one sent before it (a chain
// over all topics, started from the last ack when nothing is in flight): exact while nobody else
// writes to the stream, since one connection's publishes are stored in the order sent. While the
// chain holds, a publish that others of its topic wait behind also expects the stream's last seq
// to be the prediction before its own (it is "pinned"): it is stored exactly at its predicted seq
// or not at all. A publish with nobody behind it is not pinned. A publish sent ahead expects
// its topic's last seq to be its predecessor's predicted seq; the message found there can then
// only be that predecessor (or another writer's message of the same topic): a publish sent ahead
// is stored only if the ones of its topic before it were. A wrong guess costs a refusal (10071)
// and a resend, in order, and the chain is dropped until nothing is in flight. Either way
// JetStream's check, not the guess, is the proof: every stored Herald-Prev is true. The one limit
// (docs/performance.md): another writer publishing the same topic at that very moment may take a
// predicted seq exactly; a refused publish of ours may then land after a later one of ours.
//
// Dedupe: a msgId is scoped to its topic (docs/design.md#why-msgid-is-scoped-per-topic): the same msgId
// on two topics is two messages. JetStream's Nats-Msg-Id is stream-wide, so the header is not the
// msgId itself but a hash of the pair (msgIdHeader): unambiguous, of fixed length and charset, and
// it tells nobody which msgIds another topic used. On nats-server 2.9.10 the Nats-Msg-Id check
// runs before the expected-last-sequence check, so a retried msgId returns {duplicate: true, seq:
// original} whatever H was (tested).
//
// Unknown outcomes: a publish that got no answer (timeout, lost ack, a cut connection, a 503 "no
// responders" while the leader changes) may be stored or not. It must be settled from the stream
// before anything else of its topic is sent, the resend included, and the topic goes one publish at
// a time until then. Neither "not stored" nor JetStream's checks can be assumed: on an R3 stream
// nats-server 2.9.10 checks Nats-Expected-Last-Subject-Sequence only on the leader before proposing,
// against the messages it has applied, so a new leader that has not applied the lost publish yet
// accepts a resend or the next publish against the old head (stored twice, or a Herald-Prev that
// skips a message; the guarantee checker found both, R3 seeds 5001 and 5004), and its duplicate
// window may miss a msgId stored around the change. So every attempt carries its own
// Herald-Publish-Id; the leader's last messages of the topic (stream-tail.ts) tell whether it was
// stored, and a queued publish whose msgId is among them (the caller's retry) is answered as that
// duplicate. What was not found is resent pinned to the state just read: the topic's head AND the
// stream's last seq (Nats-Expected-Last-Sequence is checked when the message is applied, in log
// order, on 2.9.10 too), so a lost publish that lands meanwhile makes the resend refused, not
// stored after it; the refusal reads again.
//
// Replicated streams (docs/design.md#why-slots-and-claims-on-replicated-streams): on nats-server
// 2.9.10 an R3 stream checks Nats-Expected-Last-Subject-Sequence against what its leader has
// applied when it proposes a message, so two publishes of one topic sent at the same instant with
// the same expected head are often both stored (`npm run bench:expected-checks`), and the second one's
// Herald-Prev skips the first. The Nats-Msg-Id check runs when a message is applied, in log order
// (0 of 200). So on a replicated stream the Nats-Msg-Id of a message is its slot: a hash of
// (topic, prev). Only one message can follow a given message of a topic; a second claimant of the
// slot is answered as a duplicate (of someone else's message, or of an earlier attempt of its own)
// and settles from the stream like an unknown outcome. The caller's msgId then needs its own
// check: before its first attempt a publish with a msgId stores a claim, an empty message on
// `<prefix>.t.$c.<hash>`, expecting that subject to hold nothing (or only a claim older than the
// duplicate window). Not by Nats-Msg-Id: each replica forgets msgIds on its own timer, so a msgId
// repeated near the end of the window can be a duplicate on one replica and stored on another, and
// the replicas' seqs then differ. Two claims sent at the same instant may both be stored; neither
// has searched anything, and both are sent against heads below both claims, so the slots still
// keep one of them out. A claim refused because one within the window exists means the msgId was
// claimed: the message, if stored, is after that claim, and the publish settles from the claim's
// seq (found: it is the duplicate). A publish carries its
// msgId in Herald-Msg-Id, and is sent only against a head no later than the point through which
// the stream was searched for its msgId (the claim itself, or a settle's read): so two attempts of
// one msgId cannot both find a free slot.
import { createHash, randomBytes } from "node:crypto";
import { headers } from "@nats-io/nats-core";
import { JetStreamApiCodes, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { BackendUnavailableError, type PublishInput, type PublishOutcome } from "../backend.js";
import { MSG_ID_HEADER, PREV_HEADER, PUBLISH_ID_HEADER, TS_HEADER } from "./codec.js";
import type { StreamTail } from "./stream-tail.js";
import { isDefiniteApiError } from "../../../shared/stream-info.js";
import { unavailable } from "./errors.js";
import { storedSubject } from "../../../shared/stream-config.js";

/** Topics whose head this edge remembers; beyond it the oldest are forgotten (a direct get relearns). */
const MAX_REMEMBERED_HEADS = 100_000;
const PUBLISH_TIMEOUT_MS = 5000;
/**
 * A topic published to by several edges at once needs retries; an edge that just lost the race
 * waits a random few ms so that the winner (whose next publish already knows the exact head) does
 * not starve it. Beyond this budget, give up clearly (the caller may retry with the same msgId).
 */
const CONFLICT_BUDGET_MS = 5000;
/** Publishes of one topic in flight at once, at most (see "Pipelining" above). */
const MAX_IN_FLIGHT = 64;
/** After a seq came out other than predicted, publishes go one at a time per topic this long. */
const SERIAL_AFTER_MISPREDICTION_MS = 1000;
const EMPTY = new Uint8Array(0);
const ENCODER = new TextEncoder();

interface Job {
  readonly input: PublishInput;
  /** Submission order within its topic: a refused job goes back before every later one. */
  readonly order: number;
  readonly deadline: number;
  attempt: number;
  /** Herald-Publish-Id of each attempt sent. */
  readonly publishIds: string[];
  /**
   * Replicated streams, with a msgId: "claim" until its claim is sent (expecting `claimAfter` as
   * the claim subject's last seq), "claiming" until it is stored; then the seq through
   * which the stream is known to hold no other message with its msgId after the claim (an attempt
   * is sent only against a head at or below it).
   */
  searched?: number | "claim" | "claiming";
  claimAfter?: number;
  resolve(outcome: PublishOutcome): void;
  reject(error: Error): void;
}

/** A publish sent without an answer: maybe stored. */
interface Unsettled {
  /** Empty for no attempt: a search for a msgId from `floor`. */
  readonly publishId: string;
  /** The prev it was sent with: if stored, its seq is above this. */
  readonly floor: number;
}

/** The state of the stream a resend is pinned to (read from the leader). */
interface Fence {
  readonly streamLast: number;
  readonly head: number;
  /**
   * Replicated streams: the slot after `head` was taken by a message that is gone (a topic emptied
   * by a stream limit or a delete within the duplicate window). It cannot be used again within the
   * window, so the resend is pinned to the stream's last seq instead (checked when applied).
   */
  readonly deadSlot?: boolean;
}

/** One topic's publishes: waiting in order, and how many are in flight. */
class Lane {
  /** Publishes whose outcome is unknown, until a resend pinned to a fence is acked. */
  unsettled: Unsettled[] = [];
  /** Nothing of the topic may be sent before the stream is read (an unknown outcome, a refused fenced resend). */
  mustRead = false;
  /** Set by that read: the next publish is pinned to it. */
  fence: Fence | undefined;
  /** Replicated streams: the last slot found taken, and the seq of the message that took it. */
  takenSlot: { readonly prev: number; readonly by: number } | undefined;
  readonly queue: Job[] = [];
  submitted = 0;
  /** Sent and unanswered (or a head lookup, or a back-off after a lost race). */
  inFlight = 0;
  /** The seq predicted for the last job sent, while it is in flight and the chain stands. */
  tail: number | undefined;

  /**
   * Nothing more of the topic is sent before the stream is read from `attempt.floor` on: to settle
   * that attempt, or (with no publishId) to search for a msgId.
   */
  readFrom(attempt: Unsettled): void {
    this.unsettled.push(attempt);
    this.mustRead = true;
  }
}

/** Writes messages to the stream so that each stored message carries its true prev. */
export class StreamWriter {
  private readonly heads = new Map<string, number>();
  /** Topics with publishes queued or in flight. */
  private readonly lanes = new Map<string, Lane>();
  /** Publishes sent and not yet answered, all topics. */
  private inFlight = 0;
  /** The highest seq JetStream acked to this edge (undefined until the first ack). */
  private lastAcked: number | undefined;
  /** The seq predicted for the publish sent last; undefined while predictions do not hold. */
  private chain: number | undefined;
  /** After a wrong prediction, no new chain before this time (Date.now() ms). */
  private chainAfter = 0;
  /** Herald-Publish-Id: this writer's random prefix and a counter. */
  private readonly idPrefix = randomBytes(9).toString("base64url");
  private attempts = 0;

  /** The stream has replicas: slots and claims (see "Replicated streams" above). */
  replicated = false;
  /** The stream's duplicate window: how long a claim holds its msgId. */
  private duplicateWindowMs = 0;

  constructor(
    private readonly js: () => JetStreamClient,
    private readonly prefix: string,
    private readonly lookupHead: (topic: string) => Promise<number>,
    /** The leader's last messages of a topic above `floor` (stream-tail.ts). */
    private readonly readTail: (topic: string, floor: number) => Promise<StreamTail>,
    /** When the message at `seq` was stored (ms since the Unix epoch), undefined when it is gone. */
    private readonly storedAt: (seq: number) => Promise<number | undefined>,
  ) {}

  /** What the writer needs of the stream's configuration, read whenever the stream is checked. */
  useStream(config: { num_replicas: number; duplicate_window?: number }): void {
    this.replicated = config.num_replicas > 1;
    this.duplicateWindowMs = (config.duplicate_window ?? 0) / 1e6;
  }

  /** Something else (the live feed, a read) saw the topic's head. */
  noteHead(topic: string, seq: number): void {
    if ((this.heads.get(topic) ?? -1) >= seq) return;
    this.heads.delete(topic);
    this.heads.set(topic, seq);
    if (this.heads.size > MAX_REMEMBERED_HEADS) this.heads.delete(this.heads.keys().next().value!);
  }

  /** Forget every head (the stream was re-created). */
  forgetHeads(): void {
    this.heads.clear();
    this.lastAcked = undefined;
    this.chain = undefined;
  }

  publish(input: PublishInput): Promise<PublishOutcome> {
    let lane = this.lanes.get(input.topic);
    if (!lane) this.lanes.set(input.topic, (lane = new Lane()));
    return new Promise((resolve, reject) => {
      lane.queue.push({
        input,
        order: lane.submitted++,
        deadline: Date.now() + CONFLICT_BUDGET_MS,
        attempt: 0,
        publishIds: [],
        ...(this.replicated && input.msgId !== undefined ? { searched: "claim" as const } : {}),
        resolve,
        reject,
      });
      this.pump(input.topic, lane);
    });
  }

  /** Sends what the lane may send now: the first job at the known head, then ones ahead of acks. */
  private pump(topic: string, lane: Lane): void {
    while (lane.queue.length > 0) {
      if (lane.mustRead) {
        if (lane.inFlight === 0) this.settle(topic, lane);
        return;
      }
      const { searched } = lane.queue[0]!;
      if (searched === "claim" || searched === "claiming") {
        if (
          searched === "claim" &&
          (lane.inFlight === 0 || (lane.tail !== undefined && this.chain !== undefined))
        )
          this.claim(topic, lane, lane.queue[0]!);
        return;
      }
      if (lane.inFlight === 0) {
        if (lane.fence) return this.send(topic, lane, lane.queue.shift()!, lane.fence.head, lane.fence);
        const head = this.heads.get(topic);
        if (head === undefined) return this.lookUpThenPump(topic, lane);
        this.send(topic, lane, lane.queue.shift()!, head);
      } else if (lane.tail !== undefined && this.chain !== undefined && lane.inFlight < MAX_IN_FLIGHT) {
        this.send(topic, lane, lane.queue.shift()!, lane.tail);
      } else return;
    }
  }

  private lookUpThenPump(topic: string, lane: Lane): void {
    lane.inFlight++;
    this.lookupHead(topic).then(
      (head) => {
        lane.inFlight--;
        this.noteHead(topic, head);
        this.pump(topic, lane);
      },
      (err: unknown) => {
        lane.inFlight--;
        const error = unavailable(err, `publishing to ${topic}`);
        for (const job of lane.queue.splice(0)) job.reject(error);
        this.settled(topic, lane);
      },
    );
  }

  /**
   * Publishes one job expecting `expected` as its topic's last seq: the topic's known head when
   * nothing of it is in flight, else (sent ahead) the predicted seq of the one in flight before it.
   * While the chain holds and later jobs of the topic wait, the job is pinned to its predicted seq
   * (the stream's last seq must be the one predicted before it), so that they can be sent ahead of
   * its ack. A job with nobody waiting behind it is not pinned: a wrong guess then costs nothing
   * (many topics with one message each publish exactly as without pipelining).
   */
  private send(topic: string, lane: Lane, job: Job, expected: number, fence?: Fence): void {
    if (typeof job.searched === "number" && expected > job.searched) {
      // The head moved past where the stream was searched for this msgId: search first.
      lane.readFrom({ publishId: "", floor: job.searched });
      requeue(lane, job);
      return;
    }
    // A fence pins to the stream's last seq too, unless slots already keep a late attempt out.
    const after = fence ? (this.replicated && !fence.deadSlot ? undefined : fence.streamLast) : this.chain;
    const predicted = fence || after === undefined ? undefined : after + 1;
    const pinned =
      fence !== undefined || (after !== undefined && (lane.inFlight > 0 || lane.queue.length > 0));
    if (fence) {
      // One publish at a time until this one is answered: nothing is predicted after it.
      lane.fence = undefined;
      this.dropChain();
    } else this.chain = predicted;
    lane.tail = pinned && !fence ? predicted : undefined;
    lane.inFlight++;
    this.inFlight++;
    job.attempt++;
    const publishId = `${this.idPrefix}.${(++this.attempts).toString(36)}`;
    const h = headers();
    h.set(PREV_HEADER, String(expected));
    h.set(TS_HEADER, String(Date.now()));
    h.set(PUBLISH_ID_HEADER, publishId);
    job.publishIds.push(publishId);
    const { input } = job;
    const msgId = input.msgId === undefined ? undefined : msgIdHeader(input.topic, input.msgId);
    if (msgId !== undefined) h.set(MSG_ID_HEADER, msgId);
    this.js()
      .publish(storedSubject(this.prefix, topic), ENCODER.encode(input.data), {
        headers: h,
        msgID: !this.replicated
          ? msgId
          : fence?.deadSlot
            ? `${slotKey(topic, expected, this.duplicateWindowMs)}.${fence.streamLast}`
            : slotKey(topic, expected, this.duplicateWindowMs),
        expect:
          pinned && after !== undefined
            ? { lastSubjectSequence: expected, lastSequence: after }
            : { lastSubjectSequence: expected },
        timeout: PUBLISH_TIMEOUT_MS,
      })
      .then(
        (ack) => {
          this.answered(lane, predicted, ack);
          if (ack.duplicate && this.replicated) {
            // The slot after `expected` is taken: by an earlier attempt of this job, or by another
            // message. Which one, the stream tells.
            lane.readFrom({ publishId, floor: expected });
            lane.takenSlot = { prev: expected, by: ack.seq };
            requeue(lane, job);
            this.settled(topic, lane);
            return;
          }
          if (!ack.duplicate) this.noteHead(topic, ack.seq);
          // Stored right after the state that was read (or a duplicate of what was stored): every
          // earlier attempt of the topic is settled, one way or the other.
          if (fence) {
            lane.unsettled = [];
            lane.takenSlot = undefined;
          }
          job.resolve({ seq: ack.seq, dup: ack.duplicate });
          this.settled(topic, lane);
        },
        (err: unknown) => {
          this.answered(lane, predicted);
          this.failed(topic, lane, job, pinned, err, { publishId, floor: expected }, fence !== undefined);
          this.settled(topic, lane);
        },
      );
  }

  private failed(
    topic: string,
    lane: Lane,
    job: Job,
    pinned: boolean,
    err: unknown,
    attempt: Unsettled,
    fenced: boolean,
  ): void {
    if (!isDefiniteApiError(err)) {
      // No answer: maybe stored. Settled from the stream before anything else of the topic is sent.
      lane.readFrom(attempt);
      requeue(lane, job);
      return;
    }
    if (err.code !== JetStreamApiCodes.StreamWrongLastSequence) {
      job.reject(unavailable(err, `publishing to ${topic}`));
      return;
    }
    if (Date.now() >= job.deadline) {
      job.reject(
        new BackendUnavailableError(
          `JetStream busy: other edges kept publishing to ${topic} for ${CONFLICT_BUDGET_MS} ms`,
        ),
      );
      return;
    }
    if (fenced) {
      // Refused: the stream moved after it was read (the error's seq is the stream's, not the
      // topic's). Read it again after the back-off below; what is unsettled stays so.
      lane.mustRead = true;
    } else if (pinned) {
      // Pinned to a prediction that did not hold (or sent ahead of an ack that did not come as
      // predicted): nothing was stored. The error's seq may be the stream's, not the topic's: the
      // head stays what the acks said. Send it again, before every later job of its topic.
      requeue(lane, job);
      return;
    } else {
      const actual = wrongLastSequence(err);
      const known = this.heads.get(topic);
      if (actual !== undefined && known !== undefined && actual < known) {
        // Lower than a head this edge saw stored: the leader (new, catching up) has not applied
        // that message yet, and checks the subject's last seq only against what it applied
        // (2.9.10). A publish sent against its answer would be accepted behind that message with a
        // prev that skips it (R3 seeds 5001, 5004). Read the stream and pin to it instead: a
        // publish pinned to the stream's last seq is refused until the leader has caught up.
        lane.mustRead = true;
      } else {
        // The topic's head was not what this edge believed: another writer won the race. Learn
        // the true head, and wait a random few ms (the lane stays busy, so nothing later of the
        // topic overtakes this job) so that the winner, whose next publish knows the exact head,
        // does not starve us.
        this.heads.delete(topic);
        if (actual !== undefined) this.noteHead(topic, actual);
      }
    }
    lane.inFlight++;
    setTimeout(
      () => {
        lane.inFlight--;
        requeue(lane, job);
        this.settled(topic, lane);
      },
      Math.random() * Math.min(job.attempt, 10),
    );
  }

  /**
   * Stores the claim of a job's msgId (see "Replicated streams" above), in the chain of this
   * edge's publishes: it takes a seq like any publish. A new claim lets the job be sent against
   * any head below the claim's seq; a duplicate claim (the msgId was claimed within the window)
   * makes the topic search the stream from that claim before the job is sent.
   */
  private claim(topic: string, lane: Lane, job: Job): void {
    const predicted = this.chain === undefined ? undefined : this.chain + 1;
    this.chain = predicted;
    job.searched = "claiming";
    lane.inFlight++;
    this.inFlight++;
    const fail = (err: unknown) => {
      // Nothing of the job was sent: it fails as a whole, and the caller retries with its msgId.
      lane.queue.splice(lane.queue.indexOf(job), 1);
      job.reject(unavailable(err, `claiming a msgId on ${topic}`));
      this.settled(topic, lane);
    };
    const key = msgIdHeader(topic, job.input.msgId!);
    this.js()
      .publish(storedSubject(this.prefix, `$c.${key}`), EMPTY, {
        expect: { lastSubjectSequence: job.claimAfter ?? 0 },
        timeout: PUBLISH_TIMEOUT_MS,
      })
      .then(
        (ack) => {
          this.answered(lane, predicted, ack);
          job.searched = ack.seq;
          this.settled(topic, lane);
        },
        (err: unknown) => {
          this.answered(lane, predicted);
          const existing = wrongLastSequence(err);
          if (existing === undefined || existing === job.claimAfter) return fail(err);
          // Claimed before: within the window the msgId is taken (search from that claim), after
          // it the claim is replaced.
          lane.inFlight++;
          this.storedAt(existing).then(
            (at) => {
              lane.inFlight--;
              if (at === undefined || Date.now() - at >= this.duplicateWindowMs) {
                job.searched = "claim";
                job.claimAfter = existing;
              } else {
                job.searched = existing;
                lane.readFrom({ publishId: "", floor: existing });
              }
              this.settled(topic, lane);
            },
            (readErr: unknown) => {
              lane.inFlight--;
              fail(readErr);
            },
          );
        },
      );
  }

  /**
   * Reads the leader's last messages of the topic: an unsettled attempt found there resolves its job
   * with that seq, a queued job whose msgId is there is its duplicate; the rest is sent pinned to
   * the state read. If the stream cannot be read, the queued jobs fail as unavailable (the caller
   * retries with its msgId) and the topic stays to be read before its next publish.
   */
  private settle(topic: string, lane: Lane): void {
    lane.inFlight++;
    const floor = Math.min(...lane.unsettled.map((u) => u.floor), Number.MAX_SAFE_INTEGER);
    this.readTail(topic, floor).then(
      (tail) => {
        lane.inFlight--;
        lane.mustRead = false;
        const taken = lane.takenSlot;
        lane.fence = {
          ...tail,
          deadSlot: taken !== undefined && taken.prev === tail.head && taken.by > tail.head,
        };
        // Never lowered by a read: a leader catching up may not show what was acked (its fence
        // is then refused, and read again).
        this.noteHead(topic, tail.head);
        const byPublishId = new Map(tail.messages.map((m) => [m.publishId, m.seq]));
        const byMsgId = new Map(tail.messages.map((m) => [m.msgId, m.seq]));
        for (const job of lane.queue.splice(0)) {
          const stored = job.publishIds.find((id) => byPublishId.has(id));
          if (stored !== undefined) job.resolve({ seq: byPublishId.get(stored)!, dup: false });
          else if (job.input.msgId !== undefined && byMsgId.has(msgIdHeader(topic, job.input.msgId)))
            job.resolve({ seq: byMsgId.get(msgIdHeader(topic, job.input.msgId))!, dup: true });
          else {
            // Searched from at or below where it was searched before, through the head read.
            if (typeof job.searched === "number" && floor <= job.searched) job.searched = tail.head;
            lane.queue.push(job);
          }
        }
        lane.unsettled = lane.unsettled.filter((u) => !byPublishId.has(u.publishId));
        this.settled(topic, lane);
      },
      (err: unknown) => {
        lane.inFlight--;
        const error = unavailable(err, `finding out whether a publish to ${topic} was stored`);
        for (const job of lane.queue.splice(0)) job.reject(error);
        this.settled(topic, lane);
      },
    );
  }

  /**
   * One of this edge's publishes (a message or a claim) was answered, `ack` or an error: it is in
   * flight no more, and a seq other than predicted ends the chain (a duplicate takes no seq, so
   * what was predicted after it is off by one).
   */
  private answered(lane: Lane, predicted: number | undefined, ack?: PubAck): void {
    this.inFlight--;
    lane.inFlight--;
    if (predicted !== undefined && (!ack || ack.duplicate || ack.seq !== predicted)) this.dropChain();
    if (ack && !ack.duplicate) this.lastAcked = Math.max(this.lastAcked ?? 0, ack.seq);
  }

  /** A seq came out other than predicted (someone else writes to the stream): stop sending ahead. */
  private dropChain(): void {
    this.chain = undefined;
    this.chainAfter = Date.now() + SERIAL_AFTER_MISPREDICTION_MS;
    for (const lane of this.lanes.values()) lane.tail = undefined;
  }

  private settled(topic: string, lane: Lane): void {
    if (lane.inFlight === 0) lane.tail = undefined;
    // Nothing in flight: the last ack is the stream's last seq as far as this edge knows.
    if (this.inFlight === 0 && this.chain === undefined && Date.now() >= this.chainAfter)
      this.chain = this.lastAcked;
    // A topic still to be read stays (without timers): its next publish reads first.
    if (lane.inFlight === 0 && lane.queue.length === 0 && !lane.mustRead) {
      this.lanes.delete(topic);
      return;
    }
    this.pump(topic, lane);
  }
}

/** Puts a job refused by JetStream back in its lane, before every later job of its topic. */
function requeue(lane: Lane, job: Job): void {
  const at = lane.queue.findIndex((queued) => queued.order > job.order);
  lane.queue.splice(at < 0 ? lane.queue.length : at, 0, job);
}

/** The seq JetStream names when it refuses a publish for its expected last seq (error 10071). */
function wrongLastSequence(err: unknown): number | undefined {
  if (!isDefiniteApiError(err) || err.code !== JetStreamApiCodes.StreamWrongLastSequence) return undefined;
  const actual = /wrong last sequence: (\d+)/.exec(err.message);
  return actual ? Number(actual[1]) : undefined;
}

/**
 * The Nats-Msg-Id of a message on a replicated stream: the one place after `prev` in its topic.
 * Prev 0 comes back each time retention empties the topic, at least `max_age` (hence one window)
 * after the topic's first message: the window's number (by this edge's clock) tells those apart,
 * so a slot is never repeated near the end of its window (where replicas may disagree).
 */
function slotKey(topic: string, prev: number, windowMs: number): string {
  const place = prev > 0 ? String(prev) : `0@${Math.floor(Date.now() / Math.max(1, windowMs))}`;
  return `s${createHash("sha256")
    .update(`${Buffer.byteLength(topic)}:${topic}${place}`)
    .digest("base64url")}`;
}

/**
 * The Nats-Msg-Id of a message: SHA-256 over the topic and the msgId, length-prefixed so that no
 * two pairs share an input, in base64url (43 characters).
 */
export function msgIdHeader(topic: string, msgId: string): string {
  return createHash("sha256")
    .update(`${Buffer.byteLength(topic)}:${topic}${msgId}`)
    .digest("base64url");
}
