/**
 * @tandem/autodiff — pure reverse-mode differentiation of functions over pytrees
 * of @tandem/tensor tensors: vjp, grad, valueAndGrad, stopGradient, customVjp,
 * and a finite-difference checker.
 */
export { vjp, grad, valueAndGrad, stopGradient, customVjp, type Pullback, type GradOptions, type CustomRule } from './vjp.js';
export { checkGrads, type CheckOptions, type CheckResult } from './check.js';
export { unbroadcast } from './unbroadcast.js';
export { RULES, type Rule, type Rules } from './rules.js';
export { AutodiffError, AUTODIFF_ERROR_CODES, type AutodiffErrorCode } from './errors.js';
export { treeMap, treeFlatten, treeUnflatten, treeZip, treeLeaves, type PyTree, type TreeDef } from '@tandem/tensor';
