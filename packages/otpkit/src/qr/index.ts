// QR codes for key URIs: SVG, PNG (bytes or a data: URL) and a block of text
// for a terminal, each scannable by a phone. Rendering is the qrcode package's.

import { OtpkitError } from '@otpkit/core';
import QRCode from 'qrcode';

// Error correction M (15% of the symbol may be lost) and the 4-module quiet
// zone ISO/IEC 18004 asks for, so a phone reads it off a screen or paper.
const BASE = { errorCorrectionLevel: 'M', margin: 4 } as const;
/** PNG pixels per module: 6 keeps the longest key URI (version 40) under 1,100 pixels. */
const PNG_SCALE = 6;

async function render<T>(draw: () => Promise<T>): Promise<T> {
  try {
    return await draw();
  } catch {
    throw new OtpkitError('OPTION_INVALID', 'the text is too long for a QR code');
  }
}

function checkText(text: string): void {
  if (typeof text !== 'string' || text === '') throw new OtpkitError('OPTION_INVALID', 'nothing to encode');
}

/** An SVG document (no width of its own: it scales to its box). */
async function qrSvg(text: string): Promise<string> {
  checkText(text);
  return render(() => QRCode.toString(text, { ...BASE, type: 'svg' }));
}

/** A PNG image. */
async function qrPng(text: string): Promise<Uint8Array> {
  checkText(text);
  return new Uint8Array(await render(() => QRCode.toBuffer(text, { ...BASE, type: 'png', scale: PNG_SCALE })));
}

/** A `data:image/png;base64,...` URL for an <img>. */
async function qrDataUrl(text: string): Promise<string> {
  checkText(text);
  return render(() => QRCode.toDataURL(text, { ...BASE, type: 'image/png', scale: PNG_SCALE }));
}

// A terminal cell holds two modules as a half block: dark modules are drawn in
// black on a white background, and the quiet zone is white too, so the code
// reads the same on a dark or a light terminal.
const QUIET_ZONE = 4;
const BLACK_ON_WHITE = '\u001b[47m\u001b[30m';
const RESET = '\u001b[0m';
const HALF_BLOCKS = [' ', '\u2584', '\u2580', '\u2588']; // none, lower, upper, both dark

/** The QR code as text for a terminal, two modules per character cell. */
async function qrTerminal(text: string): Promise<string> {
  checkText(text);
  const { modules } = await render(async () => QRCode.create(text, BASE));
  const { size } = modules;
  const dark = (row: number, col: number) =>
    row >= 0 && col >= 0 && row < size && col < size && Boolean(modules.get(row, col));
  let out = '';
  for (let row = -QUIET_ZONE; row < size + QUIET_ZONE; row += 2) {
    let line = '';
    for (let col = -QUIET_ZONE; col < size + QUIET_ZONE; col++) {
      line += HALF_BLOCKS[(dark(row, col) ? 2 : 0) + (dark(row + 1, col) ? 1 : 0)];
    }
    out += `${BLACK_ON_WHITE}${line}${RESET}\n`;
  }
  return out;
}

export { qrDataUrl, qrPng, qrSvg, qrTerminal };
