// Requests to the kernel over model.send, answered by replies carrying the same id.
import type { Model } from "./state";

export interface Reply {
  type: "reply";
  id: string;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: string;
}

export interface Rpc {
  request(type: string, args?: Record<string, unknown>): Promise<Reply>;
  dispose(): void;
}

function isReply(msg: unknown): msg is Reply {
  const m = msg as Partial<Reply> | null;
  return !!m && m.type === "reply" && typeof m.id === "string";
}

/** Keep `button` disabled until `pending` settles, so one click asks the kernel once. */
export async function disabledUntil<T>(button: HTMLButtonElement, pending: Promise<T>): Promise<T> {
  button.disabled = true;
  try {
    return await pending;
  } finally {
    button.disabled = false;
  }
}

export function createRpc(model: Model): Rpc {
  const pending = new Map<string, (reply: Reply) => void>();
  const prefix = Math.random().toString(36).slice(2, 10);
  let counter = 0;
  const onMessage = (msg: unknown) => {
    if (!isReply(msg)) return;
    const resolve = pending.get(msg.id);
    if (resolve) {
      pending.delete(msg.id);
      resolve(msg);
    }
  };
  model.on("msg:custom", onMessage);
  return {
    request(type, args = {}) {
      counter += 1;
      const id = `${prefix}-${counter}`;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        model.send({ ...args, id, type });
      });
    },
    dispose() {
      model.off("msg:custom", onMessage);
      pending.clear();
    },
  };
}
