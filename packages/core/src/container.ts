import 'reflect-metadata';
import { type DependencyContainer, instanceCachingFactory, Lifecycle, container as rootContainer } from 'tsyringe';
import { HotMcpError } from './errors.js';
import type { Token } from './tokens.js';

/** A new child container for one reloader; library code never registers on the global one. */
export function createContainer(parent?: DependencyContainer): DependencyContainer {
  return (parent ?? rootContainer).createChildContainer();
}

/** Register a ready value under a port token. */
export function registerValue<T>(container: DependencyContainer, token: Token<T>, value: T): void {
  container.register(token, { useValue: value });
}

/** Register a factory under a port token; it runs once, on first resolve. No decorators needed. */
export function registerFactory<T>(
  container: DependencyContainer,
  token: Token<T>,
  factory: (resolve: <U>(token: Token<U>) => U) => T,
): void {
  container.register(token, {
    useFactory: instanceCachingFactory((c) => factory((t) => c.resolve(t))),
  });
}

/**
 * Register a class whose constructor parameters all carry `@inject(token)`.
 * A parameter without a token would silently receive `undefined` under
 * esbuild-based tools (no decorator metadata), so that is an error here.
 */
export function registerClass<T>(
  container: DependencyContainer,
  token: Token<T>,
  implementation: new (...args: never[]) => T,
): void {
  const injected = Reflect.getOwnMetadata('injectionTokens', implementation) as Record<string, unknown> | undefined;
  const count = injected ? Object.keys(injected).length : 0;
  if (count !== implementation.length) {
    throw new HotMcpError(
      'HOTMCP_ERR_INJECTION',
      `${implementation.name} has ${implementation.length} constructor parameter(s) but ${count} @inject() token(s); give every parameter an explicit token`,
    );
  }
  container.register(
    token,
    { useClass: implementation as new (...args: unknown[]) => T },
    { lifecycle: Lifecycle.ContainerScoped },
  );
}

/** Resolve a port token with its type. */
export function resolveToken<T>(container: DependencyContainer, token: Token<T>): T {
  return container.resolve<T>(token);
}
