/**
 * The float64 references of the loss tests live with the property tests (one copy for both
 * suites): summed log π(y|x) of one unpadded row, the test's own ordering of a pair, margins.
 */
export { float64Margins, float64SequenceLogProb, mean64, ordered, sigmoid64, softplus64 } from '../../../property-tests/reference.js';
