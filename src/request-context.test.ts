import { ContextSlot } from './request-context';

describe('ContextSlot', () => {
  it('carries each slot through awaits, the others keeping their values', async () => {
    const ids = new ContextSlot<string>('id');
    const scopes = new ContextSlot<number>('scope');
    const seen = await ids.run('req-1', () =>
      scopes.run(7, async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        const inner = scopes.run(undefined, () => [ids.get(), scopes.get()]);
        return [ids.get(), scopes.get(), ...inner];
      }),
    );
    expect(seen).toEqual(['req-1', 7, 'req-1', undefined]);
    expect([ids.get(), scopes.get()]).toEqual([undefined, undefined]);
  });

  it('keeps concurrent requests apart', async () => {
    const ids = new ContextSlot<string>('id');
    const read = (id: string, ms: number) =>
      ids.run(id, async () => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return ids.get();
      });
    expect(await Promise.all([read('a', 5), read('b', 1)])).toEqual(['a', 'b']);
  });
});
