// PostgreSQL faults: which driver and server errors mean the database is out
// of reach now (DatabaseUnavailable, HTTP 503) rather than that a statement is wrong.

// Socket errors that mean the server is out of reach, in words of our own.
const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection lost',
  ECONNABORTED: 'connection lost',
  EPIPE: 'connection lost',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

// SQLSTATEs (PostgreSQL's Appendix A) that mean the server cannot serve us
// now; class 08 (connection exception) is matched whole.
const UNAVAILABLE_STATES: Readonly<Record<string, string>> = {
  '57P01': 'the server ended the connection (admin_shutdown)',
  '57P02': 'the server ended the connection (crash_shutdown)',
  '57P03': 'the server is not accepting connections yet (cannot_connect_now)',
  '57014': 'the statement was canceled (statement_timeout)',
  '53300': 'the server has no connection slot left (too_many_connections)',
  '28000': 'the server refused the credentials (invalid_authorization_specification)',
  '28P01': 'the server refused the credentials (invalid_password)',
  '3D000': 'the database does not exist (invalid_catalog_name)',
};

interface Timeouts {
  connectMs: number;
  queryMs: number;
}

/**
 * What went wrong, from the lists above, when an error means the database is
 * out of reach or did not answer in time; undefined for any other error.
 * node-postgres reports its own timeouts and lost connections as plain
 * Errors, told apart only by their (fixed) messages.
 */
function unavailability(error: unknown, timeouts: Timeouts): string | undefined {
  if (!(error instanceof Error)) return undefined;
  // Node's connect to a name with several addresses fails with all their errors.
  if (error instanceof AggregateError && error.errors.length > 0) return unavailability(error.errors[0], timeouts);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    const reason = SOCKET_ERRORS[code] ?? UNAVAILABLE_STATES[code];
    if (reason !== undefined) return reason;
    if (code.startsWith('08')) return `connection failure (SQLSTATE ${code})`;
  }
  const { message } = error;
  if (
    message === 'timeout expired' ||
    message === 'timeout exceeded when trying to connect' ||
    message.startsWith('Connection terminated due to connection timeout')
  )
    return `no connection within ${timeouts.connectMs} ms`;
  if (message === 'Query read timeout') return `no answer within ${timeouts.queryMs} ms`;
  if (message.startsWith('Connection terminated') || message.startsWith('Client has encountered a connection error'))
    return 'connection lost';
  if (message === 'Client was closed and is not queryable' || message.startsWith('Cannot use a pool after calling end'))
    return 'the connection pool is closed';
  return undefined;
}

/** Where the database is, for messages: host, port and database name; never the user or password. */
function describe(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.searchParams.get('host') || parsed.hostname || 'localhost';
    const database = decodeURIComponent(parsed.pathname.slice(1));
    return `PostgreSQL at ${host}:${parsed.port || '5432'}${database ? `/${database}` : ''}`;
  } catch {
    return 'PostgreSQL';
  }
}

export type { Timeouts };
export { describe, unavailability };
