import { binaryCopyRows, CopyOutQuery, type CopyOutResult } from './copy-out-query';

/** PostgreSQL's binary COPY of one-column rows: header, then each row, then the trailer. */
function binaryCopy(rows: (Buffer | null)[]): Buffer {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const body = rows.map((row) => {
    const head = Buffer.alloc(6);
    head.writeInt16BE(1, 0);
    head.writeInt32BE(row ? row.length : -1, 2);
    return row ? Buffer.concat([head, row]) : head;
  });
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1, 0);
  return Buffer.concat([header, ...body, trailer]);
}

/** Feeds the COPY to a query in chunks of `size` bytes, each chunk in a buffer overwritten afterwards (as pg reuses its own). */
function run(copy: Buffer, size: number): { err: Error | null; result?: CopyOutResult } {
  let answer: { err: Error | null; result?: CopyOutResult } | undefined;
  const query = new CopyOutQuery('copy ...', (err, result) => (answer = { err, result }));
  const reused = Buffer.alloc(size);
  for (let at = 0; at < copy.length; at += size) {
    const n = copy.copy(reused, 0, at, at + size);
    query.handleCopyData({ chunk: reused.subarray(0, n) });
    reused.fill(0xee);
  }
  query.handleCommandComplete({ text: 'COPY 3' });
  query.handleReadyForQuery();
  return answer!;
}

test('rows come back byte for byte however the messages cut them, copied out of the reused buffer', () => {
  const rows = [Buffer.from('first part'), null, Buffer.alloc(5000, 7)];
  for (const size of [1, 5, 19, 4096, 1 << 20]) {
    const { err, result } = run(binaryCopy(rows), size);
    expect(err).toBeNull();
    expect(result!.rowCount).toBe(3);
    expect(result!.rows).toEqual([{ data: rows[0] }, { data: null }, { data: rows[2] }]);
  }
});

test('a COPY without its trailer, or not in the binary format, is an error', () => {
  const whole = binaryCopy([Buffer.from('x')]);
  expect(run(whole.subarray(0, whole.length - 2), 64).err?.message).toBe('A binary COPY ended before its trailer');
  expect(run(Buffer.from('1\tx\n'.repeat(8)), 64).err?.message).toBe('A binary COPY did not start with its signature');
});

test('a whole COPY (from PGlite /dev/blob) reads as its rows, each a view of the bytes it came in', () => {
  const rows = [Buffer.from('first part'), null, Buffer.alloc(5000, 7), Buffer.alloc(0)];
  const copy = binaryCopy(rows);
  const read = binaryCopyRows(copy);
  expect(read).toEqual([{ data: rows[0] }, { data: null }, { data: rows[2] }, { data: Buffer.alloc(0) }]);
  expect(read[0].data!.buffer).toBe(copy.buffer);
  expect(() => binaryCopyRows(copy.subarray(0, copy.length - 2))).toThrow('A binary COPY ended before its trailer');
  expect(() => binaryCopyRows(Buffer.from('1\tx\n'.repeat(8)))).toThrow('A binary COPY did not start with its signature');
});
