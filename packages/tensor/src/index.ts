/**
 * @tandem/tensor — immutable n-dimensional arrays on a cpu backend (the
 * reference) and a WebGPU backend, with explicit random keys and deterministic
 * memory scopes.
 */
export type { DType, HostArray } from './dtype.js';
export { DTYPES } from './dtype.js';
export type { Shape } from './shape.js';
export { sizeOf, broadcastShapes } from './shape.js';
export { TensorError } from './errors.js';
export type { Backend, UnaryOp, BinaryOp, ReduceOp } from './backend.js';
export { UNARY_OPS, BINARY_OPS } from './backend.js';
export { Tensor, memory, aliasTensor, type NestedArray, type TensorLike, type MemoryReport } from './tensor.js';
export * from './ops.js';
export * from './composites.js';
export * from './creation.js';
export * from './random.js';
export { philox4x32 } from './philox.js';
export { tidy, keep, dispose, collectCreated, adoptIntoScope } from './memory.js';
export { treeFlatten, treeUnflatten, treeMap, treeZip, treeLeaves, type PyTree, type TreeDef } from './tree.js';
export { withTracer, withoutTracing, isTracing, activeTracers, type OpRecord, type Tracer } from './trace.js';
export { getBackend, setDefaultBackend, defaultBackend, type BackendName } from './registry.js';
export { initBackend, useBackend, shutdownWebGPU, webgpuAdapterInfo, type BackendChoice, type WebGPUInitOptions, type WebGPUInfo } from './backends.js';
