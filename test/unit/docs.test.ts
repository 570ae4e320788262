// The README stays short and inside the repository; the documents in docs/ are all reachable from
// its index, and every relative link and anchor in them points at something that exists.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const README = path.join(ROOT, 'README.md');
const DOCS = fs
  .readdirSync(path.join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => path.join(ROOT, 'docs', f));

/** The text outside fenced code blocks and code spans, where Markdown links live. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

function links(markdown: string): string[] {
  const text = prose(markdown);
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g), ...text.matchAll(/<(https?:[^>]+)>/g)].map((m) => m[1]);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const headings = markdown.replace(/^```[\s\S]*?^```/gm, '').match(/^#{1,6} .*$/gm) ?? [];
  return new Set(
    headings.map((h) =>
      h
        .replace(/^#+ /, '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('the README', () => {
  const readme = fs.readFileSync(README, 'utf8');

  it('is under 10 KB', () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(10 * 1024);
  });

  it('links nothing outside the repository', () => {
    const outside = links(readme).filter(
      (l) =>
        /^[a-z][a-z0-9+.-]*:/i.test(l) || l.startsWith('//') || path.relative(ROOT, path.resolve(ROOT, l.split('#')[0])).startsWith('..'),
    );
    expect(outside).toEqual([]);
  });

  it('indexes every document in docs/', () => {
    const linked = new Set(links(readme).map((l) => path.resolve(ROOT, l.split('#')[0])));
    expect(DOCS.filter((d) => !linked.has(d)).map((d) => path.relative(ROOT, d))).toEqual([]);
  });
});

describe('the README and docs/*.md', () => {
  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of [README, ...DOCS]) {
      for (const link of links(fs.readFileSync(file, 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // outside links: checked for the README above
        const [target, anchor] = link.split('#');
        const resolved = target ? path.resolve(path.dirname(file), target) : file;
        if (!fs.existsSync(resolved)) broken.push(`${path.relative(ROOT, file)}: ${link} (no such file)`);
        else if (anchor && resolved.endsWith('.md') && !anchors(fs.readFileSync(resolved, 'utf8')).has(anchor)) {
          broken.push(`${path.relative(ROOT, file)}: ${link} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
