// Reads from the stream with direct get (any replica answers, no consumer state) and, for long
// ranges, a short-lived ordered consumer. Works on nats-server 2.9.10: direct get with
// `last_by_subj` and with `seq` + `next_by_subj`; no 2.11 batch direct get.
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { fromConsumer, fromDirectGet, type ReadMessage } from "./codec.js";
import { unavailable } from "./errors.js";
import { storedSubject } from "./stream-config.js";

/** Up to this many messages are fetched one direct get at a time; longer ranges use a consumer. */
const DIRECT_RANGE = 8;
const CONSUMER_FETCH_EXPIRES_MS = 2000;

export class StreamReader {
  constructor(
    private readonly jsm: () => JetStreamManager,
    private readonly js: () => JetStreamClient,
    private readonly stream: string,
    private readonly prefix: string,
  ) {}

  /** The topic's last message, or undefined for a topic with no retained message. */
  async last(topic: string): Promise<ReadMessage | undefined> {
    try {
      const msg = await this.jsm().direct.getMessage(this.stream, { last_by_subj: storedSubject(this.prefix, topic) });
      return msg ? fromDirectGet(topic, msg) : undefined;
    } catch (err) {
      throw unavailable(err, `reading the head of ${topic}`);
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
   * The topic's retained messages with seq > after, in order, at most `limit`. They are
   * consecutive in the topic's history except that the first one may not follow `after` directly
   * (retention removed what was between): callers check its prev.
   */
  async after(topic: string, after: number, limit: number): Promise<ReadMessage[]> {
    const subject = storedSubject(this.prefix, topic);
    const messages: ReadMessage[] = [];
    try {
      let cursor = after;
      while (messages.length < Math.min(limit, DIRECT_RANGE)) {
        const msg = await this.jsm().direct.getMessage(this.stream, { seq: cursor + 1, next_by_subj: subject });
        if (!msg) return messages;
        messages.push(fromDirectGet(topic, msg));
        cursor = msg.seq;
      }
      if (messages.length < limit) messages.push(...(await this.consume(topic, cursor, limit - messages.length)));
      return messages;
    } catch (err) {
      throw unavailable(err, `reading ${topic} after ${after}`);
    }
  }

  /**
   * The topic's last `k` retained messages, oldest first. Up to DIRECT_RANGE of them are found by
   * walking back along Herald-Prev (one direct get each); more are streamed through an ordered
   * consumer over the topic's retained messages (at most max_msgs_per_subject), keeping the last k.
   */
  async lastN(topic: string, newest: ReadMessage | undefined, k: number): Promise<ReadMessage[]> {
    try {
      if (k > DIRECT_RANGE) {
        const info = await this.jsm().streams.info(this.stream, { subjects_filter: storedSubject(this.prefix, topic) });
        const retained = info.state.subjects?.[storedSubject(this.prefix, topic)] ?? 0;
        return retained === 0 ? [] : await this.consume(topic, 0, retained, k);
      }
      const reversed: ReadMessage[] = [];
      let current = newest;
      while (current && reversed.length < k) {
        reversed.push(current);
        if (!current.prev) break;
        current = await this.at(topic, current.prev);
      }
      return reversed.reverse();
    } catch (err) {
      throw unavailable(err, `reading the last ${k} messages of ${topic}`);
    }
  }

  /**
   * A long range through an ordered consumer: one consumer, `count` messages streamed in one
   * fetch, of which the last `keep` are returned.
   */
  private async consume(topic: string, after: number, count: number, keep = count): Promise<ReadMessage[]> {
    const consumer = await this.js().consumers.get(this.stream, {
      filter_subjects: storedSubject(this.prefix, topic),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
    });
    const messages: ReadMessage[] = [];
    try {
      const fetched = await consumer.fetch({ max_messages: count, expires: CONSUMER_FETCH_EXPIRES_MS });
      let seen = 0;
      for await (const msg of fetched) {
        messages.push(fromConsumer(topic, msg));
        if (messages.length > keep) messages.shift();
        if (msg.info.pending === 0 || ++seen >= count) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    return messages;
  }
}
