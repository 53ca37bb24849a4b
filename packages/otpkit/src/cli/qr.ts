// otpkit qr URI: the key URI as a QR code, for the terminal, SVG or PNG.

import { qrPng, qrSvg, qrTerminal } from '../qr/index.js';
import { type CliIo, EXIT } from './io.js';
import { parse, readKeyUri, usage } from './options.js';

async function qr(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { format: { type: 'string' }, out: { type: 'string' } }, 1);
  const uri = positionals[0]!;
  readKeyUri(uri, 'qr', io); // a QR code of a broken URI helps no one
  const format = values.format ?? (io.stdoutIsTerminal && values.out === undefined ? 'terminal' : 'svg');
  let image: string | Uint8Array;
  if (format === 'terminal') image = await qrTerminal(uri);
  else if (format === 'svg') image = await qrSvg(uri);
  else if (format === 'png') image = await qrPng(uri);
  else throw usage('--format must be svg, png or terminal');
  if (values.out !== undefined) {
    await io.writePrivateFile(values.out, image);
  } else if (format === 'png' && io.stdoutIsTerminal) {
    throw usage('a PNG is not for a terminal: give --out FILE or redirect stdout');
  } else {
    io.stdout(image);
  }
  return EXIT.OK;
}

export { qr };
