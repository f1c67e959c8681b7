import type { PlanDefinition } from '../plan/definition';
import type { ActivityDeps } from './deps';

/** The plan as this worker loaded and validated it; a new project pins it in its state. */
export function planDefinitionActivities(deps: ActivityDeps) {
  return {
    async loadPlan(): Promise<PlanDefinition> {
      return deps.project.plan;
    },
  };
}
