import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * Bundles the workflows once, at image build (Dockerfile) or install time (deploy/systemd), so a worker start does not
 * run webpack: node dist/scripts/bundle-workflows.js [out] (default dist/workflow-bundle.js). The worker loads it when
 * WORKFLOW_BUNDLE names it. It must be made by the same @temporalio/worker version the worker runs.
 */
async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'workflow-bundle.js'));
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  fs.writeFileSync(out, code);
  process.stdout.write(`bundle-workflows: ${out} (${code.length} bytes)\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
