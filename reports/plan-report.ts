import { chinaDay, PlanProgress } from '../workflows/plan-progress';
import { escapeHtml as esc, htmlPage } from '../lib/html';

/**
 * 项目周报 The weekly status report, as Markdown (for the meeting notes) and HTML (for mail),
 * from the plan's progress: milestones, packages, late items and whom they wait for, re-baselines.
 */
type Table = { head: string[]; rows: string[][] };

function sections(p: PlanProgress): { title: string; table?: Table; text?: string }[] {
  return [
    {
      title: '里程碑 Milestones',
      table: {
        head: ['里程碑 Milestone', '到期 Due', '状态 Status', '阶段成果 Deliverable'],
        rows: p.milestones.map((m) => [m.title, chinaDay(m.dueAt), m.status === 'reached' ? `已达成 reached ${chinaDay(m.reachedAt!)}` : m.status === 'late' ? '逾期 late' : '未到期 pending', m.deliverable]),
      },
    },
    {
      title: '工作包 Work packages',
      table: { head: ['工作包 Package', '完成 Done', '%'], rows: p.packages.map((k) => [k.title, `${k.done}/${k.total}`, String(k.percent)]) },
    },
    p.late.length
      ? {
          title: '逾期事项 Late items',
          table: {
            head: ['事项 Item', '责任角色 Owner', '到期 Due', '逾期天数 Days late', '等待 Waiting for'],
            rows: p.late.map((i) => [i.title, i.ownerRole, chinaDay(i.dueAt), String(i.daysLate), i.waitingFor ?? '']),
          },
        }
      : { title: '逾期事项 Late items', text: '无 None.' },
    {
      title: '全部事项 All items',
      table: {
        head: ['事项 Item', '状态 Status', '到期 Due', '完成 Done by'],
        rows: p.items.map((i) => [i.title, i.status, chinaDay(i.dueAt), i.doneBy ? `${i.doneBy} ${chinaDay(i.doneAt!)}` : '']),
      },
    },
    p.rebaselines.length
      ? {
          title: '计划调整 Re-baselines',
          table: { head: ['事项 Item', '原到期 From', '新到期 To', '调整人 By', '原因 Why'], rows: p.rebaselines.map((r) => [r.item, chinaDay(r.from), chinaDay(r.to), r.by, r.reason]) },
        }
      : { title: '计划调整 Re-baselines', text: '无 None.' },
  ];
}

function heading(p: PlanProgress): string {
  return `项目周报 Status report — ${p.name}`;
}

function summary(p: PlanProgress): string {
  return `Plan ${p.planId} · T0 ${p.t0} · as of ${chinaDay(p.asOf)} · 总体进度 overall ${p.percent}% · 当前阶段 phase ${p.phase} · 逾期 late ${p.late.length}`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderStatusMarkdown(p: PlanProgress): string {
  const out = [`# ${heading(p)}`, '', summary(p)];
  for (const s of sections(p)) {
    out.push('', `## ${s.title}`, '');
    if (s.table) {
      out.push(`| ${s.table.head.map(mdCell).join(' | ')} |`, `|${s.table.head.map(() => '---').join('|')}|`);
      for (const r of s.table.rows) out.push(`| ${r.map(mdCell).join(' | ')} |`);
    } else out.push(s.text!);
  }
  return out.join('\n') + '\n';
}

export function renderStatusHtml(p: PlanProgress): string {
  const body = sections(p)
    .map((s) =>
      s.table
        ? `<h2>${esc(s.title)}</h2>\n<table>\n<tr>${s.table.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>\n${s.table.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}\n</table>`
        : `<h2>${esc(s.title)}</h2>\n<p>${esc(s.text!)}</p>`,
    )
    .join('\n');
  return htmlPage(heading(p), `<h1>${esc(heading(p))}</h1>
<p>${esc(summary(p))}</p>
${body}`);
}
