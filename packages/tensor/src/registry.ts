import type { Backend } from './backend.js';
import { TensorError } from './errors.js';

/** The backends tandem knows by name. */
export type BackendName = 'cpu' | 'webgpu';

const backends = new Map<BackendName, Backend>();
let current: Backend | undefined;
let cpuFactory: (() => Backend) | undefined;

/** Registers a ready backend instance (done by the backend modules themselves). */
export function registerBackend(b: Backend): void {
  backends.set(b.name, b);
}

/** Lets the cpu backend register lazily, avoiding an import cycle. */
export function setCpuFactory(f: () => Backend): void {
  cpuFactory = f;
}

/** Returns a registered backend by name, or throws naming what is available. */
export function getBackend(name?: BackendName): Backend {
  if (name === undefined) {
    if (current) return current;
    return getBackend('cpu');
  }
  let b = backends.get(name);
  if (!b && name === 'cpu' && cpuFactory) {
    b = cpuFactory();
    backends.set('cpu', b);
  }
  if (!b) {
    throw new TensorError(
      'getBackend',
      `backend '${name}' is not initialised; call \`await initBackend('${name}')\` first (registered: ${[...backends.keys()].join(', ') || 'none'})`,
      'backend',
    );
  }
  return b;
}

/** Makes `b` the backend used when an op or constructor is not told otherwise. */
export function setDefaultBackend(b: Backend | BackendName): void {
  current = typeof b === 'string' ? getBackend(b) : b;
}

/** The backend used by constructors when none is given. */
export function defaultBackend(): Backend {
  return getBackend();
}

export function hasBackend(name: BackendName): boolean {
  return backends.has(name) || (name === 'cpu' && cpuFactory !== undefined);
}

export function unregisterBackend(name: BackendName): void {
  const b = backends.get(name);
  backends.delete(name);
  if (current === b) current = undefined;
}
