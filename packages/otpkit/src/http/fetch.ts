// otpkit as a Fetch-standard handler, (request: Request) => Promise<Response>:
// what Hono, Next.js route handlers, Bun.serve and Deno.serve take as they are.
// It answers through the one handler, so the JSON, statuses, headers and
// cookies are the Fastify host's, byte for byte.

import { answerError, HttpError } from './errors.js';
import {
  BODY_LIMIT_BYTES,
  clientAddress,
  createHandler,
  type HandlerOptions,
  type HttpResponse,
  notFound,
} from './handler.js';

interface OtpkitFetchOptions extends HandlerOptions<Request> {
  /** Where the handler is mounted, e.g. '/2fa' or '/api/otpkit'; requests outside it are 404. */
  basePath?: string;
  /**
   * The client's address, for the per-client throttle: a Request does not
   * carry it. Bun: `server.requestIP(request)?.address`; Deno: the handler's
   * `info.remoteAddr.hostname`; behind your proxy, its header. Omitted or
   * null: that request is not throttled per client (account limits still hold).
   */
  clientIp?(request: Request): string | null | undefined;
}

async function readBody(request: Request): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > BODY_LIMIT_BYTES) throw new HttpError('BODY_TOO_LARGE', 'the request body is too large');
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.length > BODY_LIMIT_BYTES) throw new HttpError('BODY_TOO_LARGE', 'the request body is too large');
  return bytes;
}

function toResponse(answer: HttpResponse): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return new Response(answer.body ?? null, { status: answer.status, headers });
}

function otpkitFetch(options: OtpkitFetchOptions): (request: Request) => Promise<Response> {
  const handler = createHandler(options);
  const basePath = (options.basePath ?? '').replace(/\/$/, '');
  return async (request) => {
    const url = new URL(request.url);
    if (basePath !== '' && !url.pathname.startsWith(`${basePath}/`)) return toResponse(notFound());
    const headers: Record<string, string | undefined> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    let raw: Uint8Array;
    try {
      raw = await readBody(request);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      return toResponse(answerError(error));
    }
    const answer = await handler.handle(
      {
        method: request.method,
        path: url.pathname.slice(basePath.length),
        query: url.search.slice(1),
        headers,
        body: { raw },
        ip: clientAddress(options.clientIp?.(request) ?? undefined, undefined),
        secure: url.protocol === 'https:',
        native: request,
      },
      basePath,
    );
    return toResponse(answer ?? notFound());
  };
}

export type { OtpkitFetchOptions };
export { otpkitFetch };
