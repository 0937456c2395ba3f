export { createSdkV1Adapter, SDK_V1_RANGE, SdkV1Adapter } from './sdk-v1-adapter.js';
