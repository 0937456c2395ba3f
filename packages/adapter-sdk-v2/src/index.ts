export {
  createPacedEventBus,
  PacedEventBus,
  type PacedEventBusOptions,
  type ServerEventListener,
} from './paced-event-bus.js';
export { createAdapter, createSdkV2Adapter, matches, SDK_V2_RANGE, SdkV2Adapter } from './sdk-v2-adapter.js';
