/**
 * @tandem/tensor — immutable n-dimensional arrays on a cpu backend (the
 * reference) and a WebGPU backend, with explicit random keys and deterministic
 * memory scopes.
 */
export type { DType, HostArray } from './dtype.js';
export { DTYPES } from './dtype.js';
export type { Shape } from './shape.js';
export { sizeOf, stridesOf, shapesEqual, broadcastShapes } from './shape.js';
export { TensorError, TENSOR_ERROR_CODES, fmtShape, type TensorErrorCode } from './errors.js';
export type { Backend } from './backend.js';
export type { View, ConcatLayout } from './layout.js';
export {
  UNARY_OPS, BINARY_OPS, type UnaryOp, type BinaryOp, type ReduceOp,
  type Primitives, type Prim, type PrimAttrs, type NoAttrs, type ReduceAttrs,
} from './primitives.js';
export { Tensor, memory, aliasTensor, type NestedArray, type TensorLike, type MemoryReport } from './tensor.js';
// Installs the chaining methods (x.add(y).relu()) on Tensor.prototype.
import './methods.js';
export type { TensorMethods } from './methods.js';
export * from './ops.js';
export * from './composites.js';
export * from './creation.js';
export * from './random.js';
export { philox4x32 } from './philox.js';
export { tidy, keep, dispose, collectCreated, adoptIntoScope } from './memory.js';
export { treeFlatten, treeUnflatten, treeMap, treeZip, treeLeaves, type PyTree, type TreeDef } from './tree.js';
export {
  withTracer, withoutTracing, isTracing, activeTracers,
  type OpRecord, type Tracer, type Traced, type TracedPrim, type CustomAttrs,
} from './trace.js';
export { getBackend, setDefaultBackend, defaultBackend, type BackendName } from './registry.js';
export { initBackend, useBackend, shutdownWebGPU, webgpuAdapterInfo, webgpuStats, type BackendChoice, type WebGPUInitOptions, type WebGPUInfo, type WebGPUStats } from './backends.js';
