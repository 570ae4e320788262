// The launcher's own lines on the terminal, told apart from the children's by a prefix.
export const say = (line: string) => process.stdout.write(`[pipeline] ${line}\n`);
