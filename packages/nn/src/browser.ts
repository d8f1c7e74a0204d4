/**
 * @tandem/nn for browsers (the `browser` condition of the package's `exports` map):
 * everything in the Node entry except what reads or writes files — checkpoints
 * (saveCheckpoint / loadCheckpoint and their in-memory encoding, which hashes with
 * node:crypto) and writeFileAtomic. safetensors encoding and decoding is here.
 */
export * from './init.js';
export * from './layers.js';
export * from './transformer.js';
export * from './sample.js';
export * as tokenizer from './tokenizer.js';
export { PAD, BOS, EOS, SEP, makeVocab, padBatch, type Vocab, type PaddedBatch } from './tokenizer.js';
export * from './optim.js';
export { encodeSafetensors, decodeSafetensors, parseSafetensors, MAX_HEADER_LENGTH, type SafetensorsDType, type HostTensor, type ParsedSafetensors } from './safetensors.js';
export { NnError, NN_ERROR_CODES, type NnErrorCode } from './errors.js';
