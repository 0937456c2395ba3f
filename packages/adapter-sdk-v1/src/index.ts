export { createAdapter, createSdkV1Adapter, matches, SDK_V1_RANGE, SdkV1Adapter } from './sdk-v1-adapter.js';
