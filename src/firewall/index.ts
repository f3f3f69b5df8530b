export { handedAddresses, type HandedAddress } from './addresses.js';
export { FirewallStartError, NftError, type NftFailure } from './errors.js';
export { setBaseName, setPair, type SetPair } from './names.js';
export { nftReader, nftRunner, type NftReader, type NftRunner } from './nft.js';
export { FirewallStage, type FirewallResult, type FirewallStageOptions } from './stage.js';
export { elementSeries, parseElements, startFirewall, startSets } from './start.js';
export { ALREADY_WRITTEN, closeRevokedGrant, SetWriter, type BatchReport, type SetElement, type SetWriterOptions, type SetWrites } from './writer.js';
export { findOnPath } from './path.js';
