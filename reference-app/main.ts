import { loadSettings } from '../lib/settings';
import { buildReferenceApp } from './app';

/** The reference business system for the demo: REFERENCE_APP_PORT (default 3100) over TARGET_DATABASE_URL. */
async function main(): Promise<void> {
  const settings = loadSettings(process.env, { signing: false }); // signs and checks no decision: needs no signing key
  const app = await buildReferenceApp({ targetUrl: settings.TARGET_DATABASE_URL, logLevel: settings.LOG_LEVEL });
  const close = async () => {
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
  const address = await app.listen({ host: settings.API_HOST, port: Number(process.env.REFERENCE_APP_PORT ?? 3100) });
  console.log(`reference business system ready 参考业务系统就绪 ${address}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
