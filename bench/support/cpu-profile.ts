/** Reading a V8 CPU profile (`--cpu-prof`): its call tree, each sample's stack, and names for functions and where they live. */
import fs from 'node:fs';

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The profile in `file`, with the stack of a sampled node (leaf first; each computed once). */
export function readCpuProfile(file: string): { profile: CpuProfile; stackOf: (id: number) => readonly ProfileNode[] } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const stacks = new Map<number, ProfileNode[]>();
  const stackOf = (id: number): readonly ProfileNode[] => {
    let stack = stacks.get(id);
    if (!stack) {
      stack = [];
      for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) stack.push(byId.get(at)!);
      stacks.set(id, stack);
    }
    return stack;
  };
  return { profile, stackOf };
}

const shortUrl = (url: string): string =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '')
    .replace(/.*\/(src|bench)\//, '$1/');

/** A function as "name file:line", the file relative to node_modules, src/ or bench/. */
export const nameOf = (node: ProfileNode): string =>
  `${node.callFrame.functionName || '(anonymous)'} ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;

/** The package (node_modules), Node module or source file a function is in; "(native)" for native code. */
export const areaOf = (node: ProfileNode): string => {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const source = /\/((src|bench)\/.*)$/.exec(url);
  return source ? source[1] : url;
};
