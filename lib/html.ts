/**
 * HTML for people who open reports in a browser or mail client: the plan's weekly report is built
 * as HTML directly; the Markdown reports the worker writes (evidence pack, verification report,
 * failure analysis) are converted, for the subset of Markdown those reports use — headings, lists,
 * pipe tables and paragraphs. Everything from the report is escaped: it holds operators' comments.
 */
export const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;text-align:left}</style></head>
<body>${body}
</body></html>
`;
}

const inline = (s: string) => escapeHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>');

/** Cells of a pipe-table row; "\|" inside a cell is a literal bar. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));
}

export function markdownToHtml(markdown: string, fallbackTitle: string): string {
  const lines = markdown.split(/\r?\n/);
  const out: string[] = [];
  let title = fallbackTitle;
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      if (heading[1].length === 1 && title === fallbackTitle) title = heading[2];
      out.push(`<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`);
      i++;
    } else if (line.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i].startsWith('|'); i++) if (!/^\|[\s|:-]+\|$/.test(lines[i])) rows.push(cells(lines[i]));
      const [head, ...body] = rows;
      out.push(
        `<table>\n<tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr>\n${body.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('\n')}\n</table>`,
      );
    } else if (/^[-*]\s/.test(line)) {
      const items: string[] = [];
      for (; i < lines.length && /^[-*]\s/.test(lines[i]); i++) items.push(`<li>${inline(lines[i].slice(2))}</li>`);
      out.push(`<ul>\n${items.join('\n')}\n</ul>`);
    } else if (line.trim()) {
      const para: string[] = [];
      for (; i < lines.length && lines[i].trim() && !/^(#|\||[-*]\s)/.test(lines[i]); i++) para.push(inline(lines[i]));
      out.push(`<p>${para.join('<br>\n')}</p>`);
    } else i++;
  }
  return htmlPage(title, '\n' + out.join('\n'));
}
