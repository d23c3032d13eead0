// Reads from the stream with direct get (any replica answers, no consumer state) and, for long
// ranges, a short-lived ordered consumer. Works on nats-server 2.9.10: direct get with
// `last_by_subj` and with `seq` + `next_by_subj`; no 2.11 batch direct get.
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { fromConsumer, fromDirectGet, type ReadMessage } from "./codec.js";
import { unavailable } from "./errors.js";
import { storedSubject } from "../../../shared/stream-config.js";

/** Up to this many messages are fetched one direct get at a time; longer ranges use a consumer. */
const DIRECT_RANGE = 8;
const CONSUMER_FETCH_EXPIRES_MS = 2000;
/** At most this many messages are read forward to check a walk back along Herald-Prev (lastN). */
const MAX_FORWARD_CHECK = 1000;

/**
 * A read of one topic: up to `count` messages after `after` and through `through`, of which the
 * last `keep` are returned.
 */
interface Span {
  readonly after: number;
  readonly count: number;
  readonly keep: number;
  readonly through: number;
}

export class StreamReader {
  /**
   * @param consumerJs a JetStream client with a short request timeout: right after a node died,
   * an ephemeral consumer can be placed on it and its creation times out (seen on 2.9.10); the
   * read then falls back to direct gets instead of waiting long.
   */
  constructor(
    private readonly jsm: () => JetStreamManager,
    private readonly consumerJs: () => JetStreamClient,
    private readonly stream: string,
    private readonly prefix: string,
  ) {}

  /** The stream has replicas: a direct get may come from one that lags (set from the stream's info). */
  replicated = false;

  /**
   * The topic's last message, or undefined for a topic with no retained message. A direct get may
   * be answered by a follower that has not applied the newest messages yet; `fromLeader` asks the
   * stream's leader instead.
   */
  async last(topic: string, fromLeader = false): Promise<ReadMessage | undefined> {
    try {
      const request = { last_by_subj: storedSubject(this.prefix, topic) };
      const msg = fromLeader
        ? await this.jsm().streams.getMessage(this.stream, request)
        : await this.jsm().direct.getMessage(this.stream, request);
      return msg ? fromDirectGet(topic, msg) : undefined;
    } catch (err) {
      throw unavailable(err, `reading the head of ${topic}${fromLeader ? " from the stream leader" : ""}`);
    }
  }

  /** The topic's last seq as the stream's leader knows it (0 when none). */
  async leaderHead(topic: string): Promise<number> {
    return (await this.last(topic, true))?.seq ?? 0;
  }

  /**
   * Whether the stream provably removed no message with a seq above `seq` (none aged out, none
   * trimmed by a limit, none deleted). Only then does a topic with nothing retained after a
   * position prove that nothing after it was lost: JetStream keeps no head for a topic whose
   * messages all left retention.
   */
  async untouchedSince(seq: number): Promise<boolean> {
    try {
      const { state } = await this.jsm().streams.info(this.stream);
      // num_deleted is left out of the answer when there are none.
      return (state.num_deleted ?? 0) === 0 && state.first_seq <= seq + 1;
    } catch (err) {
      throw unavailable(err, `reading the state of stream ${this.stream}`);
    }
  }

  /**
   * Whether the stream's leader no longer holds any message up to `seq`: retention removed all of
   * them (its first seq is beyond). A gap that ends there can never be read.
   */
  async removedThrough(seq: number): Promise<boolean> {
    return (await this.bounds()).first > seq;
  }

  /** The first and last seq the stream's leader holds (one stream info request). */
  async bounds(): Promise<{ first: number; last: number }> {
    try {
      const { state } = await this.jsm().streams.info(this.stream);
      return { first: state.first_seq, last: state.last_seq };
    } catch (err) {
      throw unavailable(err, `reading the state of stream ${this.stream}`);
    }
  }

  /** The topic's message with exactly this seq, or undefined when it is gone (or of another topic). */
  async at(topic: string, seq: number): Promise<ReadMessage | undefined> {
    try {
      const msg = await this.jsm().direct.getMessage(this.stream, { seq });
      return msg && msg.subject === storedSubject(this.prefix, topic) ? fromDirectGet(topic, msg) : undefined;
    } catch (err) {
      throw unavailable(err, `reading ${topic} at ${seq}`);
    }
  }

  /**
   * What the stream's leader (which holds every message stored so far) has at `seq`: the message,
   * as the topic's or undefined for another subject's; "gone" when it was there and was removed
   * (retention, a limit); "beyond" when the stream has not stored that seq yet.
   */
  async leaderAt(topic: string, seq: number): Promise<ReadMessage | undefined | "gone" | "beyond"> {
    try {
      const msg = await this.jsm().streams.getMessage(this.stream, { seq });
      if (msg)
        return msg.subject === storedSubject(this.prefix, topic) ? fromDirectGet(topic, msg) : undefined;
    } catch (err) {
      throw unavailable(err, `reading ${topic} at ${seq} from the stream leader`);
    }
    return (await this.bounds()).last < seq ? "beyond" : "gone";
  }

