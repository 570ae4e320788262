// The admin token for `npm start`: ADMIN_TOKEN if set, else the one kept in <DATA_DIR>/admin-token
// (mode 0600), else a new one written there, so a restart keeps working credentials.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface AdminToken {
  token: string;
  from: 'env' | 'file' | 'generated';
  file: string;
}

/** A new admin token: 32 random bytes, base64url (43 characters). */
function newAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

export function resolveAdminToken(dataDir: string, fromEnv: string | undefined): AdminToken {
  const file = path.join(dataDir, 'admin-token');
  if (fromEnv) return { token: fromEnv, from: 'env', file };
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 16) {
      // Whoever could read it could act as admin: keep it private even if it was copied loosely.
      if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
      return { token, from: 'file', file };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = newAdminToken();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600); // mode applies only to a new file; an empty or short old one is replaced
  return { token, from: 'generated', file };
}
