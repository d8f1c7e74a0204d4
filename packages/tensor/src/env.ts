/**
 * Reading an environment variable where there is one: under Node `process.env`, in a
 * browser nothing (there is no `process`; referring to it would throw).
 */
export function envVar(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name];
}
