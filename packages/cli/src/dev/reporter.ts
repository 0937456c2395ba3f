import {
  type AuditFields,
  type AuditSink,
  clientMessage,
  clientPath,
  failureReason,
  type ToolRegistryAdapter,
} from '@hotmcp/core';
import { callSite } from './call-site.js';
import { isRefusedExit } from './refuse-exits.js';

/** One thing `hotmcp dev` could not do, as it is told. */
export interface Problem {
  /** The audit event. */
  event: string;
  /** `HOTMCP_ERR_*`. */
  code: string;
  /** What went wrong, paths under the root made relative. */
  message: string;
  /** Absolute file, when known. */
  file?: string;
  /** 1-based line, when known. */
  line?: number;
  /** True when the edit could not be applied in place: the supervisor is told a restart would apply it. */
  restart: boolean;
}

/** The message a supervisor (a parent process with an IPC channel) receives when an edit needs a restart. */
export interface RestartNeededMessage {
  type: 'hotmcp:restart-needed';
  /** Why, in one line (paths relative to the project). */
  reason: string;
  /** The `HOTMCP_ERR_*` code. */
  code: string;
  /** Absolute path of the file at fault, when known. */
  file?: string;
  /** Its 1-based line, when known. */
  line?: number;
}

const RESTART_EVENTS = new Set(['module.failed', 'batch.failed', 'dev.uncaught']);
const TOLD_EVENTS = new Set([...RESTART_EVENTS, 'definition.rejected', 'module.uncaught']);

/**
 * Says what `hotmcp dev` could not do: one line on stderr, the audit log,
 * an MCP log message, and — when started with an IPC channel — a
 * `hotmcp:restart-needed` message to the parent.
 */
export class Reporter {
  /** The live server's adapter, once there is one: how clients get log messages. */
  adapter: ToolRegistryAdapter | undefined;
  private audit: AuditSink | undefined;

  constructor(private readonly root: string) {}

  /** One line on stderr, prefixed `hotmcp: `. */
  say(line: string): void {
    process.stderr.write(`hotmcp: ${line}\n`);
  }

  /** An audit sink that also tells every failure recorded in it. */
  wrap(sink: AuditSink): AuditSink {
    this.audit = sink;
    return {
      record: (event: string, fields?: AuditFields) => {
        sink.record(event, fields);
        if (TOLD_EVENTS.has(event)) this.tell(this.fromAudit(event, fields ?? {}));
      },
      close: () => sink.close(),
    };
  }

  /** Record and tell a problem found outside the engine. */
  problem(problem: Problem): void {
    this.audit?.record(problem.event, {
      code: problem.code,
      message: problem.message,
      ...(problem.file && { file: problem.file }),
      ...(problem.line && { line: problem.line }),
    });
    this.tell(problem);
    this.adapter?.sendLog?.({
      level: 'error',
      logger: 'hotmcp',
      data: { code: problem.code, message: problem.message },
    });
  }

  /**
   * Keep serving after an exception nothing caught (a re-evaluated module's
   * server failing to listen on a port already in use, say): the last good
   * version stays, and the failure is told like a failed reload.
   */
  installProcessHandlers(): void {
    const handle = (error: unknown) => {
      if (isRefusedExit(error)) return; // told as the failure of the evaluation that called process.exit
      const message = error instanceof Error ? error.message : String(error);
      this.problem({
        event: 'dev.uncaught',
        code: 'HOTMCP_ERR_RESTART_NEEDED',
        message: clientMessage(this.root, `uncaught: ${message}`),
        ...callSite(error instanceof Error ? error.stack : undefined, this.root),
        restart: true,
      });
    };
    process.on('uncaughtException', handle);
    process.on('unhandledRejection', handle);
  }

  private fromAudit(event: string, fields: AuditFields): Problem {
    const raw =
      typeof fields.message === 'string' ? fields.message : typeof fields.error === 'string' ? fields.error : event;
    return {
      event,
      code: typeof fields.code === 'string' ? fields.code : 'HOTMCP_ERR_LOAD_FAILED',
      message: clientMessage(this.root, raw),
      ...(typeof fields.file === 'string' && { file: fields.file }),
      ...(typeof fields.line === 'number' && { line: fields.line }),
      restart: RESTART_EVENTS.has(event),
    };
  }

  private tell(problem: Problem): void {
    const at = problem.file ? `${clientPath(this.root, problem.file)}${problem.line ? `:${problem.line}` : ''}: ` : '';
    // Where it points is said first: the loaders' "Failed to load …: " prefixes (one per importer) are not repeated.
    this.say(`${at}${at === '' ? problem.message : failureReason(problem.message)}`);
    if (problem.restart && typeof process.send === 'function') {
      const message: RestartNeededMessage = {
        type: 'hotmcp:restart-needed',
        reason: problem.message,
        code: problem.code,
        ...(problem.file && { file: problem.file }),
        ...(problem.line && { line: problem.line }),
      };
      try {
        process.send(message);
      } catch {
        // the parent went away: nothing to tell
      }
    }
  }
}
