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
// actual last seq); we retry with H = N. Publishes of one topic from one edge are serialized so
// they do not race each other into retries.
//
// Dedupe: a msgId is scoped to its topic (DESIGN.md "msgId is scoped to its topic"): the same msgId
// on two topics is two messages. JetStream's Nats-Msg-Id is stream-wide, so the header is not the
// msgId itself but a hash of the pair (msgIdHeader): unambiguous, of fixed length and charset, and
// it tells nobody which msgIds another topic used. On nats-server 2.9.10 the Nats-Msg-Id check
// runs before the expected-last-sequence check, so a retried msgId returns {duplicate: true, seq:
// original} whatever H was (tested).
import { createHash } from "node:crypto";
import { headers } from "@nats-io/nats-core";
import { JetStreamApiCodes, type JetStreamClient } from "@nats-io/jetstream";
import { BackendUnavailableError, type PublishInput, type PublishOutcome } from "../backend.js";
import { PREV_HEADER, TS_HEADER } from "./codec.js";
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

export class Publisher {
  private readonly heads = new Map<string, number>();
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly js: () => JetStreamClient,
    private readonly prefix: string,
    private readonly lookupHead: (topic: string) => Promise<number>,
  ) {}

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
  }

  publish(input: PublishInput): Promise<PublishOutcome> {
    const previous = this.tails.get(input.topic) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.publishNow(input));
    this.tails.set(input.topic, run);
    const forget = () => {
      if (this.tails.get(input.topic) === run) this.tails.delete(input.topic);
    };
    run.then(forget, forget);
    return run;
  }

  private async publishNow(input: PublishInput): Promise<PublishOutcome> {
    const deadline = Date.now() + CONFLICT_BUDGET_MS;
    const subject = storedSubject(this.prefix, input.topic);
    const body = new TextEncoder().encode(input.data);
    for (let attempt = 1; attempt === 1 || Date.now() < deadline; attempt++) {
      const head = this.heads.get(input.topic) ?? (await this.lookupHead(input.topic));
      const h = headers();
      h.set(PREV_HEADER, String(head));
      h.set(TS_HEADER, String(Date.now()));
      try {
        const ack = await this.js().publish(subject, body, {
          headers: h,
          msgID: input.msgId === undefined ? undefined : msgIdHeader(input.topic, input.msgId),
          expect: { lastSubjectSequence: head },
          timeout: PUBLISH_TIMEOUT_MS,
        });
        if (ack.duplicate) return { seq: ack.seq, dup: true };
        this.noteHead(input.topic, ack.seq);
        return { seq: ack.seq, dup: false };
      } catch (err) {
        if (isDefiniteApiError(err) && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
          const actual = /wrong last sequence: (\d+)/.exec(err.message);
          this.heads.delete(input.topic);
          if (actual) this.noteHead(input.topic, Number(actual[1]));
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 10)));
          continue;
        }
        throw unavailable(err, `publishing to ${input.topic}`);
      }
    }
    throw new BackendUnavailableError(

/**
 * The Nats-Msg-Id of a message: SHA-256 over the topic and the msgId, length-prefixed so that no
 * two pairs share an input, in base64url (43 characters).
 */
export function msgIdHeader(topic: string, msgId: string): string {
  return createHash("sha256")
    .update(`${Buffer.byteLength(topic)}:${topic}${msgId}`)
    .digest("base64url");
}
      `JetStream busy: other edges kept publishing to ${input.topic} for ${CONFLICT_BUDGET_MS} ms`,
    );
  }
}
