/** A small Dockerfile reader: enough structure (stages, instructions, ARG defaults) for consistency tests. */

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string;
  /** The FROM argument as written (`${NODE_IMAGE}`, `runtime`, …). */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  // Join continuation lines, then drop comments and blank lines.
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const match = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`unreadable Dockerfile line: ${line}`);
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`unreadable FROM: ${line}`);
      stages.push({ name: from[2] ?? `stage-${stages.length}`, from: from[1]!, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (!current) {
      if (keyword !== 'ARG') throw new Error(`${keyword} before the first FROM`);
      const [name, value = ''] = args.split('=');
      globalArgs.set(name!, value);
      continue;
    }
    current.instructions.push({ keyword, args });
  }
  return { globalArgs, stages };
}

export function stage(dockerfile: Dockerfile, name: string): Stage {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`Dockerfile has no stage ${name}`);
  return found;
}

/** Instructions of `name` and of the stages it is built FROM, base first (what the final image inherits). */
export function inherited(dockerfile: Dockerfile, name: string): Instruction[] {
  const chain: Stage[] = [];
  for (let s: Stage | undefined = stage(dockerfile, name); s; ) {
    chain.unshift(s);
    const parent: string = s.from;
    s = dockerfile.stages.find((candidate) => candidate.name === parent);
  }
  return chain.flatMap((s) => s.instructions);
}

/** The last instruction with `keyword` in what the stage inherits (later ones override earlier ones). */
export function last(dockerfile: Dockerfile, name: string, keyword: string): Instruction | undefined {
  return inherited(dockerfile, name)
    .filter((i) => i.keyword === keyword)
    .at(-1);
}

/** The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD as an argv array. */
export function execForm(args: string): string[] {
  const start = args.indexOf('[');
  if (start < 0) throw new Error(`not in exec form: ${args}`);
  return JSON.parse(args.slice(start)) as string[];
}
