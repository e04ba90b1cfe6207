import { BinaryCopyLines, isCopyOutLines } from './copy-out-lines';

/** A binary COPY stream of one text column holding `values`, as PostgreSQL writes it. */
function binaryCopy(values: readonly string[], extension = Buffer.alloc(0)): Buffer {
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), int32(0), int32(extension.length), extension];
  for (const value of values) {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(int16(1), int32(bytes.length), bytes);
  }
  parts.push(int16(-1));
  return Buffer.concat(parts);
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

const VALUES = ['{"resourceType":"Patient","id":"a"}', '{"text":"caf\u00e9 \\"quoted\\" \\\\ back"}', '', 'x'.repeat(300_000)];

describe('BinaryCopyLines', () => {
  it('gives each value’s bytes followed by a newline, whatever pieces the stream arrives in', () => {
    const stream = binaryCopy(VALUES, Buffer.from('ext'));
    const expected = Buffer.from(VALUES.map((v) => `${v}\n`).join(''), 'utf8');
    for (const size of [1, 2, 3, 7, 64, 4096, stream.length]) {
      const lines = new BinaryCopyLines();
      for (let at = 0; at < stream.length; at += size) {
        // The driver may reuse its buffer after each piece: scribble over it to prove nothing was kept by reference.
        const piece = Buffer.from(stream.subarray(at, at + size));
        lines.push(piece);
        piece.fill(0);
      }
      expect([Buffer.concat(lines.finish()).equals(expected), lines.count, lines.bytes]).toEqual([true, VALUES.length, expected.length]);
    }
  });

  it('refuses a stream cut short, a null, several columns and another format', () => {
    const cut = new BinaryCopyLines();
    cut.push(binaryCopy(VALUES).subarray(0, 40));
    expect(() => cut.finish()).toThrow('COPY ended in the middle of a value');
    const withNull = Buffer.concat([binaryCopy([]).subarray(0, 19), int16(1), int32(-1), int16(-1)]);
    expect(() => new BinaryCopyLines().push(withNull)).toThrow('COPY of lines got a null value');
    const twoColumns = Buffer.concat([binaryCopy([]).subarray(0, 19), int16(2), int32(0), int32(0), int16(-1)]);
    expect(() => new BinaryCopyLines().push(twoColumns)).toThrow('COPY of lines takes one column, got 2');
    expect(() => new BinaryCopyLines().push(Buffer.from('a text COPY line of more than nineteen bytes\n'))).toThrow(
      'COPY did not answer in the binary format',
    );
  });

  it('answers nothing for an empty result', () => {
    const lines = new BinaryCopyLines();
    lines.push(binaryCopy([]));
    expect([lines.finish().length, lines.count]).toEqual([0, 0]);
  });
});

test('isCopyOutLines recognises a binary COPY out, and nothing else', () => {
  expect(isCopyOutLines('copy (\n select content from resource order by id) to stdout (format binary)')).toBe(true);
  expect(isCopyOutLines('COPY (select 1) TO STDOUT (FORMAT BINARY)')).toBe(true);
  expect(isCopyOutLines('copy (select 1) to stdout')).toBe(false);
  expect(isCopyOutLines('select 1')).toBe(false);
  expect(isCopyOutLines('copy resource to stdout (format binary)')).toBe(false);
});
