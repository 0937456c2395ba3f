import { fileURLToPath } from 'node:url';
import { changeSourceConformance } from '@hotmcp/core/testing';
import { createNativeChangeSource } from './native-change-source.js';

changeSourceConformance('NativeChangeSource', createNativeChangeSource, {
  // The built package, for the cases run in a child process (the exit check, permissions as nobody).
  child: {
    module: fileURLToPath(new URL('../dist/index.js', import.meta.url)),
    exportName: 'createNativeChangeSource',
  },
});
