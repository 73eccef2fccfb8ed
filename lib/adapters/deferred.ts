/**
 * A port whose adapter, and so its SDK, is loaded on the port's first call (issue 17: a submit for
 * an output or an unrelated key is answered from the key alone, and must not pay for loading
 * ali-oss and tablestore first). Every port method is async, so the wrapper changes no signature.
 */

type AsyncMethods<T> = { [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T];

/**
 * `methods` lists every method of the port (the type makes a missing one a compile error). A load
 * that fails is not cached: the next call tries again, as a fresh instance would.
 */
export function deferred<T extends object>(load: () => Promise<T>, methods: Record<AsyncMethods<T> & keyof T, true>): T {
  let port: Promise<T> | undefined;
  const loaded = () =>
    (port ??= load().catch((err: unknown) => {
      port = undefined;
      throw err;
    }));
  const out: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of Object.keys(methods)) {
    out[name] = async (...args: unknown[]) => {
      const target = (await loaded()) as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return target[name]!.apply(target, args);
    };
  }
  return out as unknown as T;
}
