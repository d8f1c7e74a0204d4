/**
 * @tandem/nn — params as pytrees, layers as pure functions, a small
 * encoder–decoder transformer with KV-cache sampling, optimisers and checkpoints.
 */
export * from './init.js';
export * from './layers.js';
export * from './transformer.js';
export * from './sample.js';
export * as tokenizer from './tokenizer.js';
export { PAD, BOS, EOS, SEP, makeVocab, padBatch, type Vocab, type PaddedBatch } from './tokenizer.js';
export * from './optim.js';
export { encodeSafetensors, decodeSafetensors, parseSafetensors, MAX_HEADER_LENGTH, type SafetensorsDType, type HostTensor, type ParsedSafetensors } from './safetensors.js';
export * from './checkpoint.js';
export { NnError, NN_ERROR_CODES, type NnErrorCode } from './errors.js';
export { writeFileAtomic } from './atomic-write.js';
