/**
 * A reloader composed by hand: every port is registered under its token in a
 * child container of our own, then the engine is built on top. This is what
 * createReloader() does for you; doing it yourself lets you swap any part.
 */
import { createSdkV2Adapter } from '@hotmcp/adapter-sdk-v2';
import {
  assertAdapter,
  createContainer,
  createReloaderFromContainer,
  NativeEsmModuleLoader,
  type Reloader,
  registerClass,
  registerFactory,
  registerValue,
  resolveSettings,
  TOKENS,
} from '@hotmcp/core';
import { createPollChangeSource } from '@hotmcp/watcher-poll';
import type { McpServer } from '@modelcontextprotocol/server';
import { JsonFileAuditSink } from './json-file-audit-sink.js';

export interface ComposeOptions {
  /** The folder of tool modules. */
  root: string;
  /** Where the custom audit sink writes its JSON lines. */
  auditFile: string;
  /** How often the polling change source looks, in ms. */
  pollIntervalMs: number;
}

/** Extra deny globs: drafts and `*.wip.ts` files are watched but never loaded. */
export const DENY = ['drafts/**', '**/*.wip.ts'];

export function composeReloader(server: McpServer, options: ComposeOptions): Reloader {
  // Settings every port shares; resolveSettings checks them as createReloader would.
  const settings = resolveSettings({ root: options.root, deny: DENY });

  // A child container of our own: nothing is registered on tsyringe's global container.
  const container = createContainer();

  // TOKENS.settings — a ready value.
  registerValue(container, TOKENS.settings, settings);

  // TOKENS.changeSource — polling with its own interval, built by a factory on first resolve.
  registerFactory(container, TOKENS.changeSource, (resolve) =>
    createPollChangeSource({ ...resolve(TOKENS.settings), intervalMs: options.pollIntervalMs }),
  );

  // TOKENS.auditSink — our own class (see json-file-audit-sink.ts). A factory, so no decorators.
  registerFactory(
    container,
    TOKENS.auditSink,
    (resolve) => new JsonFileAuditSink(options.auditFile, resolve(TOKENS.settings).root),
  );

  // TOKENS.moduleLoader — core's class, whose constructor parameters carry @inject(TOKENS.settings)
  // and @inject(TOKENS.auditSink): the container hands it the settings and our sink.
  registerClass(container, TOKENS.moduleLoader, NativeEsmModuleLoader);

  // TOKENS.registryAdapter — the SDK 2.x adapter, checked against the adapter contract first.
  const adapter = createSdkV2Adapter(server);
  assertAdapter(adapter);
  registerValue(container, TOKENS.registryAdapter, adapter);

  return createReloaderFromContainer(container);
}
