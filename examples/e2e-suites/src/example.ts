/** What a suite needs of an example: its harness and the few things its SDK does differently. */

/** A temp copy of the example's tools folder (the harness's `createSandbox`). */
export interface Sandbox {
  dir: string;
  toolsDir: string;
  auditLog: string;
  /** Write a file under the tools folder (path relative to it). */
  write(relative: string, content: string | Uint8Array): Promise<void>;
  remove(relative: string): Promise<void>;
  read(relative: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** The SDK Client calls the suites make, as both SDK majors' clients have them. */
export interface ExampleClient {
  listTools(): Promise<{ tools: Array<{ name: string; description?: string }> }>;
  setLoggingLevel(level: 'critical'): Promise<unknown>;
}

/** The example server under the SDK Client over stdio (the harness's `connect`). */
export interface ExampleSession<C extends ExampleClient = ExampleClient> {
  client: C;
  waitForListChanged(count: number): Promise<void>;
  close(): Promise<void>;
}

/** The params of a notifications/message. */
export type LogParams = { level: string; logger?: string; data: Record<string, unknown> };

/** One SDK example, as a suite runs it. */
export interface ExampleUnderTest<C extends ExampleClient = ExampleClient> {
  /** Named in the suites' titles, e.g. 'SDK v1'. */
  sdk: string;
  /** The built server entry the harness starts. */
  serverEntry: string;
  /** The protocol version the raw JSON-RPC client of the stdout suite asks for in `initialize`. */
  protocolVersion: string;
  createSandbox(): Promise<Sandbox>;
  /** Start the server on the sandbox with extra environment and connect the SDK Client. */
  connect(sandbox: Sandbox, env: Record<string, string>): Promise<ExampleSession<C>>;
  /** The text of a tool call's first content item. */
  callText(client: C, name: string, args?: Record<string, unknown>): Promise<string>;
  /** Hand every notifications/message the client receives to `handler`. */
  onLogMessage(client: C, handler: (params: LogParams) => void): void;
  /** A tool module answering `${greeting} ${name}`, with a schema in the form the SDK takes. */
  greetTool(name: string, greeting: string): string;
  /** hotmcp_status's entries for the example's modules that hold no tool (prompts, resources). */
  otherModules: ReadonlyArray<Record<string, unknown>>;
}
