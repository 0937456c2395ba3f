import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLines, requestOf, responseIdOf } from '../src/supervisor/json-rpc.js';

const line = (text: string) => Buffer.from(`${text}\n`);

describe('requestOf', () => {
  it('reads the method and id of a request in the layout the SDKs write, and agrees with JSON.parse whenever it answers', () => {
    expect(requestOf(line('{"method":"tools/call","params":{"name":"x"},"jsonrpc":"2.0","id":3}'))).toEqual({
      method: 'tools/call',
      id: 3,
    });
    const cases = [
      '{"method":"tools/call","params":{"id":1},"jsonrpc":"2.0","id":2}',
      '{"method":"tools/call","params":{"text":",\\"id\\":5}"},"id":6}',
      '{"method":"a","params":{},"id":1,"id":7}',
      '{"method":"x","method":"initialize","jsonrpc":"2.0","id":8}',
      '{"method":"tools/call","params":{"arguments":{"method":"initialize"}},"id":9}',
      '{"method":"a\\"b","jsonrpc":"2.0","id":10}',
      '{"method":"notifications/progress","params":{"id":11}}',
      '{"method":"ping","jsonrpc":"2.0","id":"s-12"}',
      '{"jsonrpc":"2.0","method":"ping","id":13}',
      '{"method":"ping","id":014}',
      '{"method":"ping","jsonrpc":"2.0","id":15}\r',
    ];
    const read = cases.map((text) => requestOf(line(text)));
    for (const [i, text] of cases.entries()) {
      const answer = read[i];
      if (answer === undefined) continue;
      let parsed: { method?: unknown; id?: unknown } | undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      expect(answer, text).toEqual({ method: parsed?.method, id: parsed?.id });
    }
    expect(read.map((answer) => answer?.id)).toEqual([
      2,
      6,
      7,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      15,
    ]);
  });
});

describe('responseIdOf', () => {
  it('reads the id of a response in the layout the SDKs write', () => {
    expect(responseIdOf(line('{"result":{"content":[{"type":"text","text":"pong"}]},"jsonrpc":"2.0","id":42}'))).toBe(
      42,
    );
    expect(responseIdOf(line('{"result":{},"jsonrpc":"2.0","id":0}'))).toBe(0);
  });

  it('agrees with JSON.parse whenever it answers, and leaves every other shape to it', () => {
    const cases = [
      '{"result":{"id":1},"jsonrpc":"2.0","id":2}',
      '{"result":{"x":{"id":3}},"jsonrpc":"2.0","id":4}',
      '{"result":{"text":",\\"id\\":5}"},"id":6}',
      '{"result":{},"id":1,"id":7}',
      '{"result":{"nested":{"id":8}}}',
      '{"result":{"text":"a,\\"id\\":9"}}',
      '{"jsonrpc":"2.0","id":10,"error":{"code":-32000,"message":"x"}}',
      '{"result":{},"jsonrpc":"2.0","id":"s-11"}',
      '{"result":{},"jsonrpc":"2.0","id":-12}',
      '{"result":{},"jsonrpc":"2.0","id":1.5}',
      '{"result":{},"jsonrpc":"2.0","id":1e3}',
      '{"method":"notifications/progress","params":{"id":13}}',
      '{"method":"sampling/createMessage","params":{},"jsonrpc":"2.0","id":14}',
      '{"result":{},"jsonrpc":"2.0","id":15} ',
      '{"result":{},"jsonrpc":"2.0","id":12345678901234567890}',
    ];
    const read = cases.map((text) => responseIdOf(line(text)));
    for (const [i, text] of cases.entries()) {
      const id = read[i];
      if (id === undefined) continue;
      const parsed = JSON.parse(text) as { id: unknown; result?: unknown; method?: unknown };
      expect(parsed.id).toBe(id);
      expect(parsed.result).toBeDefined();
      expect(parsed.method).toBeUndefined();
    }
    expect(read).toEqual([2, 4, 6, 7, ...Array(11).fill(undefined)]);
  });
});

describe('readLines', () => {
  it('hands over each line with its newline, across chunks and at the end', async () => {
    const input = new PassThrough();
    const lines: string[] = [];
    readLines(input, (l) => lines.push(l.toString()));
    input.write('{"a":1}\n{"b":');
    input.write('2');
    input.write('}\n{"c":3}\n{"d"');
    input.end(':4}');
    await new Promise((resolve) => input.on('end', resolve));
    expect(lines).toEqual(['{"a":1}\n', '{"b":2}\n', '{"c":3}\n', '{"d":4}']);
  });
});
