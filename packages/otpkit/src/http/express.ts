// otpkit as Express middleware (Express 4 and 5, or anything connect-style):
// app.use('/2fa', otpkitExpress({ service, currentUser })). It imports nothing
// from Express: it reads the Node request Express hands it, and answers
// through the one handler, so the JSON, statuses, headers and cookies are the
// Fastify host's, byte for byte.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerError, HttpError } from './errors.js';
import {
  BODY_LIMIT_BYTES,
  clientAddress,
  createHandler,
  type HandlerOptions,
  type HttpResponse,
  splitTarget,
} from './handler.js';

/** What otpkit reads of an Express request (all optional: a plain Node request works too). */
type ExpressRequest = IncomingMessage & {
  /** Express: the client address under the app's `trust proxy` setting. */
  ip?: string;
  /** Express: whether the request came over HTTPS, under `trust proxy`. */
  secure?: boolean;
  /** A body express.json() (body-parser) already parsed. */
  body?: unknown;
  /** body-parser 1 (Express 4) sets this when it parsed the body. */
  _body?: boolean;
};
type Next = (error?: unknown) => void;

type OtpkitExpressOptions = HandlerOptions<ExpressRequest>;

/** The raw body, read up to the limit (one byte past it is enough to refuse it). */
function readBody(request: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT_BYTES) {
        request.removeAllListeners('data');
        request.resume();
        reject(new HttpError('BODY_TOO_LARGE', 'the request body is too large'));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function write(response: ServerResponse, answer: HttpResponse): void {
  response.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  response.end(answer.body);
}

function otpkitExpress(options: OtpkitExpressOptions) {
  const handler = createHandler(options);
  return function otpkit(request: ExpressRequest, response: ServerResponse, next: Next): void {
    // Express strips the mount path from req.url and keeps it in req.baseUrl.
    const mountPath = (request as { baseUrl?: string }).baseUrl ?? '';
    const { path, query } = splitTarget(request.url ?? '/');
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const base = {
      method: request.method ?? 'GET',
      path,
      query,
      headers,
      ip: clientAddress(request.ip, request.socket.remoteAddress),
      secure: request.secure ?? false,
      native: request,
    };
    // A body parser before us (express.json()) has read the stream: take what it parsed.
    // body-parser 1 (Express 4) marks that with _body; 2 (Express 5) leaves the stream ended.
    const parsed = request._body === true || request.readableEnded;
    const body = async () => (parsed ? { parsed: request.body } : { raw: await readBody(request) });
    body()
      .then((b) => handler.handle({ ...base, body: b }, mountPath))
      .then((answer) => (answer ? write(response, answer) : next()))
      .catch((error: unknown) => {
        // A body over the limit (the one error reading it can be ours to answer); anything else is the app's.
        if (!(error instanceof HttpError)) return next(error);
        const answer = answerError(error);
        write(response, { ...answer, headers: { ...answer.headers, connection: 'close' } });
      });
  };
}

export type { ExpressRequest, OtpkitExpressOptions };
export { otpkitExpress };
