import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveAdminToken } from '../../src/launcher/admin-token';

describe('the admin token of npm start', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'admin-token-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is generated once into DATA_DIR/admin-token with mode 0600 and reused', () => {
    const first = resolveAdminToken(dir, undefined);
    expect(first.from).toBe('generated');
    expect(first.token.length).toBeGreaterThanOrEqual(32);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    const second = resolveAdminToken(dir, undefined);
    expect(second).toEqual({ ...first, from: 'file' });
  });

  it('tightens a loosely readable file and prefers ADMIN_TOKEN from the environment', () => {
    const file = path.join(dir, 'admin-token');
    fs.chmodSync(file, 0o644);
    resolveAdminToken(dir, undefined);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveAdminToken(dir, 'from-the-environment-123')).toMatchObject({ token: 'from-the-environment-123', from: 'env' });
  });
});
