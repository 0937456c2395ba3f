// `import.meta.hot` exists when the server runs under `hotmcp dev`, and is undefined under plain node.
interface ImportMeta {
  readonly hot?: {
    /** One object per module, kept from each version to the next. */
    readonly data: Record<string, unknown>;
    /** Runs when this version of the module is replaced. */
    dispose(callback: (data: Record<string, unknown>) => void | Promise<void>): void;
  };
}
