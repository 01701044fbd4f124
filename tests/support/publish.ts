/**
 * Publishing right after a stream was created or moved to a new leader.
 *
 * In a cluster only the stream leader subscribes to the stream's subjects, and that interest
 * reaches the other servers over the routes a moment after the create returns. A client
 * connected to another server can see "no responders" in that window. Nothing was stored
 * then, so publishing again is safe; every other error is the test's to see.
 */
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";

/** Bounds of {@link publishOnceReachable}. */
export interface ReachableOptions {
    /** Give up after this long. Default 10000. */
    timeoutMs?: number;
    /** Message id for server-side de-duplication. */
    msgID?: string;
}

function isNoResponders(err: unknown): boolean {
    for (let e = err as { name?: string; message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
        if (e.name === "NoRespondersError" || e.name === "NoResponders" || e.name === "JetStreamNotEnabled") return true;
        if (/no responders/i.test(String(e.message ?? ""))) return true;
    }
    return false;
}

/** Publishes one message, retrying only while no server answers for the stream's subject. */
export async function publishOnceReachable(js: JetStreamClient, subject: string, payload: string, opts: ReachableOptions = {}): Promise<PubAck> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (let attempt = 1; ; attempt++) {
        try {
            return await js.publish(subject, payload, opts.msgID === undefined ? {} : { msgID: opts.msgID });
        } catch (err) {
            if (!isNoResponders(err) || Date.now() >= deadline) {
                throw new Error(`publishing to ${subject} failed after ${attempt} attempt(s): ${(err as Error).message}`, { cause: err });
            }
            await new Promise((r) => setTimeout(r, 100));
        }
    }
}
