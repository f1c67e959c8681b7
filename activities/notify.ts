import { ApplicationFailure } from '@temporalio/activity';
import type { NotificationKind } from '../workflows/plan-messages';
import type { ActivityDeps } from './deps';

/**
 * 提醒与督办 Reminders and escalations, through the configured channel: a webhook (JSON POST, e.g. a
 * chat-bot or mail gateway) or, without one, the worker's log. The notification's key travels as
 * Idempotency-Key, so a receiver can drop the duplicate a retried delivery may produce.
 */
export interface PlanNotification {
  key: string;
  kind: NotificationKind;
  workflowId: string;
  planId: string;
  subject: string;
  /** the role whose people should act */
  ownerRole?: string;
  dueAt?: string;
  waitingFor?: string;
}

export function notifyActivities(deps: ActivityDeps) {
  return {
    async notifyPlan(n: PlanNotification): Promise<{ channel: 'webhook' | 'log' }> {
      const url = deps.settings.NOTIFY_WEBHOOK_URL;
      if (!url) {
        deps.logger[n.kind === 'reminder' || n.kind === 'milestone-reached' ? 'info' : 'warn']({ notification: n }, n.subject);
        return { channel: 'log' };
      }
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'idempotency-key': n.key },
        body: JSON.stringify(n),
        signal: AbortSignal.timeout(10_000),
      });
      await res.body?.cancel();
      if (res.ok) return { channel: 'webhook' };
      // The URL itself may carry a token: name the status only.
      const message = `the notification webhook answered ${res.status}`;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw ApplicationFailure.nonRetryable(message, 'WebhookRefused');
      throw new Error(message);
    },
  };
}
