/**
 * Today's workflows for a test's worker or replay: the bundle the test run made once (global-setup.ts,
 * TEST_WORKFLOW_BUNDLE), else the sources, bundled by the SDK at start.
 */
export function workflowCode(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  return codePath ? { workflowBundle: { codePath } } : { workflowsPath: require.resolve('../../workflows') };
}
