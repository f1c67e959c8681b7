import { redactUrl, loadSettings } from '../lib/settings';
import { ensureTargetDatabase, registerTarget } from '../lib/target-guard';

/**
 * 登记目标库 Admin command: npm run register-target -- <your-name>. Marks TARGET_DATABASE_URL's database
 * as the cutover target, the only database the wipe, snapshot and rollback steps will touch.
 */
async function main() {
  const [actor] = process.argv.slice(2);
  if (!actor) throw new Error('usage: npm run register-target -- <your user name>');
  const settings = loadSettings(process.env, { signing: false }); // signs and checks no decision: needs no signing key
  await ensureTargetDatabase(settings.TARGET_DATABASE_URL, settings.TARGET_DIALECT);
  const id = await registerTarget(settings.TARGET_DATABASE_URL, settings.LEGACY_DATABASE_URL, actor, settings.TARGET_DIALECT);
  process.stdout.write(`registered ${redactUrl(settings.TARGET_DATABASE_URL)} as the cutover target (database ${id.database}, system ${id.systemIdentifier}) by ${actor}\n`);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
