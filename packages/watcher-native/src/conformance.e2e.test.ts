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

// As createReloader runs it where polling can take over: start() resolves after the first scan, the OS watcher follows.
changeSourceConformance(
  'NativeChangeSource (awaitWatcher: false)',
  (options) => createNativeChangeSource({ ...options, awaitWatcher: false }),
  {
    child: {
      module: fileURLToPath(new URL('../dist/index.js', import.meta.url)),
      exportName: 'createNativeChangeSource',
      options: { awaitWatcher: false },
    },
  },
);