  /**
   * The topic's retained messages with after < seq <= through, in order, at most `limit`. They are
   * consecutive in the topic's history except that the first one may not follow `after` directly
   * (retention removed what was between): callers check its prev. `through` is a seq the caller
   * knows to be stored (the head it read, the prev of a live message): every read stops there, so
   * none waits for messages that do not exist (a consumer's fetch would wait out its expiry).
   */
  async after(topic: string, after: number, limit: number, through: number): Promise<ReadMessage[]> {
    try {
      const messages = await this.direct(topic, {
        after,
        count: Math.min(limit, DIRECT_RANGE),
        keep: limit,
        through,
      });
      const last = messages.at(-1)?.seq ?? after;
      if (messages.length === DIRECT_RANGE && limit > DIRECT_RANGE && last < through) {
        messages.push(
          ...(await this.range(topic, {
            after: last,
            count: limit - DIRECT_RANGE,
            keep: limit - DIRECT_RANGE,
            through,
          })),
        );
      }
      return messages;
    } catch (err) {
      throw unavailable(err, `reading ${topic} after ${after}`);
    }
  }

  /**
   * The topic's last `k` retained messages, oldest first. Up to DIRECT_RANGE of them are found by
   * walking back along Herald-Prev (one direct get each); more are streamed over the topic's
   * retained messages (at most max_msgs_per_subject), keeping the last k.
   */
  async lastN(topic: string, newest: ReadMessage | undefined, k: number): Promise<ReadMessage[]> {
    try {
      if (k > DIRECT_RANGE) {
        const info = await this.jsm().streams.info(this.stream, {
          subjects_filter: storedSubject(this.prefix, topic),
        });
        const retained = info.state.subjects?.[storedSubject(this.prefix, topic)] ?? 0;
        return retained === 0 || !newest
          ? []
          : await this.range(topic, { after: 0, count: retained, keep: k, through: newest.seq });
      }
      const reversed: ReadMessage[] = [];
      let current = newest;
      while (current && reversed.length < k) {
        reversed.push(current);
        if (!current.prev) break;
        current = await this.at(topic, current.prev);
      }
      const walked = reversed.reverse();
      if (!newest || walked.length === 0) return walked;
      // Herald-Prev leads back; the run is then read forward from where it led, so that a
      // Herald-Prev that skips a message (seen on R3 streams around a leader change) skips nothing
      // here. A forward read that falls short of the newest (a lagging replica) keeps the walk.
      const forward = await this.after(topic, walked[0]!.seq - 1, MAX_FORWARD_CHECK, newest.seq);
      if (forward.at(-1)?.seq !== newest.seq) return walked;
      if (forward.length <= k) return forward;
      const last = forward.slice(-k);
      // The first one's prev is the message before it, which the forward read saw.
      last[0] = { ...last[0]!, prev: forward[forward.length - k - 1]!.seq };
      return last;
    } catch (err) {
      throw unavailable(err, `reading the last ${k} messages of ${topic}`);
    }
  }

  /** The messages of a Span: by an ordered consumer, or by direct gets where that fails. */
  private async range(topic: string, span: Span): Promise<ReadMessage[]> {
    try {
      return await this.consume(topic, span);
    } catch {
      return this.direct(topic, span);
    }
  }

  /** One direct get per message, following next_by_subj. */
  private async direct(topic: string, { after, count, keep, through }: Span): Promise<ReadMessage[]> {
    const subject = storedSubject(this.prefix, topic);
    const messages: ReadMessage[] = [];
    let cursor = after;
    for (let seen = 0; seen < count && cursor < through; seen++) {
      const msg = await this.jsm().direct.getMessage(this.stream, { seq: cursor + 1, next_by_subj: subject });
      if (!msg || msg.seq > through) break;
      messages.push(fromDirectGet(topic, msg));
      if (messages.length > keep) messages.shift();
      cursor = msg.seq;
    }
    return messages;
  }

  /** An ordered consumer: one consumer, `count` messages streamed in one fetch, ending at `through`. */
  private async consume(topic: string, { after, count, keep, through }: Span): Promise<ReadMessage[]> {
    if (after >= through) return [];
    const consumer = await this.consumerJs().consumers.get(this.stream, {
      filter_subjects: storedSubject(this.prefix, topic),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
    });
    const messages: ReadMessage[] = [];
    try {
      const fetched = await consumer.fetch({ max_messages: count, expires: CONSUMER_FETCH_EXPIRES_MS });
      let seen = 0;
      for await (const msg of fetched) {
        if (msg.seq > through) break;
        messages.push(fromConsumer(topic, msg));
        if (messages.length > keep) messages.shift();
        if (msg.seq === through || msg.info.pending === 0 || ++seen >= count) break;
      }
    } finally {
      // Not awaited: an ordered consumer also removes itself once inactive.
      consumer.delete().catch(() => undefined);
    }
    return messages;
  }
}
