// `npm run docs:config`: writes the variable tables of docs/configuration.md from the schemas that
// read them (EnvSchema and CliEnvSchema in src/config-schema.ts): each entry's `description`, and its
// `default` (or `docDefault` where the default is unset, computed or another variable's), so the
// document cannot drift from the code. `npm run docs:config -- --check` only compares, and exits 1
// when the file differs; test/unit/config.test.ts checks the same.
import fs from 'node:fs';
import path from 'node:path';
import type { TObject, TSchema } from '@sinclair/typebox';
import { CliEnvSchema, EnvSchema } from '../src/config-schema';

function projectRoot(dir = __dirname): string {
  return fs.existsSync(path.join(dir, 'package.json')) ? dir : projectRoot(path.dirname(dir));
}

export const CONFIG_DOC = path.join(projectRoot(), 'docs', 'configuration.md');

/** The generated sections: each lies between its two markers in docs/configuration.md. */
const SECTIONS: { name: string; schema: TObject }[] = [
  { name: 'EnvSchema', schema: EnvSchema },
  { name: 'CliEnvSchema', schema: CliEnvSchema },
];

const begin = (name: string) => `<!-- BEGIN GENERATED from ${name} in src/config-schema.ts by npm run docs:config; do not edit -->`;
const end = (name: string) => `<!-- END GENERATED from ${name} -->`;

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One Markdown table row per variable, in the schema's order. */
export function configTable(schema: TObject): string {
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties).map(([key, prop]: [string, TSchema]) => {
    if (typeof prop.description !== 'string' || prop.description.trim() === '') throw new Error(`${key} has no description`);
    let def: string;
    if (typeof prop.docDefault === 'string') def = prop.docDefault;
    else if (prop.default !== undefined) def = `\`${String(prop.default)}\``;
    else if (!required.has(key)) def = 'unset';
    else throw new Error(`${key} has neither a default nor a docDefault`);
    return `| \`${key}\` | ${cell(def)} | ${cell(prop.description)} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** `doc` with every generated section replaced by what the schemas say now. */
export function renderConfigDoc(doc: string): string {
  let out = doc;
  for (const { name, schema } of SECTIONS) {
    const from = out.indexOf(begin(name));
    const to = out.indexOf(end(name));
    if (from < 0 || to < from) throw new Error(`docs/configuration.md lacks the markers of ${name}:\n${begin(name)}\n${end(name)}`);
    out = `${out.slice(0, from)}${begin(name)}\n\n${configTable(schema)}\n\n${out.slice(to)}`;
  }
  return out;
}

function main(): void {
  const current = fs.readFileSync(CONFIG_DOC, 'utf8');
  const wanted = renderConfigDoc(current);
  if (process.argv.includes('--check')) {
    if (current !== wanted) {
      process.stderr.write(`${path.relative(process.cwd(), CONFIG_DOC)} is out of date: run npm run docs:config\n`);
      process.exit(1);
    }
    return;
  }
  if (current !== wanted) fs.writeFileSync(CONFIG_DOC, wanted);
  process.stdout.write(`${path.relative(process.cwd(), CONFIG_DOC)}: ${current === wanted ? 'up to date' : 'written'}\n`);
}

if (require.main === module) main();
