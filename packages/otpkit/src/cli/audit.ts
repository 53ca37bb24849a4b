// otpkit audit [--user NAME] [--type T] [--since ISO] [--until ISO] [--json]:
// the audit log, oldest first, as the admin API reads it; every page of it.

import { type CliIo, EXIT } from './io.js';
import { parse } from './options.js';

async function audit(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    args,
    {
      user: { type: 'string' },
      type: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean' },
    },
    0,
  );
  const opened = await io.openService();
  try {
    const query = {
      ...(values.user === undefined ? {} : { username: values.user }),
      ...(values.type === undefined ? {} : { type: values.type }),
      ...(values.since === undefined ? {} : { since: values.since }),
      ...(values.until === undefined ? {} : { until: values.until }),
      limit: 200,
    };
    for (let cursor: string | undefined; ; ) {
      const page = await opened.service.auditLog({ ...query, ...(cursor ? { cursor } : {}) });
      for (const e of page.events) {
        if (values.json) {
          io.stdout(`${JSON.stringify(e)}\n`); // one event per line (JSON Lines)
          continue;
        }
        const who = e.username ?? e.userId ?? '-';
        const detail = e.detail === null ? '' : JSON.stringify(e.detail);
        io.stdout(`${[e.at, e.type, who, e.ip ?? '-', detail].join('\t')}\n`);
      }
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    return EXIT.OK;
  } finally {
    await opened.close();
  }
}

export { audit };
