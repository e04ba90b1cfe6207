/** Parsed command-line arguments: the command, its positional arguments and --flags. */
export interface CliArgs {
  readonly command: string;
  readonly positional: string[];
  readonly flags: Record<string, string | true>;
}

/** Parses `chartkeeper <command> [args] [--flag[=value]] [--flag value]`. */
export function parseArgs(
  argv: string[],
  valued: readonly string[] = ['data-dir', 'sub', 'ttl', 'name', 'redirect-uri', 'jwks', 'organization'],
): CliArgs {
  const [command = 'help', ...rest] = argv;
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (inline !== undefined) flags[name] = inline;
    else if (valued.includes(name) && i + 1 < rest.length) flags[name] = rest[++i];
    else flags[name] = true;
  }
  return { command, positional, flags };
}
