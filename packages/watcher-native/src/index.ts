export type { NativeChangeSourceOptions, ParcelEvent, ParcelWatcher } from './native-change-source.js';
export { createNativeChangeSource, NativeChangeSource } from './native-change-source.js';
