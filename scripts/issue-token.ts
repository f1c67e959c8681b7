import { ensureDatabase, withClient } from '../lib/db';
import { ensureRunbookSchema, issueToken, Role } from '../lib/runbook-db';
import { loadSettings } from '../lib/settings';

/**
 * Bootstrap admin command: npm run token -- <user> <role>. Prints the new bearer token once; only its hash
 * is kept. It needs the runbook database itself, so it issues the first admin token; after that admins
 * issue, list and revoke tokens through the API (POST/GET/DELETE /admin/tokens, the CLI's token commands).
 */
async function main() {
  const [user, role] = process.argv.slice(2);
  if (!user || !role) throw new Error('usage: npm run token -- <user> <viewer|operator|approver|admin>');
  const settings = loadSettings(process.env, { signing: false }); // signs and checks no decision: needs no signing key
  await ensureDatabase(settings.RUNBOOK_DATABASE_URL);
  const token = await withClient(settings.RUNBOOK_DATABASE_URL, async (c) => {
    await ensureRunbookSchema(c);
    return (await issueToken(c, user, role as Role)).token;
  });
  process.stdout.write(token + '\n');
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
