// otpkit serve and otpkit migrate: the server, and its schema, from the environment.

import { type CliIo, EXIT } from './io.js';
import { parse, parseWhole } from './options.js';

async function serve(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { port: { type: 'string' }, host: { type: 'string' } }, 0);
  const address = await io.serve({ port: parseWhole('port', values.port, 0, 65_535), host: values.host });
  io.stderr(
    `otpkit listening on ${address}\n  open ${address}/ to sign up and turn on 2FA; API docs at ${address}/docs\n`,
  );
  return EXIT.OK;
}

async function migrate(args: string[], io: CliIo): Promise<number> {
  parse(args, {}, 0);
  const opened = await io.openService();
  await opened.close();
  io.stdout(opened.applied.length > 0 ? `applied ${opened.applied.join(', ')}\n` : 'the database is up to date\n');
  return EXIT.OK;
}

export { migrate, serve };
